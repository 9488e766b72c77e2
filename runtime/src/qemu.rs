//! The QEMU side of [`Cpu`]: register handles, register and memory reads
//! through the plugin API (v4), and small helpers for plugin glue.
//!
//! Every function here must run on a vCPU thread inside a QEMU callback
//! (QEMU asserts `current_cpu`); register reads additionally need a callback
//! registered with `QEMU_PLUGIN_CB_R_REGS`.

use crate::cpu::{Cpu, MissingRegisters, read_paged, resolve_registers, value_from_target_bytes};
use osm_model::arch::{Arch, Endian, unlisted_gdb_registers};
use qemu_plugin_sys::{
    GArray, GByteArray, qemu_plugin_get_registers, qemu_plugin_outs, qemu_plugin_read_memory_vaddr,
    qemu_plugin_read_register, qemu_plugin_reg_descriptor, qemu_plugin_register,
};
use std::cell::Cell;
use std::ffi::{CStr, CString, c_char, c_int, c_uint};

// QEMU links glib dynamically, so these resolve from QEMU's global symbol
// scope when the plugin is dlopen()ed, like the qemu_plugin_* API does.
// gboolean is a C int, not a Rust bool.
unsafe extern "C" {
    fn g_byte_array_new() -> *mut GByteArray;
    fn g_byte_array_set_size(array: *mut GByteArray, length: c_uint) -> *mut GByteArray;
    fn g_array_free(array: *mut GArray, free_segment: c_int) -> *mut c_char;
}

/// A register handle. QEMU's handles are `gdb register number + 1` cast to
/// a pointer: opaque tokens, never dereferenced, the same for every vCPU of
/// one CPU model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RegHandle(*mut qemu_plugin_register);

// SAFETY: the pointer is an integer token that QEMU decodes; it points to
// nothing, so sharing it between threads cannot race.
unsafe impl Send for RegHandle {}
unsafe impl Sync for RegHandle {}

/// Bytes a vCPU's scratch array may hold before a read empties it. QEMU's
/// register read appends, so reads need not empty the array first (a glib
/// call each).
const SCRATCH_LIMIT: u32 = 4096;

/// A new glib byte array, for one vCPU's reads.
fn new_scratch() -> *mut GByteArray {
    // SAFETY: plain glib allocation; never fails (glib aborts on OOM).
    unsafe { g_byte_array_new() }
}

/// The bytes currently in `buf`.
///
/// # Safety
/// `buf` must be a live GByteArray that is not modified while the
/// returned slice is in use.
unsafe fn bytes_of<'a>(buf: *mut GByteArray) -> &'a [u8] {
    // SAFETY: per the contract above; an empty array may have a null `data`.
    unsafe {
        let len = (*buf).len as usize;
        if len == 0 || (*buf).data.is_null() {
            &[]
        } else {
            std::slice::from_raw_parts((*buf).data, len)
        }
    }
}

/// Every register QEMU exposes for the current vCPU, as (name, handle).
/// Must be called in vCPU context, i.e. from the vCPU init callback.
pub fn available_registers() -> Vec<(String, RegHandle)> {
    // SAFETY: called in vCPU context per the contract above.
    let arr = unsafe { qemu_plugin_get_registers() };
    if arr.is_null() {
        return Vec::new();
    }
    // SAFETY: QEMU returns a GArray of qemu_plugin_reg_descriptor.
    let descs: &[qemu_plugin_reg_descriptor] = unsafe {
        let len = (*arr).len as usize;
        if len == 0 || (*arr).data.is_null() {
            &[]
        } else {
            std::slice::from_raw_parts((*arr).data as *const qemu_plugin_reg_descriptor, len)
        }
    };
    let regs = descs
        .iter()
        .filter(|d| !d.name.is_null())
        .map(|d| {
            // SAFETY: names are interned C strings that live as long as QEMU.
            let name = unsafe { CStr::from_ptr(d.name) }
                .to_string_lossy()
                .into_owned();
            (name, RegHandle(d.handle))
        })
        .collect();
    // SAFETY: "Caller frees the array (but not the const strings)".
    unsafe { g_array_free(arr, 1) };
    regs
}

/// Handles for the registers QEMU reads without listing them (MIPS, which
/// has no gdb XML description). This relies on QEMU 10.0's implementation,
/// not its API: a handle is the gdb register number plus one
/// (`plugins/api.c`: `gdb_read_register(cpu, buf, GPOINTER_TO_INT(reg) - 1)`).
fn unlisted_registers(arch: Arch) -> Vec<(String, RegHandle)> {
    unlisted_gdb_registers(arch)
        .into_iter()
        .map(|(name, number)| {
            let handle = (number as usize + 1) as *mut qemu_plugin_register;
            (name, RegHandle(handle))
        })
        .collect()
}

/// The QEMU implementation of [`Cpu`] for one vCPU. Only that vCPU's
/// thread uses it, inside QEMU's callbacks.
#[derive(Debug)]
pub struct QemuCpu {
    /// Indexed like the model's registers.
    handles: Vec<RegHandle>,
    endian: Endian,
    /// The vCPU's own byte array for reads (a thread-local one costs a
    /// `__tls_get_addr` call per read in a `dlopen`ed plugin). Leaked with
    /// the vCPU: QEMU keeps plugins loaded until it exits.
    scratch: *mut GByteArray,
    /// The callback running now ([`QemuCpu::begin_callback`]): values read
    /// in it are kept for it. An instruction that ends several mechanisms'
    /// calls (x86_64's `iretq`, for four) is read once per mechanism, with
    /// mostly the same registers and stack words; each QEMU read costs a
    /// trip through the gdb layer.
    callback: Cell<u64>,
    /// Per register: the callback it was read in, and its value.
    registers: Vec<Cell<(u64, u64)>>,
    /// Small memory reads of the callback: (callback, address, length,
    /// bytes).
    words: [Cell<Word>; WORDS],
    next_word: Cell<usize>,
    /// The virtual clock at the callback running now
    /// ([`QemuCpu::set_instructions`]), with `timestamps=virtual`.
    instructions: Cell<Option<u64>>,
}

/// Small memory reads kept per callback.
const WORDS: usize = 4;

/// A small memory read: (callback, address, length, bytes).
type Word = (u64, u64, usize, [u8; 8]);

impl QemuCpu {
    /// Resolves `names` (the model's registers, in `Expr::Reg` order) once
    /// for this vCPU. Must be called from the vCPU init callback.
    pub fn new(names: &[&str], arch: Arch, endian: Endian) -> Result<Self, MissingRegisters> {
        let mut available = available_registers();
        if available.is_empty() {
            available = unlisted_registers(arch);
        }
        let handles = resolve_registers(names, &available)?;
        Ok(QemuCpu {
            registers: (0..handles.len()).map(|_| Cell::new((0, 0))).collect(),
            handles,
            endian,
            scratch: new_scratch(),
            callback: Cell::new(1),
            words: Default::default(),
            next_word: Cell::new(0),
            instructions: Cell::new(None),
        })
    }

    pub fn endian(&self) -> Endian {
        self.endian
    }

    /// The guest's instruction count at the instruction whose callback
    /// runs now ([`Cpu::instructions`]).
    pub fn set_instructions(&self, count: Option<u64>) {
        self.instructions.set(count);
    }

    /// A new callback on this vCPU: what earlier ones read is stale.
    pub fn begin_callback(&self) {
        self.callback.set(self.callback.get() + 1);
    }

    fn read_register(&self, index: u32) -> Option<u64> {
        let handle = self.handles.get(index as usize)?;
        let buf = self.scratch;
        // SAFETY: `buf` is this vCPU's live byte array, used only on its
        // thread, one read at a time.
        let before = unsafe {
            if (*buf).len > SCRATCH_LIMIT {
                g_byte_array_set_size(buf, 0);
            }
            (*buf).len as usize
        };
        // SAFETY: `handle` came from qemu_plugin_get_registers; QEMU
        // appends the register's bytes to `buf`.
        let n = unsafe { qemu_plugin_read_register(handle.0, buf) };
        if n <= 0 {
            return None;
        }
        // SAFETY: nothing touches `buf` until the next read on this thread.
        let bytes = unsafe { bytes_of(buf) };
        let bytes = bytes.get(before..before + n as usize)?;
        Some(value_from_target_bytes(bytes, self.endian))
    }

    fn read_memory(&self, addr: u64, out: &mut [u8]) -> usize {
        read_paged(addr, out, |at, chunk| {
            let buf = self.scratch;
            // SAFETY: `buf` is this vCPU's live byte array; QEMU resizes it
            // to `chunk.len()` (which is > 0) before reading.
            if !unsafe { qemu_plugin_read_memory_vaddr(at, buf, chunk.len()) } {
                return false;
            }
            // SAFETY: as above, `buf` is stable until the next read.
            let bytes = unsafe { bytes_of(buf) };
            if bytes.len() < chunk.len() {
                return false;
            }
            chunk.copy_from_slice(&bytes[..chunk.len()]);
            true
        })
    }
}

impl Cpu for QemuCpu {
    fn instructions(&self) -> Option<u64> {
        self.instructions.get()
    }

    fn reg(&self, index: u32) -> Option<u64> {
        let now = self.callback.get();
        let slot = self.registers.get(index as usize)?;
        let (read_in, value) = slot.get();
        if read_in == now {
            return Some(value);
        }
        // An unreadable register is not kept: it is read again (and fails
        // again), which only the rare broken model pays for.
        let value = self.read_register(index)?;
        slot.set((now, value));
        Some(value)
    }

    fn read_mem(&self, addr: u64, out: &mut [u8]) -> usize {
        if out.len() > 8 || out.is_empty() {
            return self.read_memory(addr, out);
        }
        let now = self.callback.get();
        for word in &self.words {
            let (read_in, at, len, bytes) = word.get();
            if read_in == now && at == addr && len == out.len() {
                out.copy_from_slice(&bytes[..len]);
                return len;
            }
        }
        let n = self.read_memory(addr, out);
        if n == out.len() {
            let mut bytes = [0u8; 8];
            bytes[..n].copy_from_slice(out);
            let i = self.next_word.get();
            self.words[i].set((now, addr, n, bytes));
            self.next_word.set((i + 1) % WORDS);
        }
        n
    }
}

/// The plugin's arguments as strings.
///
/// # Safety
/// `argv` must hold `argc` valid NUL-terminated strings, as QEMU
/// passes them to `qemu_plugin_install`.
pub unsafe fn args_from_argv(argc: c_int, argv: *const *const c_char) -> Vec<String> {
    if argv.is_null() {
        return Vec::new();
    }
    (0..argc.max(0) as usize)
        .filter_map(|i| {
            // SAFETY: per the contract above.
            let p = unsafe { *argv.add(i) };
            // SAFETY: non-null entries are C strings per the contract.
            (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
        })
        .collect()
}

/// Writes to QEMU's log (shown with `-d plugin`, or in `-D file`).
pub fn outs(text: &str) {
    // Interior NULs would cut the message short; show them instead.
    let c = CString::new(text.replace('\0', "\\0")).unwrap_or_default();
    // SAFETY: `c` is a valid C string for the duration of the call.
    unsafe { qemu_plugin_outs(c.as_ptr()) };
}
