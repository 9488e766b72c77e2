//! Calls that have entered the kernel and not yet returned, for pairing an
//! exit with its entry.
//!
//! Exit instructions are shared with interrupt and fault returns, and a
//! blocked call may return long after other threads' calls, so an exit is
//! matched by what is stable across one call: the thread and process
//! identities and the user address the call returns to. The plan is one
//! table per vCPU, so there is no locking here.

use std::collections::VecDeque;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PendingKey {
    pub thread: u64,
    pub process: u64,
    /// The user address the call returns to.
    pub resume: u64,
}

/// A fixed-capacity table of pending calls. When full, inserting evicts the
/// oldest entry, so calls that never return (`exit`, a missed exit) cannot
/// make it grow; evictions are counted so a trace can say it lost some.
///
/// One key may be pending more than once: a signal handler that makes a
/// call through the very instruction the interrupted call used (both went
/// through libc's `syscall()`, say) has the same thread, process and
/// resume address, while the interrupted call waits for the handler's
/// `sigreturn`. Calls nest, so the newest entry of a key is the one that
/// returns first.
#[derive(Clone, Debug)]
pub struct PendingTable<T> {
    /// Oldest first. Allocated once at full capacity and never grown, so
    /// inserting and looking up do not allocate.
    entries: VecDeque<(PendingKey, T)>,
    capacity: usize,
    evictions: u64,
}

impl<T> PendingTable<T> {
    /// A table holding at most `capacity` calls (at least one).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        PendingTable {
            entries: VecDeque::with_capacity(capacity),
            capacity,
            evictions: 0,
        }
    }

    /// Records a call; returns the oldest entry if the table was full and
    /// it had to go, so the caller can count it.
    pub fn insert(&mut self, key: PendingKey, value: T) -> Option<(PendingKey, T)> {
        let evicted = if self.entries.len() >= self.capacity {
            self.evictions += 1;
            self.entries.pop_front()
        } else {
            None
        };
        self.entries.push_back((key, value));
        evicted
    }

    /// Removes and returns the newest call `key` identifies.
    pub fn take(&mut self, key: &PendingKey) -> Option<T> {
        self.take_newest(|k, _| k == key)
    }

    /// Removes and returns the newest call `pred` accepts.
    pub fn take_newest(&mut self, pred: impl FnMut(&PendingKey, &T) -> bool) -> Option<T> {
        let i = self.newest_position(pred)?;
        self.remove_at(i)
    }

    /// [`PendingTable::take_newest`], with the call's key.
    pub fn take_newest_keyed(
        &mut self,
        pred: impl FnMut(&PendingKey, &T) -> bool,
    ) -> Option<(PendingKey, T)> {
        let i = self.newest_position(pred)?;
        self.remove_entry(i)
    }

    /// Where the newest call `pred` accepts is, for [`PendingTable::at_mut`]
    /// and [`PendingTable::remove_at`]: one search where a caller looks at
    /// the call before it decides to take it.
    pub fn newest_position(&self, mut pred: impl FnMut(&PendingKey, &T) -> bool) -> Option<usize> {
        // Most often the newest: a call's exit comes before the next call.
        let (k, v) = self.entries.back()?;
        let newest = self.entries.len() - 1;
        if pred(k, v) {
            return Some(newest);
        }
        self.entries.range(..newest).rposition(|(k, v)| pred(k, v))
    }

    /// The call at `i` (from [`PendingTable::newest_position`]).
    pub fn at_mut(&mut self, i: usize) -> Option<&mut T> {
        self.entries.get_mut(i).map(|(_, v)| v)
    }

    /// Removes and returns the call at `i`.
    pub fn remove_at(&mut self, i: usize) -> Option<T> {
        self.remove_entry(i).map(|(_, v)| v)
    }

    /// The newest, most often: popped off the back without the general
    /// removal's shifting.
    fn remove_entry(&mut self, i: usize) -> Option<(PendingKey, T)> {
        if i + 1 == self.entries.len() {
            self.entries.pop_back()
        } else {
            self.entries.remove(i)
        }
    }

    /// The newest call `key` identifies.
    pub fn get(&self, key: &PendingKey) -> Option<&T> {
        self.position(key).map(|i| &self.entries[i].1)
    }

    /// The newest call `key` identifies, to update in place.
    pub fn get_mut(&mut self, key: &PendingKey) -> Option<&mut T> {
        self.position(key).map(|i| &mut self.entries[i].1)
    }

    /// Searches newest first: the exit that comes is most often the latest
    /// call's, and of nested calls with one key the newest returns first.
    fn position(&self, key: &PendingKey) -> Option<usize> {
        self.newest_position(|k, _| k == key)
    }

    /// Removes every entry `keep` rejects (say, a process's calls after it
    /// replaced its image), oldest first, handing each to `dropped`.
    pub fn retain(
        &mut self,
        mut keep: impl FnMut(&PendingKey, &T) -> bool,
        mut dropped: impl FnMut(PendingKey, T),
    ) {
        let mut i = 0;
        while i < self.entries.len() {
            let (k, v) = &self.entries[i];
            if keep(k, v) {
                i += 1;
            } else if let Some((k, v)) = self.entries.remove(i) {
                dropped(k, v);
            }
        }
    }

    /// Pending entries, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = (&PendingKey, &T)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    /// Pending entries, oldest first, to update in place.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&PendingKey, &mut T)> {
        self.entries.iter_mut().map(|(k, v)| (&*k, v))
    }

    /// Empties the table, oldest first (at the end of a trace, to report
    /// calls still in the kernel).
    pub fn drain(&mut self) -> impl Iterator<Item = (PendingKey, T)> + '_ {
        self.entries.drain(..)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Entries pushed out because the table was full.
    pub fn evictions(&self) -> u64 {
        self.evictions
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(thread: u64, resume: u64) -> PendingKey {
        PendingKey {
            thread,
            process: 0x1000,
            resume,
        }
    }

    #[test]
    fn pairs_exits_with_entries() {
        let mut t = PendingTable::new(4);
        assert!(t.is_empty());
        assert_eq!(t.insert(key(1, 0x40), "read"), None);
        assert_eq!(t.insert(key(2, 0x40), "write"), None);
        assert_eq!(t.get(&key(1, 0x40)), Some(&"read"));
        // Interleaved exits come back in any order.
        assert_eq!(t.take(&key(2, 0x40)), Some("write"));
        assert_eq!(t.take(&key(2, 0x40)), None);
        // Same thread, other return address: an interrupt return.
        assert_eq!(t.take(&key(1, 0x44)), None);
        let other_process = PendingKey {
            process: 0x2000,
            ..key(1, 0x40)
        };
        assert_eq!(t.take(&other_process), None);
        assert_eq!(t.take(&key(1, 0x40)), Some("read"));
        assert_eq!(t.len(), 0);
    }

    #[test]
    fn evicts_the_oldest_when_full() {
        let mut t = PendingTable::new(2);
        t.insert(key(1, 0), 1);
        t.insert(key(2, 0), 2);
        assert_eq!(t.insert(key(3, 0), 3), Some((key(1, 0), 1)));
        assert_eq!(t.insert(key(4, 0), 4), Some((key(2, 0), 2)));
        assert_eq!(t.evictions(), 2);
        assert_eq!(t.len(), 2);
        assert_eq!(t.capacity(), 2);
        assert_eq!(t.take(&key(1, 0)), None);
        assert_eq!(t.take(&key(4, 0)), Some(4));
    }

    /// A signal handler's call through the same instruction as the call it
    /// interrupted: the handler's returns first, the interrupted one stays.
    #[test]
    fn same_key_nests_and_the_newest_returns_first() {
        let mut t = PendingTable::new(4);
        t.insert(key(1, 0x40), "read");
        assert_eq!(t.insert(key(1, 0x40), "write"), None);
        assert_eq!(t.len(), 2);
        assert_eq!(t.get(&key(1, 0x40)), Some(&"write"));
        if let Some(v) = t.get_mut(&key(1, 0x40)) {
            *v = "write(1)";
        }
        assert_eq!(t.take(&key(1, 0x40)), Some("write(1)"));
        assert_eq!(t.take(&key(1, 0x40)), Some("read"));
        assert!(t.is_empty());
    }

    #[test]
    fn take_newest_and_update_in_place() {
        let mut t = PendingTable::new(4);
        for i in 0..3 {
            t.insert(key(i, 0x40 + i), i);
        }
        for (k, v) in t.iter_mut() {
            if k.thread == 1 {
                *v = 10;
            }
        }
        assert_eq!(t.take_newest(|k, _| k.resume == 0x41), Some(10));
        assert_eq!(t.take_newest(|_, v| *v < 5), Some(2));
        assert_eq!(t.take_newest(|k, _| k.thread == 9), None);
        let at = t.newest_position(|_, v| *v == 0);
        assert_eq!(at, Some(0));
        if let Some(v) = at.and_then(|i| t.at_mut(i)) {
            *v = 7;
        }
        assert_eq!(t.newest_position(|_, v| *v == 99), None);
        assert_eq!(t.take(&key(0, 0x40)), Some(7));
        assert_eq!(t.remove_at(0), None);
        assert!(t.is_empty());
    }

    #[test]
    fn capacity_is_at_least_one_and_never_grows() {
        let mut t = PendingTable::new(0);
        assert_eq!(t.capacity(), 1);
        for i in 0..1000 {
            t.insert(key(i % 3, 0), i);
        }
        assert_eq!(t.len(), 1);
        assert_eq!(t.evictions(), 999);
        assert!(t.entries.capacity() < 8);
    }

    #[test]
    fn retain_and_drain() {
        let mut t = PendingTable::new(8);
        for i in 0..5 {
            t.insert(key(i, 0), i);
        }
        let mut dropped = Vec::new();
        t.retain(|k, _| k.thread % 2 == 0, |k, v| dropped.push((k.thread, v)));
        assert_eq!(dropped, vec![(1, 1), (3, 3)]);
        let rest: Vec<u64> = t.drain().map(|(_, v)| v).collect();
        assert_eq!(rest, vec![0, 2, 4]);
        assert!(t.is_empty());
    }
}
