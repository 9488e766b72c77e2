//! One order for the events of several vCPUs, without a lock that every
//! event takes.
//!
//! One output lock taken by every event moves the lock, the formatter's
//! state and the end of the output buffer between host cores on every
//! event. So each vCPU keeps its events in a queue of its own, and the
//! events of all queues are put in order only now and then, a batch at a
//! time ([`Queues::drain`]).
//!
//! The order is a sequence number each event takes from one counter when it
//! enters its queue, under that queue's lock. A drain locks the queues one
//! after the other; an event that enters a queue after the drain let go of
//! it takes a number at least as large as the counter was when the drain
//! held that queue, so every event numbered below the counter's value at
//! the first queue is in hand, and those are placed, in order. Later ones
//! wait for the next drain. The counter is the one cache line all vCPUs
//! still write per event.

use crate::format::Placed;
use crate::vcpu_lock::VcpuLock;
use crossbeam_utils::CachePadded;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};

/// A queue this long makes its vCPU drain the queues.
const DRAIN_AT_EVENTS: usize = 512;
/// Or this much text.
const DRAIN_AT_BYTES: usize = 64 << 10;

/// An event in a queue, with its name and text in the queue's text.
#[derive(Clone, Debug)]
struct Queued {
    seq: u64,
    /// With an empty name: the name is in the text.
    placed: Placed<'static>,
    /// Counted as a reported exit when placed.
    reported_exit: bool,
    name: Range<usize>,
    text: Range<usize>,
}

impl Queued {
    /// Its text moved from `old` to `new` in the batch's text.
    fn rebase(&mut self, old: usize, new: usize) {
        self.name = self.name.start - old + new..self.name.end - old + new;
        self.text = self.text.start - old + new..self.text.end - old + new;
    }
}

/// Events, and the text they point into.
#[derive(Debug, Default)]
pub struct Batch {
    events: Vec<Queued>,
    text: String,
    /// Events before this one are placed.
    next: usize,
}

impl Batch {
    fn is_done(&self) -> bool {
        self.next >= self.events.len()
    }

    fn clear(&mut self) {
        self.events.clear();
        self.text.clear();
        self.next = 0;
    }

    /// Lets go of the placed events and moves `other`'s events after the
    /// rest. A drain may leave some events for the next one every time, so
    /// the placed ones must go here: kept, they added up to the whole trace.
    fn take_from(&mut self, other: &mut Batch) {
        if self.is_done() {
            self.clear();
            std::mem::swap(self, other);
            return;
        }
        // An event's name and text follow the earlier events' in `text`.
        let kept = self.events[self.next].name.start;
        self.events.drain(..self.next);
        self.next = 0;
        self.text.drain(..kept);
        let shift = self.text.len();
        self.text.push_str(&other.text);
        for e in &mut self.events {
            e.rebase(kept, 0);
        }
        self.events.extend(other.events.drain(..).map(|mut e| {
            e.rebase(0, shift);
            e
        }));
        other.clear();
    }

    fn placed(&self, event: &Queued) -> Placed<'_> {
        Placed {
            name: &self.text[event.name.clone()],
            ..event.placed
        }
    }
}

/// Each vCPU's queue, and the counter that orders them.
#[derive(Debug)]
pub struct Queues {
    /// On cache lines of its own, as each queue is, so that vCPUs taking
    /// numbers do not slow each other's queues.
    seq: CachePadded<AtomicU64>,
    queues: Vec<CachePadded<VcpuLock<Batch>>>,
}

/// Drained events not yet placed, one batch per queue: kept by whoever
/// holds the output (under its lock), between drains.
#[derive(Debug, Default)]
pub struct Drained {
    batches: Vec<Batch>,
}

impl Queues {
    pub fn new(queues: usize) -> Self {
        Queues {
            seq: CachePadded::new(AtomicU64::new(0)),
            queues: (0..queues.max(1)).map(|_| CachePadded::default()).collect(),
        }
    }

    /// Queues an event of the vCPU whose queue is `queue`, with the text
    /// `write` appends (straight into the queue: the queue's lock is its
    /// vCPU's but for a drain now and then). Returns whether the queue is
    /// long enough to drain now.
    pub fn push(
        &self,
        queue: usize,
        event: &Placed<'_>,
        reported_exit: bool,
        write: impl FnOnce(&mut String),
    ) -> bool {
        let mut batch = self.queues[queue % self.queues.len()].lock();
        // Under the queue's lock, so that a drain holding it knows every
        // later event of this queue comes after it (see the module's
        // comment). Relaxed: the lock orders the two.
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let start = batch.text.len();
        batch.text.push_str(event.name);
        let name = start..batch.text.len();
        write(&mut batch.text);
        let text = name.end..batch.text.len();
        batch.events.push(Queued {
            seq,
            placed: Placed { name: "", ..*event },
            reported_exit,
            name,
            text,
        });
        batch.events.len() >= DRAIN_AT_EVENTS || batch.text.len() >= DRAIN_AT_BYTES
    }

    /// Takes every queue's events into `drained` and passes those that are
    /// certainly next, in order, to `place` (with whether each is a
    /// reported exit); with `all`, every event (at the end of the trace,
    /// when no vCPU adds any more).
    pub fn drain(
        &self,
        drained: &mut Drained,
        all: bool,
        mut place: impl FnMut(&Placed<'_>, &str, bool),
    ) {
        self.drain_numbered(drained, all, |_, event, text, reported_exit| {
            place(event, text, reported_exit)
        });
    }

    /// [`Queues::drain`], with each event's number.
    fn drain_numbered(
        &self,
        drained: &mut Drained,
        all: bool,
        mut place: impl FnMut(u64, &Placed<'_>, &str, bool),
    ) {
        drained
            .batches
            .resize_with(self.queues.len(), Batch::default);
        let mut below = u64::MAX;
        for (queue, batch) in self.queues.iter().zip(&mut drained.batches) {
            let mut queued = queue.lock();
            if below == u64::MAX && !all {
                below = self.seq.load(Ordering::Relaxed);
            }
            batch.take_from(&mut queued);
        }
        // Few queues (one per vCPU): the next event is found by looking
        // at the head of each.
        loop {
            let next = drained
                .batches
                .iter()
                .enumerate()
                .filter(|(_, b)| !b.is_done())
                .map(|(i, b)| (b.events[b.next].seq, i))
                .min();
            let Some((seq, i)) = next else {
                break;
            };
            if seq >= below {
                break;
            }
            let batch = &mut drained.batches[i];
            let event = &batch.events[batch.next];
            place(
                seq,
                &batch.placed(event),
                &batch.text[event.text.clone()],
                event.reported_exit,
            );
            batch.next += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::EventKind;

    fn event(nr: u64, name: &str) -> Placed<'_> {
        Placed {
            kind: EventKind::Entry,
            thread: nr,
            process: 1,
            tid: None,
            nr,
            entered_as: None,
            ts: None,
            name,
            more: false,
            comma: false,
        }
    }

    fn drain(queues: &Queues, drained: &mut Drained, all: bool) -> Vec<String> {
        let mut out = Vec::new();
        queues.drain(drained, all, |ev, text, _| {
            out.push(format!("{}:{text}", ev.name))
        });
        out
    }

    #[test]
    fn events_of_all_queues_come_out_in_the_order_they_were_queued() {
        let queues = Queues::new(3);
        let mut drained = Drained::default();
        let order = [(2, "a"), (0, "b"), (2, "c"), (1, "d"), (0, "e")];
        for (queue, name) in order {
            queues.push(queue, &event(queue as u64, name), false, |t| {
                t.push_str("text")
            });
        }
        assert_eq!(
            drain(&queues, &mut drained, false),
            ["a:text", "b:text", "c:text", "d:text", "e:text"]
        );
        assert!(drain(&queues, &mut drained, true).is_empty());
    }

    /// vCPU threads queueing while another thread drains: every event is
    /// placed once, and in the order of the numbers they took, which a
    /// drain that placed what it had in hand without its bound breaks
    /// (an event that entered an already passed queue comes out after a
    /// later one from a queue passed after it).
    #[test]
    fn concurrent_queueing_and_draining_keeps_the_order() {
        const THREADS: usize = 4;
        const EACH: usize = 20_000;
        let queues = Queues::new(THREADS);
        let done = std::sync::atomic::AtomicUsize::new(0);
        let mut order = Vec::new();
        let mut drained = Drained::default();
        std::thread::scope(|s| {
            for t in 0..THREADS {
                let (queues, done) = (&queues, &done);
                s.spawn(move || {
                    for i in 0..EACH {
                        queues.push(t, &event(i as u64, "n"), false, |_| {});
                    }
                    done.fetch_add(1, Ordering::SeqCst);
                });
            }
            while done.load(Ordering::SeqCst) < THREADS {
                queues.drain_numbered(&mut drained, false, |seq, _, _, _| order.push(seq));
            }
        });
        queues.drain_numbered(&mut drained, true, |seq, _, _, _| order.push(seq));
        assert_eq!(order.len(), THREADS * EACH);
        let misplaced = order.windows(2).filter(|w| w[0] >= w[1]).count();
        assert_eq!(misplaced, 0, "events placed out of order");
    }

    #[test]
    fn a_long_queue_asks_for_a_drain() {
        let queues = Queues::new(1);
        let full = (0..DRAIN_AT_EVENTS)
            .map(|i| queues.push(0, &event(i as u64, "n"), false, |_| {}))
            .collect::<Vec<_>>();
        assert!(!full[..DRAIN_AT_EVENTS - 1].iter().any(|&f| f));
        assert!(full[DRAIN_AT_EVENTS - 1]);
    }

    /// A batch a drain never empties (each drain leaves an event for the
    /// next) holds only what is not placed, not everything since it began.
    #[test]
    fn a_batch_lets_go_of_placed_events() {
        let mut kept = Batch::default();
        for seq in 0..1000u64 {
            let mut more = Batch::default();
            more.text.push_str("name");
            more.text.push_str(&seq.to_string());
            more.events.push(Queued {
                seq,
                placed: event(0, ""),
                reported_exit: false,
                name: 0..4,
                text: 4..more.text.len(),
            });
            kept.take_from(&mut more);
            // Everything but the newest event is placed.
            kept.next = kept.events.len() - 1;
        }
        // The last drain's leftover (placed since) and the newest event.
        assert_eq!(kept.events.len(), 2);
        assert_eq!(kept.text, "name998name999");
        let last = &kept.events[1];
        assert_eq!(kept.placed(last).name, "name");
        assert_eq!(&kept.text[last.text.clone()], "999");
    }

    #[test]
    fn events_left_from_a_drain_keep_their_text_when_more_arrive() {
        let mut kept = Batch::default();
        let mut more = Batch::default();
        for (batch, name, text, seq) in [(&mut kept, "old", "x", 0), (&mut more, "new", "yz", 1)] {
            batch.text.push_str(name);
            batch.text.push_str(text);
            batch.events.push(Queued {
                seq,
                placed: event(0, ""),
                reported_exit: true,
                name: 0..name.len(),
                text: name.len()..name.len() + text.len(),
            });
        }
        kept.take_from(&mut more);
        let shown: Vec<(String, String)> = kept
            .events
            .iter()
            .map(|e| {
                (
                    kept.placed(e).name.to_string(),
                    kept.text[e.text.clone()].to_string(),
                )
            })
            .collect();
        assert_eq!(
            shown,
            [("old".into(), "x".into()), ("new".into(), "yz".into())]
        );
        assert!(more.events.is_empty() && more.text.is_empty());
    }
}
