//! The QEMU side of [`Cpu`]: register handles, register and memory reads
//! through the plugin API (v4), and small helpers for plugin glue.
//!
//! Every function here must run on a vCPU thread inside a QEMU callback
//! (QEMU asserts `current_cpu`); register reads additionally need a callback
//! registered with `QEMU_PLUGIN_CB_R_REGS`.

use crate::cpu::{Cpu, MissingRegisters, read_paged, resolve_registers, value_from_target_bytes};
use osm_compiler::arch::{Arch, Endian, unlisted_gdb_registers};
use qemu_plugin_sys::{
    GArray, GByteArray, qemu_plugin_get_registers, qemu_plugin_outs, qemu_plugin_read_memory_vaddr,
    qemu_plugin_read_register, qemu_plugin_reg_descriptor, qemu_plugin_register,
};
use std::cell::Cell;
use std::ffi::{CStr, CString, c_char, c_int, c_uint};
use std::ptr;

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

thread_local! {
    // One buffer per host thread, reused for every read: with MTTCG each vCPU
    // has its own thread, and in round-robin TCG callbacks never overlap.
    // A Cell of a raw pointer has no destructor, so nothing runs at thread
    // exit after the plugin might have been unloaded (the buffer leaks once
    // per thread).
    static BUF: Cell<*mut GByteArray> = const { Cell::new(ptr::null_mut()) };
}

/// This thread's reusable byte array, emptied: QEMU's register read appends.
fn scratch() -> *mut GByteArray {
    BUF.with(|c| {
        let mut p = c.get();
        if p.is_null() {
            // SAFETY: plain glib allocation; never fails (glib aborts on OOM).
            p = unsafe { g_byte_array_new() };
            c.set(p);
        }
        // SAFETY: `p` is a live GByteArray owned by this thread.
        unsafe { g_byte_array_set_size(p, 0) };
        p
    })
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

/// The QEMU implementation of [`Cpu`] for one vCPU.
#[derive(Clone, Debug)]
pub struct QemuCpu {
    /// Indexed like the model's registers.
    handles: Vec<RegHandle>,
    endian: Endian,
}

impl QemuCpu {
    /// Resolves `names` (the model's registers, in `Expr::Reg` order) once
    /// for this vCPU. Must be called from the vCPU init callback.
    pub fn new(names: &[&str], arch: Arch, endian: Endian) -> Result<Self, MissingRegisters> {
        let mut available = available_registers();
        if available.is_empty() {
            available = unlisted_registers(arch);
        }
        let handles = resolve_registers(names, &available)?;
        Ok(QemuCpu { handles, endian })
    }

    pub fn endian(&self) -> Endian {
        self.endian
    }
}

impl Cpu for QemuCpu {
    fn reg(&self, index: u32) -> Option<u64> {
        let handle = self.handles.get(index as usize)?;
        let buf = scratch();
        // SAFETY: `handle` came from qemu_plugin_get_registers and `buf` is
        // this thread's live byte array.
        let n = unsafe { qemu_plugin_read_register(handle.0, buf) };
        if n <= 0 {
            return None;
        }
        // SAFETY: nothing touches `buf` until the next read on this thread.
        let bytes = unsafe { bytes_of(buf) };
        Some(value_from_target_bytes(bytes, self.endian))
    }

    fn read_mem(&self, addr: u64, out: &mut [u8]) -> usize {
        read_paged(addr, out, |at, chunk| {
            let buf = scratch();
            // SAFETY: `buf` is this thread's live byte array; QEMU resizes it
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
