//! Access to guest CPU state: registers by handle index and virtual memory.
//!
//! Decoders only see the [`Cpu`] trait, so the same code runs against QEMU
//! (`QemuCpu`, feature `qemu`) and against [`SnapshotCpu`], a CPU state
//! written down by hand or loaded from a test vector.

use osm_model::Model;
use osm_model::arch::Endian;
use std::fmt;

/// Guest pages are at least this large on every supported target. Reading
/// never crosses such a boundary in one request, because QEMU fails a whole
/// request when any page in it is unmapped.
pub const PAGE_SIZE: u64 = 0x1000;

/// Upper bound on one `read_mem` request, whatever buffer the caller passes:
/// a corrupt length argument must not make the tracer walk gigabytes.
pub const MAX_READ: usize = 1 << 20;

/// What the decoders need from a CPU.
pub trait Cpu {
    /// The value of the register with handle `index`, zero-extended to 64
    /// bits. Handle indices are the model's register indices
    /// (`Model::registers`, which `Expr::Reg` indexes). `None` when the
    /// register is unknown or cannot be read.
    fn reg(&self, index: u32) -> Option<u64>;

    /// Reads guest virtual memory at `addr` into `buf` and returns how many
    /// bytes, from the start, were readable. A short count means the byte at
    /// `addr + count` (or a later one in the same page) is not mapped.
    fn read_mem(&self, addr: u64, buf: &mut [u8]) -> usize;

    /// The guest's clock for `timestamps=virtual`: instructions all vCPUs
    /// executed before the current one, where the CPU keeps that count.
    fn instructions(&self) -> Option<u64> {
        None
    }
}

impl<C: Cpu + ?Sized> Cpu for &C {
    fn reg(&self, index: u32) -> Option<u64> {
        (**self).reg(index)
    }
    fn read_mem(&self, addr: u64, buf: &mut [u8]) -> usize {
        (**self).read_mem(addr, buf)
    }
    fn instructions(&self) -> Option<u64> {
        (**self).instructions()
    }
}

/// Splits a read into requests that never cross a page boundary or the top
/// of the address space, and stops at the first that fails, so a string that
/// ends just before an unmapped page is still recovered. `read_chunk` fills
/// its whole buffer and returns true, or returns false.
pub fn read_paged(
    addr: u64,
    buf: &mut [u8],
    mut read_chunk: impl FnMut(u64, &mut [u8]) -> bool,
) -> usize {
    let want = buf.len().min(MAX_READ);
    let mut done = 0usize;
    while done < want {
        let Some(at) = addr.checked_add(done as u64) else {
            break;
        };
        let to_page_end = PAGE_SIZE - (at % PAGE_SIZE);
        let chunk = usize::try_from(to_page_end)
            .unwrap_or(usize::MAX)
            .min(want - done);
        // The last page of the address space: `at + chunk` may be 2^64,
        // which is fine, but nothing lies beyond it.
        if !read_chunk(at, &mut buf[done..done + chunk]) {
            break;
        }
        done += chunk;
    }
    done
}

/// Interprets a register's bytes, as QEMU gives them in target byte order,
/// as an unsigned value. Registers wider than 64 bits keep their low 64 bits
/// (the first bytes on little-endian targets, the last on big-endian ones).
#[inline]
pub fn value_from_target_bytes(bytes: &[u8], endian: Endian) -> u64 {
    // The common widths without a variable-length copy, which is a call
    // to memcpy on every register read.
    if let Ok(word) = <[u8; 8]>::try_from(bytes) {
        return match endian {
            Endian::Little => u64::from_le_bytes(word),
            Endian::Big => u64::from_be_bytes(word),
        };
    }
    if let Ok(word) = <[u8; 4]>::try_from(bytes) {
        return u64::from(match endian {
            Endian::Little => u32::from_le_bytes(word),
            Endian::Big => u32::from_be_bytes(word),
        });
    }
    let mut v = [0u8; 8];
    match endian {
        Endian::Little => {
            let k = bytes.len().min(8);
            v[..k].copy_from_slice(&bytes[..k]);
            u64::from_le_bytes(v)
        }
        Endian::Big => {
            let k = bytes.len().min(8);
            v[8 - k..].copy_from_slice(&bytes[bytes.len() - k..]);
            u64::from_be_bytes(v)
        }
    }
}

/// Register names a model needs that the running QEMU does not expose.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MissingRegisters {
    pub missing: Vec<String>,
    /// What the target does expose, to help fix the model.
    pub available: Vec<String>,
}

impl fmt::Display for MissingRegisters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "osmtrace: the model reads register{} {} that this QEMU target does not expose to plugins (available: {})",
            if self.missing.len() == 1 { "" } else { "s" },
            self.missing.join(", "),
            self.available.join(" ")
        )
    }
}

impl std::error::Error for MissingRegisters {}

/// Maps each wanted register name to its handle among `available`
/// (name, handle) pairs. Names match exactly, as QEMU's gdbstub spells them.
/// Every missing name is reported at once, so one run shows all mistakes.
pub fn resolve_registers<H: Copy>(
    wanted: &[&str],
    available: &[(String, H)],
) -> Result<Vec<H>, MissingRegisters> {
    let mut handles = Vec::with_capacity(wanted.len());
    let mut missing = Vec::new();
    for name in wanted {
        match available.iter().find(|(n, _)| n == name) {
            Some((_, h)) => handles.push(*h),
            None => missing.push((*name).to_string()),
        }
    }
    if missing.is_empty() {
        Ok(handles)
    } else {
        Err(MissingRegisters {
            missing,
            available: available.iter().map(|(n, _)| n.clone()).collect(),
        })
    }
}

/// A CPU state held in memory: registers by index (and name) and regions of
/// memory. Used to test decoders and models without QEMU.
#[derive(Clone, Debug, Default)]
pub struct SnapshotCpu {
    names: Vec<String>,
    regs: Vec<Option<u64>>,
    /// (start address, bytes); later regions shadow earlier ones.
    regions: Vec<(u64, Vec<u8>)>,
}

impl SnapshotCpu {
    pub fn new() -> Self {
        Self::default()
    }

    /// A CPU whose register indices are the model's, so names resolve the
    /// way `Expr::Reg` does.
    pub fn for_model(model: &Model) -> Self {
        Self::with_names(model.registers.iter().map(|r| r.name.as_str()))
    }

    pub fn with_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        let names: Vec<String> = names.into_iter().map(str::to_string).collect();
        let regs = vec![None; names.len()];
        SnapshotCpu {
            names,
            regs,
            regions: Vec::new(),
        }
    }

    /// Sets register `index`, growing the register file if needed.
    pub fn set_reg(&mut self, index: u32, value: u64) -> &mut Self {
        let i = index as usize;
        if self.regs.len() <= i {
            self.regs.resize(i + 1, None);
        }
        self.regs[i] = Some(value);
        self
    }

    /// Sets a register by name; an unknown name is an error naming the
    /// registers this CPU has, since it is almost always a typo in a test.
    pub fn set_reg_named(&mut self, name: &str, value: u64) -> Result<&mut Self, String> {
        match self.names.iter().position(|n| n == name) {
            Some(i) => Ok(self.set_reg(i as u32, value)),
            None => Err(format!(
                "no register '{name}' (registers: {})",
                self.names.join(" ")
            )),
        }
    }

    pub fn reg_index(&self, name: &str) -> Option<u32> {
        self.names.iter().position(|n| n == name).map(|i| i as u32)
    }

    /// Maps `bytes` at `addr`.
    pub fn map(&mut self, addr: u64, bytes: impl Into<Vec<u8>>) -> &mut Self {
        self.regions.push((addr, bytes.into()));
        self
    }

    /// Maps an unsigned value of `size` bytes (1..=8) at `addr`.
    pub fn map_uint(&mut self, addr: u64, value: u64, size: usize, endian: Endian) -> &mut Self {
        let size = size.clamp(1, 8);
        let bytes = match endian {
            Endian::Little => value.to_le_bytes()[..size].to_vec(),
            Endian::Big => value.to_be_bytes()[8 - size..].to_vec(),
        };
        self.map(addr, bytes)
    }

    /// The bytes readable at `addr` up to where a newer region starts
    /// shadowing them.
    fn readable_at(&self, addr: u64) -> Option<&[u8]> {
        let (index, bytes) =
            self.regions
                .iter()
                .enumerate()
                .rev()
                .find_map(|(i, (start, bytes))| {
                    let off = usize::try_from(addr.checked_sub(*start)?).ok()?;
                    (off < bytes.len()).then(|| (i, &bytes[off..]))
                })?;
        let mut len = bytes.len();
        for (start, _) in &self.regions[index + 1..] {
            if let Some(gap) = start.checked_sub(addr).filter(|&g| g > 0) {
                len = len.min(usize::try_from(gap).unwrap_or(usize::MAX));
            }
        }
        Some(&bytes[..len])
    }
}

impl Cpu for SnapshotCpu {
    fn reg(&self, index: u32) -> Option<u64> {
        self.regs.get(index as usize).copied().flatten()
    }

    fn read_mem(&self, addr: u64, buf: &mut [u8]) -> usize {
        let want = buf.len().min(MAX_READ);
        let mut done = 0;
        while done < want {
            let Some(at) = addr.checked_add(done as u64) else {
                break;
            };
            let Some(bytes) = self.readable_at(at) else {
                break;
            };
            let n = bytes.len().min(want - done);
            buf[done..done + n].copy_from_slice(&bytes[..n]);
            done += n;
        }
        done
    }
}

#[cfg(feature = "qemu")]
pub use crate::qemu::QemuCpu;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_registers_by_index_and_name() {
        let mut cpu = SnapshotCpu::with_names(["rax", "rdi"]);
        cpu.set_reg_named("rdi", 7).unwrap();
        assert_eq!(cpu.reg(1), Some(7));
        assert_eq!(cpu.reg(0), None);
        assert_eq!(cpu.reg(9), None);
        let err = cpu.set_reg_named("rbx", 1).unwrap_err();
        assert!(err.contains("rbx") && err.contains("rax rdi"), "{err}");
        cpu.set_reg(5, 3);
        assert_eq!(cpu.reg(5), Some(3));
        assert_eq!(cpu.reg_index("rax"), Some(0));
    }

    #[test]
    fn snapshot_memory_reads_stop_at_holes() {
        let mut cpu = SnapshotCpu::new();
        cpu.map(0x1000, b"abcd".to_vec())
            .map(0x1004, b"ef".to_vec());
        let mut buf = [0u8; 10];
        assert_eq!(cpu.read_mem(0x1001, &mut buf), 5);
        assert_eq!(&buf[..5], b"bcdef");
        assert_eq!(cpu.read_mem(0x0fff, &mut buf), 0);
        assert_eq!(cpu.read_mem(0x1006, &mut buf), 0);
        // Later regions shadow earlier ones.
        cpu.map(0x1002, b"X".to_vec());
        assert_eq!(cpu.read_mem(0x1000, &mut buf[..4]), 4);
        assert_eq!(&buf[..4], b"abXd");
    }

    #[test]
    fn snapshot_memory_at_top_of_address_space() {
        let mut cpu = SnapshotCpu::new();
        cpu.map(u64::MAX - 1, vec![1, 2]);
        let mut buf = [0u8; 4];
        assert_eq!(cpu.read_mem(u64::MAX - 1, &mut buf), 2);
        assert_eq!(cpu.read_mem(u64::MAX, &mut buf), 1);
        assert_eq!(buf[0], 2);
    }

    #[test]
    fn map_uint_respects_endianness() {
        let mut cpu = SnapshotCpu::new();
        cpu.map_uint(0, 0x0102_0304, 4, Endian::Little)
            .map_uint(8, 0x0102_0304, 4, Endian::Big);
        let mut buf = [0u8; 4];
        cpu.read_mem(0, &mut buf);
        assert_eq!(buf, [4, 3, 2, 1]);
        cpu.read_mem(8, &mut buf);
        assert_eq!(buf, [1, 2, 3, 4]);
    }

    #[test]
    fn paged_reads_never_cross_a_page() {
        let mut calls = Vec::new();
        let mut buf = vec![0u8; 0x2100];
        let n = read_paged(0x0ff0, &mut buf, |a, chunk| {
            calls.push((a, chunk.len()));
            chunk.fill(0xaa);
            true
        });
        assert_eq!(n, 0x2100);
        assert_eq!(
            calls,
            vec![
                (0x0ff0, 0x10),
                (0x1000, 0x1000),
                (0x2000, 0x1000),
                (0x3000, 0xf0)
            ]
        );
        for (a, len) in calls {
            assert_eq!(a / PAGE_SIZE, (a + len as u64 - 1) / PAGE_SIZE);
        }
    }

    #[test]
    fn paged_reads_keep_the_readable_prefix() {
        let mut buf = [0u8; 0x20];
        let n = read_paged(0x1ff8, &mut buf, |a, chunk| {
            chunk.fill(1);
            a < 0x2000
        });
        assert_eq!(n, 8);
        assert_eq!(read_paged(0x1ff8, &mut [], |_, _| true), 0);
    }

    #[test]
    fn paged_reads_are_bounded_and_stop_at_the_top() {
        let mut big = vec![0u8; MAX_READ + 100];
        assert_eq!(read_paged(0, &mut big, |_, _| true), MAX_READ);
        let mut buf = [0u8; 32];
        assert_eq!(read_paged(u64::MAX - 3, &mut buf, |_, _| true), 4);
    }

    #[test]
    fn target_bytes_to_values() {
        assert_eq!(value_from_target_bytes(&[1, 2], Endian::Little), 0x0201);
        assert_eq!(value_from_target_bytes(&[1, 2], Endian::Big), 0x0102);
        let wide: Vec<u8> = (1..=16).collect();
        assert_eq!(
            value_from_target_bytes(&wide, Endian::Little),
            0x0807_0605_0403_0201
        );
        assert_eq!(
            value_from_target_bytes(&wide, Endian::Big),
            0x090a_0b0c_0d0e_0f10
        );
        assert_eq!(value_from_target_bytes(&[], Endian::Big), 0);
        let (word, half) = (&wide[..8], &wide[..4]);
        assert_eq!(
            value_from_target_bytes(word, Endian::Little),
            0x0807_0605_0403_0201
        );
        assert_eq!(
            value_from_target_bytes(word, Endian::Big),
            0x0102_0304_0506_0708
        );
        assert_eq!(value_from_target_bytes(half, Endian::Little), 0x0403_0201);
        assert_eq!(value_from_target_bytes(half, Endian::Big), 0x0102_0304);
    }

    #[test]
    fn resolving_registers_reports_every_missing_name() {
        let avail = vec![("rax".to_string(), 1usize), ("rdi".to_string(), 6)];
        assert_eq!(resolve_registers(&["rdi", "rax"], &avail), Ok(vec![6, 1]));
        let err = resolve_registers(&["rax", "TTBR0", "lr"], &avail).unwrap_err();
        assert_eq!(err.missing, vec!["TTBR0", "lr"]);
        let msg = err.to_string();
        assert!(
            msg.contains("TTBR0, lr") && msg.contains("rax rdi"),
            "{msg}"
        );
    }
}
