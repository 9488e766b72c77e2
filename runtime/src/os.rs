//! The interface between a generated model crate and the runtime. Generated
//! code implements [`Os`]: constant instruction patterns and functions that
//! read a call's number, identity and arguments straight from the CPU. The
//! runtime does everything else.

pub use crate::cpu::Cpu;
use osm_model::Model;
use osm_model::arch::Endian;

/// Slots in [`Args`]; the code generator refuses models with more.
pub const MAX_ARGS: usize = 20;

/// A call's parameters, counting each way (`|`) to show a register: the
/// size of the per-parameter arrays decoding keeps on the stack.
pub const MAX_PARAMS: usize = 32;

/// An instruction pattern: bytes and mask in memory order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pattern {
    pub bytes: &'static [u8],
    pub mask: &'static [u8],
    pub at: Option<osm_model::At>,
}

impl Pattern {
    /// An instruction at `addr` matches when it has the pattern's length,
    /// every masked byte equals the pattern's, and its address is where
    /// the pattern says (if it says).
    pub fn matches(&self, addr: u64, insn: &[u8]) -> bool {
        osm_model::At::holds(self.at, addr)
            && osm_model::pattern_matches(self.bytes, self.mask, insn)
    }
}

/// Raw argument values of one call; an unreadable location is remembered
/// as such rather than shown as 0.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Args {
    values: [u64; MAX_ARGS],
    readable: u32,
    count: u8,
}

impl Args {
    pub fn clear(&mut self) {
        *self = Args::default();
    }

    pub fn set(&mut self, index: usize, value: Option<u64>) {
        if index >= MAX_ARGS {
            return;
        }
        self.count = self.count.max(index as u8 + 1);
        match value {
            Some(v) => {
                self.values[index] = v;
                self.readable |= 1 << index;
            }
            None => {
                self.values[index] = 0;
                self.readable &= !(1 << index);
            }
        }
    }

    pub fn get(&self, index: usize) -> Option<u64> {
        (index < usize::from(self.count) && self.readable & (1 << index) != 0)
            .then(|| self.values[index])
    }

    pub fn len(&self) -> usize {
        usize::from(self.count)
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// How many of the locations read could not be read.
    pub fn unreadable(&self) -> u32 {
        // `set` keeps a bit only for a location below `count`.
        u32::from(self.count) - self.readable.count_ones()
    }
}

/// What generated code reads at a syscall entry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Entry {
    pub number: u64,
    /// Index into the table's syscalls (sorted by number), or `None` for a
    /// number the model does not know.
    pub syscall: Option<usize>,
    pub table: u32,
    pub thread: u64,
    pub process: u64,
    pub args: Args,
    /// The mechanism's `called_from` and `returns_to`, for an entry that is
    /// not the calling instruction (a kernel's exception vector).
    pub called_from: Option<u64>,
    pub returns_to: Option<u64>,
}

/// What generated code reads at a kernel exit instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExitValues {
    /// Where the exit returns to; pairs it with the call it ends.
    pub resume: u64,
    pub thread: u64,
    pub process: u64,
    pub ret: Option<u64>,
    /// For models whose errors are flagged in a register (MIPS a3).
    pub error_flag: Option<u64>,
}

/// Implemented by each generated model crate.
pub trait Os: 'static {
    /// The model file this code was generated from.
    const SPEC: &'static str;
    /// The checked model, for names, types and decoding tables.
    const MODEL: &'static osm_model::embedded::Model;
    /// Registers the model reads; [`Cpu::reg`] takes an index into this.
    const REGISTERS: &'static [&'static str];
    /// Entry pattern of each mechanism, by mechanism index.
    const ENTRIES: &'static [Pattern];
    /// Exit patterns with the index of their mechanism.
    const EXITS: &'static [(usize, Pattern)];

    /// Whether `mechanism` takes the entry instruction `insn` now: its
    /// `when`, read there, is non-zero. A mechanism without `when` always
    /// does.
    fn applies<C: Cpu + ?Sized>(_mechanism: usize, _insn: u64, _cpu: &C) -> bool {
        true
    }
    /// Reads a call at the entry instruction of `mechanism`; `insn` is that
    /// instruction's value, the model's `insn` ([`EntryInsn::value`]).
    fn entry<C: Cpu + ?Sized>(
        mechanism: usize,
        insn: u64,
        cpu: &C,
        entry: &mut Entry,
    ) -> Option<()>;

    /// Reads what exit `exit` (an index into `EXITS`) returns to and with.
    fn exit<C: Cpu + ?Sized>(exit: usize, cpu: &C) -> Option<ExitValues>;

    /// The checked model.
    fn model() -> Model {
        Self::MODEL.expand()
    }
}

/// How a tracer reads calls from the CPU: through generated code
/// ([`Compiled`]) or by evaluating the checked model at run time
/// ([`crate::interp::Interpreted`]). Everything else is shared.
pub trait Backend: Send + Sync + 'static {
    /// The model file, for messages.
    fn spec(&self) -> &str;
    /// Registers read, in the order of the indices passed to [`Cpu::reg`].
    fn registers(&self) -> Vec<&str>;
    fn entries(&self) -> &[Pattern];
    fn exits(&self) -> &[(usize, Pattern)];
    /// See [`Os::applies`].
    fn applies<C: Cpu + ?Sized>(&self, mechanism: usize, insn: u64, cpu: &C) -> bool;
    /// Reads a call at the entry instruction of `mechanism`, whose value
    /// ([`EntryInsn::value`]) is `insn`.
    fn entry<C: Cpu + ?Sized>(
        &self,
        mechanism: usize,
        insn: u64,
        cpu: &C,
        entry: &mut Entry,
    ) -> Option<()>;
    fn exit<C: Cpu + ?Sized>(&self, exit: usize, cpu: &C) -> Option<ExitValues>;
}

/// The instruction a call entered the kernel with, as QEMU translated it:
/// the plugin makes one per translated entry instruction, so nothing here
/// is read when the instruction runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EntryInsn {
    pub pc: u64,
    /// Bytes; the call returns to `pc + len`.
    pub len: u64,
    /// The model's `insn`: the first 8 bytes at most, as one unsigned
    /// integer in the guest's byte order.
    pub value: u64,
}

impl EntryInsn {
    pub fn new(pc: u64, bytes: &[u8], endian: Endian) -> Self {
        EntryInsn {
            pc,
            len: bytes.len() as u64,
            value: crate::cpu::value_from_target_bytes(&bytes[..bytes.len().min(8)], endian),
        }
    }

    /// Where the call returns to.
    pub fn next_pc(&self) -> u64 {
        self.pc.wrapping_add(self.len)
    }
}

/// The backend of a generated model crate.
pub struct Compiled<O: Os>(std::marker::PhantomData<fn() -> O>);

impl<O: Os> Compiled<O> {
    pub fn new() -> Self {
        Compiled(std::marker::PhantomData)
    }
}

impl<O: Os> Default for Compiled<O> {
    fn default() -> Self {
        Self::new()
    }
}

impl<O: Os> Backend for Compiled<O> {
    fn spec(&self) -> &str {
        O::SPEC
    }

    fn registers(&self) -> Vec<&str> {
        O::REGISTERS.to_vec()
    }

    fn entries(&self) -> &[Pattern] {
        O::ENTRIES
    }

    fn exits(&self) -> &[(usize, Pattern)] {
        O::EXITS
    }

    #[inline(always)]
    fn applies<C: Cpu + ?Sized>(&self, mechanism: usize, insn: u64, cpu: &C) -> bool {
        O::applies(mechanism, insn, cpu)
    }

    #[inline(always)]
    fn entry<C: Cpu + ?Sized>(
        &self,
        mechanism: usize,
        insn: u64,
        cpu: &C,
        entry: &mut Entry,
    ) -> Option<()> {
        O::entry(mechanism, insn, cpu, entry)
    }

    #[inline(always)]
    fn exit<C: Cpu + ?Sized>(&self, exit: usize, cpu: &C) -> Option<ExitValues> {
        O::exit(exit, cpu)
    }
}

/// A sized guest-memory read for generated code: `big` is the model's byte
/// order, fixed at generation time.
#[inline(always)]
pub fn load<C: Cpu + ?Sized>(
    cpu: &C,
    addr: u64,
    bytes: u8,
    signed: bool,
    big: bool,
) -> Option<u64> {
    let endian = if big { Endian::Big } else { Endian::Little };
    crate::eval::load(cpu, addr, bytes, signed, endian)
}

/// `<<` as the language defines it: shifting by 64 or more gives 0.
#[inline(always)]
pub fn shl(value: u64, amount: u64) -> u64 {
    u32::try_from(amount)
        .ok()
        .and_then(|s| value.checked_shl(s))
        .unwrap_or(0)
}

/// `>>`, logical, with the same rule as [`shl`].
#[inline(always)]
pub fn shr(value: u64, amount: u64) -> u64 {
    u32::try_from(amount)
        .ok()
        .and_then(|s| value.checked_shr(s))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_length_and_masked_bytes() {
        let thumb_svc = Pattern {
            bytes: &[0x00, 0xdf],
            mask: &[0x00, 0xff],
            at: None,
        };
        assert!(thumb_svc.matches(0x1000, &[0x05, 0xdf]));
        assert!(!thumb_svc.matches(0x1000, &[0x05, 0xde]));
        assert!(!thumb_svc.matches(0x1000, &[0x00, 0xdf, 0x00, 0x00]));
    }

    #[test]
    fn placed_patterns_match_only_at_their_address() {
        // The AArch32 synchronous slot of an AArch64 vector table.
        let slot = Pattern {
            bytes: &[0xff, 0x43, 0x05, 0xd1],
            mask: &[0xff; 4],
            at: Some(osm_model::At {
                value: 0x608,
                mask: 0x7ff,
            }),
        };
        let insn = [0xff, 0x43, 0x05, 0xd1];
        assert!(slot.matches(0xffff_8000_0801_0608, &insn));
        assert!(slot.matches(0xffff_8000_0801_0e08, &insn));
        assert!(!slot.matches(0xffff_8000_0801_0408, &insn));
        assert!(!slot.matches(0xffff_8000_0801_0608, &[0xff, 0x43, 0x05, 0xd2]));
    }

    #[test]
    fn insn_values_are_the_first_eight_bytes_in_guest_order() {
        let svc = EntryInsn::new(0x1000, &[0x0a, 0x04], Endian::Big);
        assert_eq!((svc.value, svc.next_pc()), (0x0a04, 0x1002));
        assert_eq!(
            EntryInsn::new(0, &[0xcd, 0x80], Endian::Little).value,
            0x80cd
        );
        let long = EntryInsn::new(0, &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], Endian::Big);
        assert_eq!((long.value, long.len), (0x0102_0304_0506_0708, 10));
    }

    #[test]
    fn args_remember_unreadable_slots() {
        let mut args = Args::default();
        args.set(0, Some(7));
        args.set(2, None);
        assert_eq!(
            (args.get(0), args.get(1), args.get(2), args.len()),
            (Some(7), None, None, 3)
        );
        args.set(MAX_ARGS, Some(1));
        assert_eq!((args.len(), args.unreadable()), (3, 2));
        args.set(1, Some(0));
        args.set(0, None);
        assert_eq!(args.unreadable(), 2);
        args.set(2, Some(1));
        assert_eq!(args.unreadable(), 1);
    }

    #[test]
    fn shifts_saturate_like_the_interpreter() {
        assert_eq!((shl(1, 63), shl(1, 64), shr(u64::MAX, 70)), (1 << 63, 0, 0));
    }
}
