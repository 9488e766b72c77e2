//! A call's memory, captured on the vCPU and decoded later: the capture
//! walk ([`crate::decode::capture_entry_args_into`]) reads guest memory
//! through a [`Recording`] CPU, which logs every read; decoding replays
//! the log through a [`Replay`] CPU. Both walks are the same code, so
//! decoding asks for the same reads in the same order and the log serves
//! them one after the other; a read it does not have (a model or options
//! not the capture's) reads nothing and is counted.

use crate::cpu::Cpu;
use std::cell::{Cell, RefCell};

/// Appends `value` as unsigned LEB128.
#[inline]
pub fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Reads an unsigned LEB128 value at `*pos`, moving past it.
pub fn get_varint(bytes: &[u8], pos: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *bytes.get(*pos)?;
        *pos += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// A CPU whose memory reads are appended to a log: address, bytes asked,
/// bytes read, and those bytes. Registers are the real CPU's.
pub struct Recording<'c, C: ?Sized> {
    cpu: &'c C,
    log: RefCell<&'c mut Vec<u8>>,
}

impl<'c, C: Cpu + ?Sized> Recording<'c, C> {
    pub fn new(cpu: &'c C, log: &'c mut Vec<u8>) -> Self {
        Recording {
            cpu,
            log: RefCell::new(log),
        }
    }
}

impl<C: Cpu + ?Sized> Cpu for Recording<'_, C> {
    fn reg(&self, index: u32) -> Option<u64> {
        self.cpu.reg(index)
    }

    fn read_mem(&self, addr: u64, buf: &mut [u8]) -> usize {
        let got = self.cpu.read_mem(addr, buf).min(buf.len());
        let mut log = self.log.borrow_mut();
        put_varint(&mut log, addr);
        put_varint(&mut log, buf.len() as u64);
        put_varint(&mut log, got as u64);
        log.extend_from_slice(&buf[..got]);
        got
    }

    fn instructions(&self) -> Option<u64> {
        self.cpu.instructions()
    }
}

/// A CPU that serves a [`Recording`]'s log, read by read, and has no
/// registers.
pub struct Replay<'l> {
    log: &'l [u8],
    pos: Cell<usize>,
    misses: Cell<u32>,
}

impl<'l> Replay<'l> {
    pub fn new(log: &'l [u8]) -> Self {
        Replay {
            log,
            pos: Cell::new(0),
            misses: Cell::new(0),
        }
    }

    /// Reads asked for that the log did not hold as asked.
    pub fn misses(&self) -> u32 {
        self.misses.get()
    }

    fn next(&self) -> Option<(u64, usize, &'l [u8])> {
        let mut pos = self.pos.get();
        let addr = get_varint(self.log, &mut pos)?;
        let want = usize::try_from(get_varint(self.log, &mut pos)?).ok()?;
        let got = usize::try_from(get_varint(self.log, &mut pos)?).ok()?;
        let bytes = self.log.get(pos..pos.checked_add(got)?)?;
        self.pos.set(pos + got);
        Some((addr, want, bytes))
    }
}

impl Cpu for Replay<'_> {
    fn reg(&self, _index: u32) -> Option<u64> {
        None
    }

    fn read_mem(&self, addr: u64, buf: &mut [u8]) -> usize {
        match self.next() {
            Some((at, want, bytes)) if at == addr && want == buf.len() => {
                buf[..bytes.len()].copy_from_slice(bytes);
                bytes.len()
            }
            _ => {
                self.misses.set(self.misses.get() + 1);
                0
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::SnapshotCpu;

    #[test]
    fn varints_round_trip() {
        let mut out = Vec::new();
        let values = [0, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX];
        for v in values {
            put_varint(&mut out, v);
        }
        let mut pos = 0;
        for v in values {
            assert_eq!(get_varint(&out, &mut pos), Some(v));
        }
        assert_eq!(pos, out.len());
        assert_eq!(get_varint(&out, &mut pos), None);
        assert_eq!(get_varint(&[0x80, 0x80], &mut 0), None);
    }

    #[test]
    fn replay_serves_the_reads_recorded_and_counts_others() {
        let mut cpu = SnapshotCpu::default();
        cpu.map(0x1000, b"hello, world");
        let mut log = Vec::new();
        let recording = Recording::new(&cpu, &mut log);
        let mut a = [0u8; 5];
        let mut b = [0u8; 4];
        assert_eq!(recording.read_mem(0x1000, &mut a), 5);
        assert_eq!(recording.read_mem(0x9000, &mut b), 0);
        let replay = Replay::new(&log);
        let mut a2 = [0u8; 5];
        assert_eq!(replay.read_mem(0x1000, &mut a2), 5);
        assert_eq!(&a2, b"hello");
        assert_eq!(replay.read_mem(0x9000, &mut b), 0);
        assert_eq!(replay.misses(), 0);
        // Past the log's end, or another address: a miss.
        assert_eq!(replay.read_mem(0x1000, &mut a2), 0);
        assert_eq!(replay.misses(), 1);
    }
}
