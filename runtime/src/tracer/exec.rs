//! What a successful exec ends besides its own call: the kernel kills the
//! process's other threads before the new image starts, and when a thread
//! other than the leader called, it takes the leader's id. strace shows
//! it as its ptrace stops report it: the other threads' calls ending
//! `<... read resumed> <unfinished ...>) = ?`, each of those threads but
//! the leader `+++ exited with 0 +++`, then the leader's `+++ superseded
//! by execve in pid 90 +++` and the exec's return under the leader's id.

use super::{Pending, Tracer};
use crate::format::{Event, EventKind};
use crate::os::{Backend, Cpu};
use crate::pending::PendingKey;
use crate::task::TaskNames;

impl<B: Backend> Tracer<B> {
    /// The exec `pending` returned successfully, at `ts`: its process's
    /// other threads end as strace shows it, and the exec returns as the
    /// leader (its task's tid becomes the process's id). Known by the
    /// guest's names only.
    #[cold]
    #[inline(never)]
    pub(super) fn exec_replaced<C: Cpu + ?Sized>(
        &self,
        vcpu: u32,
        pending: &mut Pending,
        ts: u64,
        cpu: &C,
    ) {
        let (Some(n), Some(task)) = (&self.names, pending.names) else {
            return;
        };
        let in_calls = self.finish_process(vcpu, task.pid, Some(task.tid), ts);
        let known = n.exec_replaced(&task, pending.entry.process);
        let old_image = PendingKey {
            thread: 0,
            process: pending.entry.process,
            resume: 0,
        };
        let exited = Event {
            ts: Some(ts),
            ..self.notice(EventKind::Exited, vcpu, &old_image, None, cpu)
        };
        let leader = self.notice_each_thread(in_calls, known, task.tid, &exited);
        if task.tid == task.pid {
            return;
        }
        let (thread, leader_names) = leader.unwrap_or((
            (0, pending.entry.process),
            TaskNames {
                tid: task.pid,
                ..task
            },
        ));
        self.emit(&Event {
            kind: EventKind::Superseded,
            thread: thread.0,
            process: thread.1,
            nr: task.tid as u64,
            task: Some(leader_names),
            ..exited
        });
        pending.names = Some(TaskNames {
            tid: task.pid,
            ..task
        });
    }
}
