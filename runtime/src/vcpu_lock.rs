//! The lock around one vCPU's own state (its pending calls, raw records,
//! names cache, queued events): taken by that vCPU at every call, by
//! others now and then, and held briefly (the one wait under it, a full
//! chunk of raw records handed to the log's writer, stalls only that vCPU).
//!
//! A spin lock released by a plain store, where the standard mutex
//! releases with an atomic exchange (it must know whether to wake a
//! sleeper), and under QEMU every locked instruction waits for the stores
//! the vCPU made before it. A waiter yields its thread rather than sleeping.

/// A vCPU's lock.
pub type VcpuLock<T> = spin::mutex::SpinMutex<T, spin::relax::Yield>;

/// A held [`VcpuLock`].
pub type VcpuGuard<'a, T> = spin::mutex::SpinMutexGuard<'a, T, spin::relax::Yield>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// Threads taking one lock in turn lose no update.
    #[test]
    fn excludes_other_threads() {
        let lock = Arc::new(VcpuLock::new(0u64));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let lock = Arc::clone(&lock);
                std::thread::spawn(move || {
                    for _ in 0..100_000 {
                        *lock.lock() += 1;
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(*lock.lock(), 400_000);
    }
}
