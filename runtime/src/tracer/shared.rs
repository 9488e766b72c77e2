//! Calls whose return only the returning task tells, counted while any is
//! pending: calls of different tasks with one identity (MIPS's forked
//! processes, whose stack pointers are the same), execs (whose return
//! into the new image has none of the call's identity) and forks until
//! their child returns (with all of it). The model's return probes read
//! the returning task only then.

use std::sync::atomic::{AtomicUsize, Ordering};

/// How many such calls are pending. The count lives as long as the
/// process (a few bytes per tracer made): a mark is then one pointer, and
/// dropping a call stays cheap where it has none.
#[derive(Debug)]
pub(super) struct SharedCalls(&'static AtomicUsize);

impl Default for SharedCalls {
    fn default() -> Self {
        SharedCalls(Box::leak(Box::new(AtomicUsize::new(0))))
    }
}

impl SharedCalls {
    pub(super) fn any(&self) -> bool {
        self.0.load(Ordering::Relaxed) != 0
    }

    /// A mark for such a call: counted until the call, and the mark with
    /// it, is dropped.
    pub(super) fn mark(&self) -> SharedMark {
        self.0.fetch_add(1, Ordering::Relaxed);
        SharedMark(self.0)
    }
}

/// Held by a pending call whose return only the returning task tells.
#[derive(Debug)]
pub(super) struct SharedMark(&'static AtomicUsize);

impl Clone for SharedMark {
    fn clone(&self) -> Self {
        self.0.fetch_add(1, Ordering::Relaxed);
        SharedMark(self.0)
    }
}

impl Drop for SharedMark {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_marks_until_they_are_dropped() {
        let shared = SharedCalls::default();
        assert!(!shared.any());
        let a = shared.mark();
        let b = a.clone();
        drop(a);
        assert!(shared.any());
        drop(b);
        assert!(!shared.any());
    }
}
