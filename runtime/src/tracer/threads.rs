//! The threads known alive, by the guest's ids: each is noted when its
//! names are read from the guest (its first call, or after something may
//! have changed them) and forgotten when it or its process ends, so that a
//! process's end has a line for each of its threads, as strace shows it,
//! also for a thread that was not in a call then; and which register
//! identities several of them call with at once.

use crate::task::TaskNames;
use std::collections::HashMap;
use std::sync::Mutex;

/// Threads kept at most; past it the half least recently noted go (a
/// thread whose end was not seen, one an exec replaced, cannot stay).
const MAX_THREADS: usize = 8192;

/// A thread: its register identity (thread, process) and its names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Thread {
    pub key: (u64, u64),
    pub names: TaskNames,
}

#[derive(Default)]
struct Known {
    /// By thread id: the thread and when it was last noted.
    threads: HashMap<i64, (Thread, u64)>,
    /// By register identity: the thread last noted calling with it.
    by_key: HashMap<(u64, u64), i64>,
    noted: u64,
}

#[derive(Default)]
pub(super) struct LiveThreads {
    known: Mutex<Known>,
}

impl LiveThreads {
    fn known(&self) -> std::sync::MutexGuard<'_, Known> {
        self.known.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The thread calling as `key` has these names. Returns whether
    /// another thread known alive calls as `key` too (threads started
    /// without a TLS of their own, as Go's are on most architectures).
    pub(super) fn noted(&self, key: (u64, u64), names: TaskNames) -> bool {
        let mut known = self.known();
        known.noted += 1;
        let noted = known.noted;
        if known.threads.len() >= MAX_THREADS && !known.threads.contains_key(&names.tid) {
            let oldest_kept = noted.saturating_sub(MAX_THREADS as u64 / 2);
            known.threads.retain(|_, (_, at)| *at >= oldest_kept);
        }
        if known.by_key.len() >= 2 * MAX_THREADS {
            let Known {
                threads, by_key, ..
            } = &mut *known;
            by_key.retain(|key, tid| threads.get(tid).is_some_and(|(t, _)| t.key == *key));
        }
        known
            .threads
            .insert(names.tid, (Thread { key, names }, noted));
        let other = known.by_key.insert(key, names.tid);
        other.is_some_and(|tid| {
            tid != names.tid && known.threads.get(&tid).is_some_and(|(t, _)| t.key == key)
        })
    }

    /// Thread `tid` ended alone (exit).
    pub(super) fn thread_ended(&self, tid: i64) {
        self.known().threads.remove(&tid);
    }

    /// Process `pid` ended (exit_group, a fatal signal): its threads,
    /// which are forgotten, leader first.
    pub(super) fn process_ended(&self, pid: i64) -> Vec<Thread> {
        self.forget(|t| t.names.pid == pid)
    }

    /// An exec in process `pid` replaced the threads that ran in its
    /// address space `process`: those, forgotten, leader first. The new
    /// image's, noted already under another address space, stay.
    pub(super) fn image_replaced(&self, pid: i64, process: u64) -> Vec<Thread> {
        self.forget(|t| t.names.pid == pid && t.key.1 == process)
    }

    fn forget(&self, ends: impl Fn(&Thread) -> bool) -> Vec<Thread> {
        let mut known = self.known();
        let mut ended: Vec<(Thread, u64)> = Vec::new();
        known.threads.retain(|_, thread| {
            let ends = ends(&thread.0);
            if ends {
                ended.push(*thread);
            }
            !ends
        });
        ended.sort_by_key(|(t, at)| (t.names.tid != t.names.pid, *at));
        ended.into_iter().map(|(t, _)| t).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(tid: i64, pid: i64) -> TaskNames {
        TaskNames {
            tid,
            pid,
            ppid: Some(1),
            comm: None,
        }
    }

    #[test]
    fn a_process_ends_with_the_threads_not_ended_before() {
        let live = LiveThreads::default();
        live.noted((1, 9), names(11, 10));
        live.noted((2, 9), names(10, 10));
        live.noted((3, 9), names(12, 10));
        live.noted((4, 8), names(20, 20));
        live.thread_ended(12);
        let tids: Vec<i64> = live.process_ended(10).iter().map(|t| t.names.tid).collect();
        assert_eq!(tids, [10, 11]);
        assert!(live.process_ended(10).is_empty());
        assert_eq!(live.process_ended(20).len(), 1);
    }

    #[test]
    fn an_identity_two_live_threads_call_with_is_told() {
        let live = LiveThreads::default();
        assert!(!live.noted((0, 9), names(10, 10)));
        assert!(!live.noted((0, 9), names(10, 10)));
        assert!(live.noted((0, 9), names(11, 10)));
        // A thread that ended leaves its identity to the next.
        live.thread_ended(11);
        assert!(!live.noted((1, 9), names(10, 10)));
        assert!(!live.noted((0, 9), names(12, 10)));
        // A thread that moved to another identity (its own TLS) no longer
        // shares the old one.
        live.noted((5, 9), names(12, 10));
        assert!(!live.noted((0, 9), names(13, 10)));
    }

    #[test]
    fn the_least_recently_noted_go_first() {
        let live = LiveThreads::default();
        for tid in 0..MAX_THREADS as i64 + 1 {
            live.noted((tid as u64, 0), names(tid, tid));
        }
        assert!(live.process_ended(0).is_empty());
        assert_eq!(live.process_ended(MAX_THREADS as i64).len(), 1);
        assert!(live.known().threads.len() <= MAX_THREADS);
    }
}
