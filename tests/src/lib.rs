//! What tests and the in-process bench share beyond `tests/tests/common`:
//! a made-up kernel layout for the guest's names for tasks.

use osm_runtime::cpu::SnapshotCpu;
use osm_runtime::kernel::{Layout, Member, MemberTy};

/// A kernel with `task_struct` fields at small offsets, `current_task`
/// at per-CPU offset 0x100, `thread_info.task` (MIPS's) first, and no
/// `pcpu_hot` (a 6.1 kernel).
pub struct SmallKernel;

impl Layout for SmallKernel {
    fn describe(&self) -> String {
        "a small kernel".into()
    }

    fn member(&self, strukt: &str, field: &str) -> Option<Member> {
        let int = MemberTy::Int {
            bytes: 4,
            signed: true,
        };
        let (offset, ty) = match (strukt, field) {
            ("task_struct", "pid") => (0x10, int),
            ("task_struct", "tgid") => (0x14, int),
            ("task_struct", "real_parent") => (0x18, MemberTy::Ptr),
            ("thread_info", "task") => (0, MemberTy::Ptr),
            ("task_struct", "comm") => (
                0x20,
                MemberTy::Array {
                    elem: Box::new(MemberTy::Int {
                        bytes: 1,
                        signed: true,
                    }),
                    count: 16,
                },
            ),
            _ => return None,
        };
        Some(Member { offset, ty })
    }

    fn has_struct(&self, strukt: &str) -> bool {
        strukt == "task_struct" || strukt == "thread_info"
    }

    fn symbol(&self, name: &str) -> Option<u64> {
        (name == "current_task").then_some(0x100)
    }
}

/// A task of [`SmallKernel`] at `addr`: its ids, its parent's task and
/// its name, in `cpu`'s memory.
pub fn small_kernel_task(
    cpu: &mut SnapshotCpu,
    addr: u64,
    tid: i32,
    pid: i32,
    parent: u64,
    comm: &str,
) {
    let mut bytes = vec![0u8; 0x30];
    bytes[0x10..0x14].copy_from_slice(&tid.to_le_bytes());
    bytes[0x14..0x18].copy_from_slice(&pid.to_le_bytes());
    bytes[0x18..0x20].copy_from_slice(&parent.to_le_bytes());
    let comm = &comm.as_bytes()[..comm.len().min(15)];
    bytes[0x20..0x20 + comm.len()].copy_from_slice(comm);
    cpu.map(addr, bytes);
}
