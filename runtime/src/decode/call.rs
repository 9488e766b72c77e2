//! A whole call decoded: its arguments at entry and again at exit, whether
//! it failed, and its return.

use super::DecodeOptions;
use super::scalar::{
    enum_value, push_hex, width, write_flags, write_int, write_scalar, write_utc_date,
};
use super::walk::{CallValues, Ctx, Skip, View, decode_param};
use crate::cpu::Cpu;
use crate::eval::{self, Env, sign_extend};
use osm_model::{
    Direction, ErrorConvention, IntFormat, Mechanism, Model, Name, Param, RetExplain, Syscall, Ty,
};

/// One decoded argument.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Arg {
    /// The model's parameter's: copying it costs a pointer.
    pub name: Name,
    /// The type as the model writes it (`fd`, `HANDLE`).
    pub type_name: Name,
    pub dir: Direction,
    /// `None` when the argument's location could not be read.
    pub raw: Option<u64>,
    pub text: String,
    /// Not shown: its condition (`mode ... if flags & O_CREAT`) is false.
    pub hidden: bool,
    /// Memory the argument points to could not be read (the text is then
    /// the address).
    pub unreadable: bool,
    /// An input unreadable at entry that its exit read (the text is the
    /// exit's).
    pub reread: bool,
    /// Not an argument of this call, and hidden: a way to show its
    /// register that was not taken (`|`), or `void`.
    pub absent: bool,
    /// Shown as `NAME=VALUE`: an argument of a `named` call (clone).
    pub named: bool,
    /// An `updated` structure the kernel reads: it ends the entry's part
    /// of a strace line, and at exit its text goes on with ` => ` and the
    /// fields the kernel wrote back, `{parent_tid=[98]}` (clone3's).
    pub updated: bool,
    /// As the kernel left it, for a return's explanation that names it
    /// (poll's `[{fd=3, revents=POLLIN}]`); empty otherwise.
    pub returned: String,
}

impl Arg {
    /// Whether the argument counts as unreadable: its location or the
    /// memory it points to.
    pub fn is_unreadable(&self) -> bool {
        self.raw.is_none() || self.unreadable
    }
}

/// A decoded return.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Return {
    pub raw: u64,
    /// The value as a signed number, when it reads as one: the declared
    /// return type is signed, or the call failed (the kernel's `-errno`
    /// in a word). None when `raw` is the value (unsigned types,
    /// addresses, flags).
    pub signed: Option<i64>,
    /// The value, or for a failed call `-1 ENOENT (No such file or directory)`.
    pub text: String,
    pub error: Option<ErrorInfo>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorInfo {
    pub value: u64,
    /// The errno's name, or its number when the model has no name for it
    /// (as strace prints it).
    pub name: String,
    pub message: String,
}

/// Text for an argument whose location could not be read.
pub const UNREADABLE_ARG: &str = "?";

/// Decodes a call's arguments at entry. Output arguments show only their
/// address: the kernel has not written them yet. An argument whose
/// condition is false is marked hidden.
pub fn decode_entry_args<C: Cpu + ?Sized>(
    model: &Model,
    syscall: &Syscall,
    raw: &[Option<u64>],
    cpu: &C,
    opts: &DecodeOptions,
) -> Vec<Arg> {
    let mut args = Vec::new();
    decode_entry_args_into(&mut args, model, syscall, raw, cpu, opts);
    args
}

/// Text bytes a new argument starts with: most arguments (numbers, flags,
/// short strings) fit, so their text is allocated once.
const ARG_TEXT: usize = 32;

/// [`decode_entry_args`] into `args`, reusing its arguments' text buffers:
/// the tracer hands back the arguments of calls it has reported, so that a
/// call's arguments cost no allocation.
pub fn decode_entry_args_into<C: Cpu + ?Sized>(
    args: &mut Vec<Arg>,
    model: &Model,
    syscall: &Syscall,
    raw: &[Option<u64>],
    cpu: &C,
    opts: &DecodeOptions,
) {
    entry_args_into(args, model, syscall, raw, cpu, opts, true);
}

/// [`decode_entry_args_into`] without the text: every argument's flags
/// (hidden, unreadable, ...) as decoding would set them, from the same
/// memory reads in the same order, which a capture records for decoding
/// later (`format=raw`).
pub fn capture_entry_args_into<C: Cpu + ?Sized>(
    args: &mut Vec<Arg>,
    model: &Model,
    syscall: &Syscall,
    raw: &[Option<u64>],
    cpu: &C,
    opts: &DecodeOptions,
) {
    entry_args_into(args, model, syscall, raw, cpu, opts, false);
}

fn entry_args_into<C: Cpu + ?Sized>(
    args: &mut Vec<Arg>,
    model: &Model,
    syscall: &Syscall,
    raw: &[Option<u64>],
    cpu: &C,
    opts: &DecodeOptions,
    text: bool,
) {
    // By parameter: alternatives (`|`) share their register.
    let mut values = [None; crate::os::MAX_PARAMS];
    for (value, register) in values.iter_mut().zip(syscall.param_registers()) {
        *value = raw.get(register).copied().flatten();
    }
    let raw = &values[..syscall.args.len().min(values.len())];
    let call = CallValues {
        args: raw,
        ret: None,
    };
    args.truncate(syscall.args.len());
    // Whether a parameter of the current register is shown already.
    let mut register_shown = false;
    for (i, p) in syscall.args.iter().enumerate() {
        if i == args.len() {
            args.push(Arg {
                text: String::with_capacity(ARG_TEXT),
                ..Arg::default()
            });
        }
        let arg = &mut args[i];
        let value = raw.get(i).copied().flatten();
        arg.name = p.name;
        arg.named = syscall.named;
        arg.type_name = p.type_name;
        arg.dir = p.dir;
        arg.raw = value;
        arg.text.clear();
        arg.returned.clear();
        arg.unreadable = false;
        arg.reread = false;
        arg.updated = p.updated && p.dir == Direction::In;
        if !p.alt {
            register_shown = false;
        }
        let holds = p
            .cond
            .as_ref()
            .is_none_or(|cond| cond.holds(|a| raw.get(a as usize).copied().flatten(), true));
        // Of a register's ways to be shown, the first whose condition
        // holds; `void` shows nothing, `_` is a register the ABI skips.
        let taken = holds && !register_shown;
        register_shown |= taken;
        let alternatives = p.alt || syscall.args.get(i + 1).is_some_and(|next| next.alt);
        arg.absent = alternatives && (!taken || matches!(p.ty, Ty::Void));
        arg.hidden = !taken || arg.absent || &*p.name == "_";
        let not_taken = arg.hidden && alternatives;
        match value {
            Some(v) if !not_taken && p.dir != Direction::Out => {
                let ctx = Ctx::new(model, cpu, opts, &call, None);
                arg.unreadable = if text {
                    decode_param(&mut arg.text, p, v, ctx)
                } else {
                    decode_param(&mut Skip, p, v, ctx)
                };
            }
            _ if !text => {}
            None => arg.text.push_str(UNREADABLE_ARG),
            // Another way to show the register, not taken: not read.
            Some(v) if not_taken => push_hex(&mut arg.text, v),
            Some(v) => write_scalar(&mut arg.text, model, &p.ty, v),
        }
    }
}

/// Re-decodes, at exit, the arguments the kernel may have written (`out`
/// and `inout`), from the raw values saved at entry: argument registers
/// may be overwritten by now. `ret` is the return value of a successful
/// call, `None` for a failed one, whose outputs stay addresses (the kernel
/// wrote nothing), as strace shows them.
///
/// An input that was unreadable at entry is read again: it was on a page
/// the program had not touched yet, which the kernel has mapped by reading
/// it (a path in a binary's read-only data, say).
pub fn decode_exit_args<C: Cpu + ?Sized>(
    model: &Model,
    syscall: &Syscall,
    args: &mut [Arg],
    ret: Option<u64>,
    cpu: &C,
    opts: &DecodeOptions,
) {
    exit_args(model, syscall, args, ret, cpu, opts, true);
}

/// [`decode_exit_args`] without the text, as [`capture_entry_args_into`].
pub fn capture_exit_args<C: Cpu + ?Sized>(
    model: &Model,
    syscall: &Syscall,
    args: &mut [Arg],
    ret: Option<u64>,
    cpu: &C,
    opts: &DecodeOptions,
) {
    exit_args(model, syscall, args, ret, cpu, opts, false);
}

fn exit_args<C: Cpu + ?Sized>(
    model: &Model,
    syscall: &Syscall,
    args: &mut [Arg],
    ret: Option<u64>,
    cpu: &C,
    opts: &DecodeOptions,
    text: bool,
) {
    let again = |arg: &Arg, p: &Param| match p.dir {
        // Not shown: left as it was at entry (an alternative not taken
        // was not even read).
        _ if arg.hidden => false,
        Direction::In if arg.updated => arg.unreadable || ret.is_some(),
        Direction::In => arg.unreadable,
        // Left unwritten by a call that returned 0: its address.
        Direction::Out if p.nonzero => ret.is_some_and(|r| r != 0),
        _ => ret.is_some(),
    };
    if !args.iter().zip(&syscall.args).any(|(a, p)| again(a, p)) {
        return;
    }
    // A call has at most MAX_PARAMS parameters; this is not worth an
    // allocation per call.
    let mut raw = [None; crate::os::MAX_PARAMS];
    for (slot, arg) in raw.iter_mut().zip(args.iter()) {
        *slot = arg.raw;
    }
    let call = CallValues {
        args: &raw[..args.len().min(raw.len())],
        ret,
    };
    for (i, (arg, p)) in args.iter_mut().zip(&syscall.args).enumerate() {
        if !again(arg, p) {
            continue;
        }
        // An input is read as at entry; an output may be as long as the
        // return value says.
        let budget = if p.dir == Direction::In { None } else { ret };
        let Some(v) = arg.raw else { continue };
        // An output the return's explanation names shows after the
        // return; its place keeps the entry's text.
        let explained = p.dir != Direction::In && syscall.explains_with(i);
        if explained && matches!(p.ty, Ty::Ptr) {
            // Only an address (a compat ABI's structure): nothing to add.
            continue;
        }
        let view = match p.dir {
            Direction::In => View::Entry,
            _ if explained => View::Returned,
            _ => View::Exit,
        };
        let ctx = Ctx::new(model, cpu, opts, &call, budget).in_view(view);
        // An inout value the kernel changed shows as both: `[128 => 16]`.
        let both = text && p.dir == Direction::InOut && !explained && is_value_array(&p.ty);
        let entry_len = if both { arg.text.len() } else { 0 };
        // A structure's `updated` fields the kernel changed show as both:
        // `msg_namelen=128 => 16`.
        let updated = match &p.ty {
            Ty::Struct { id } if text && p.dir == Direction::InOut && !explained => model
                .structs
                .get(*id as usize)
                .filter(|def| def.fields.iter().any(|f| f.updated)),
            _ => None,
        };
        // What the kernel wrote back into a structure it read, after the
        // entry's text: clone3's `{flags=...} => {parent_tid=[98]}`.
        if arg.updated && !arg.unreadable {
            let ctx = ctx.in_view(View::Returned);
            if text {
                let mut written = String::new();
                if !decode_param(&mut written, p, v, ctx) && written != "{}" {
                    arg.text.push_str(WRITTEN_BACK);
                    arg.text.push_str(&written);
                }
            } else {
                decode_param(&mut Skip, p, v, ctx);
            }
            continue;
        }
        let entry_text = updated.map(|_| arg.text.clone());
        let out = if explained {
            &mut arg.returned
        } else {
            &mut arg.text
        };
        if !both {
            out.clear();
        }
        let unreadable = if text {
            decode_param(out, p, v, ctx)
        } else {
            decode_param(&mut Skip, p, v, ctx)
        };
        if both && p.updated {
            join_whole(&mut arg.text, entry_len, unreadable);
        } else if both {
            join_entry_and_exit(&mut arg.text, entry_len, unreadable);
        }
        if let (Some(def), Some(entry)) = (updated, &entry_text) {
            for field in def.fields.iter().filter(|f| f.updated) {
                join_field(&mut arg.text, entry, &field.name);
            }
        }
        if explained {
            if unreadable {
                arg.returned.clear();
            }
        } else {
            arg.unreadable = unreadable;
            arg.reread = p.dir == Direction::In && !unreadable;
        }
    }
}

/// What separates an `updated` argument's entry text from what the kernel
/// wrote back.
const WRITTEN_BACK: &str = " => ";

/// The part of an `updated` argument's exit text after its entry's, from
/// [`WRITTEN_BACK`] on (empty when the kernel wrote nothing shown).
pub fn written_back(text: &str) -> &str {
    text.rfind(WRITTEN_BACK).map_or("", |at| &text[at..])
}

/// An array of integers, flags or enums (a length, a count the kernel
/// updates): strace shows an inout one the kernel changed as `[128 => 16]`.
fn is_value_array(ty: &Ty) -> bool {
    matches!(ty, Ty::Array { elem, .. }
        if matches!(**elem, Ty::Int { .. } | Ty::Flags { .. } | Ty::Enum { .. }))
}

/// `text` holds an inout array's entry text, then from `entry_len` its
/// exit text: one element the kernel changed becomes `[ENTRY => EXIT]`,
/// anything else the exit's text alone (an unreadable exit keeps the
/// entry's).
fn join_entry_and_exit(text: &mut String, entry_len: usize, unreadable: bool) {
    // One element, not already joined.
    let single = |s: &str| {
        s.len() > 2
            && s.starts_with('[')
            && s.ends_with(']')
            && !s[1..s.len() - 1].contains([',', '='])
    };
    let (entry, exit) = text.split_at(entry_len);
    // Decoded at exit again (read where the call resumes): already joined.
    let joined = entry
        .rsplit_once(" => ")
        .is_some_and(|(_, after)| single(exit) && after == &exit[1..]);
    if unreadable || exit.is_empty() || joined {
        text.truncate(entry_len);
    } else if entry == exit || !single(entry) || !single(exit) {
        text.drain(..entry_len);
    } else {
        text.replace_range(entry_len - 1..entry_len + 1, " => ");
    }
}

/// `text` holds an `updated` argument's entry text, then from `entry_len`
/// its exit text: `ENTRY => EXIT` when the kernel changed it (sendfile's
/// `[0] => [4]`), else the entry's alone.
fn join_whole(text: &mut String, entry_len: usize, unreadable: bool) {
    let (entry, exit) = text.split_at(entry_len);
    // Decoded at exit again (read where the call resumes): already joined.
    let joined = entry
        .rsplit_once(" => ")
        .is_some_and(|(_, after)| after == exit);
    if unreadable || exit.is_empty() || joined || entry == exit {
        text.truncate(entry_len);
    } else {
        text.insert_str(entry_len, " => ");
    }
}

/// Shows the top-level field `name` of the structure `text` as `ENTRY =>
/// EXIT` when its value in `entry` (the structure's text at entry) differs.
fn join_field(text: &mut String, entry: &str, name: &str) {
    let (Some(before), Some(after)) = (top_field(entry, name), top_field(text, name)) else {
        return;
    };
    let before = &entry[before];
    if before != &text[after.clone()] {
        text.insert_str(after.start, &format!("{before} => "));
    }
}

/// Where the value of the top-level field `name` is in a structure's text
/// `{a=1, b={c=2}, d="x, y"}`.
fn top_field(text: &str, name: &str) -> Option<std::ops::Range<usize>> {
    let mut at = usize::from(text.starts_with('{'));
    while at > 0 {
        let end = value_end(text, at);
        if let Some(rest) = text[at..end].strip_prefix(name)
            && rest.starts_with('=')
        {
            return Some(at + name.len() + 1..end);
        }
        at = if text[end..].starts_with(", ") {
            end + 2
        } else {
            0
        };
    }
    None
}

/// The end of a field's value starting at `from`: the next `,` or `}` of
/// the structure it is in.
fn value_end(text: &str, from: usize) -> usize {
    let (mut depth, mut quoted, mut escaped) = (0usize, false, false);
    for (i, &b) in text.as_bytes().iter().enumerate().skip(from) {
        if quoted {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => quoted = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => quoted = true,
            b'{' | b'[' => depth += 1,
            b'}' | b']' if depth == 0 => return i,
            b'}' | b']' => depth -= 1,
            b',' if depth == 0 => return i,
            _ => {}
        }
    }
    text.len()
}

/// The errno of a failed call, or `None` if it succeeded. `flag` is the
/// value of the mechanism's error flag read at exit (only used by
/// `ErrorConvention::Flag`; an unreadable flag counts as success).
pub fn error_number(
    model: &Model,
    conv: &ErrorConvention,
    raw: u64,
    flag: Option<u64>,
) -> Option<u64> {
    match conv {
        ErrorConvention::None => None,
        ErrorConvention::Negative { max } => {
            // Negative as a signed value of the model's width: on a 32-bit
            // guest 0xfffffffe is -2 even though it reads as a positive u64.
            let bytes = u8::try_from(model.bits / 8).unwrap_or(8);
            let signed = sign_extend(raw, width(bytes)) as i64;
            let errno = signed.unsigned_abs();
            (signed < 0 && errno <= *max).then_some(errno)
        }
        ErrorConvention::Flag(_) => (flag? != 0).then_some(raw),
    }
}

/// [`error_number`] for a call through `mech`, reading the error flag if
/// the mechanism has one.
pub fn mechanism_error<C: Cpu + ?Sized>(
    model: &Model,
    mech: &Mechanism,
    raw: u64,
    cpu: &C,
) -> Option<u64> {
    let flag = match &mech.error {
        ErrorConvention::Flag(e) => eval::eval(e, cpu, &Env::new(model.endian)),
        _ => None,
    };
    error_number(model, &mech.error, raw, flag)
}

/// The errno's name and message from the model. Several names may share a
/// value; the first (the model keeps them sorted by value) wins.
pub fn errno_info(model: &Model, value: u64) -> ErrorInfo {
    let i = model.errnos.partition_point(|e| e.value < value);
    match model.errnos.get(i).filter(|e| e.value == value) {
        Some(e) => ErrorInfo {
            value,
            name: e.name.clone(),
            message: e.message.clone(),
        },
        None => ErrorInfo {
            value,
            name: value.to_string(),
            message: format!("Unknown error {value}"),
        },
    }
}

/// The return of a call: its value by the return type, or for a failed
/// call (`errno` from [`error_number`]) strace's `-1 NAME (message)`.
pub fn decode_return(model: &Model, ty: &Ty, raw: u64, errno: Option<u64>) -> Return {
    decode_return_into(String::new(), model, ty, raw, errno)
}

/// [`decode_return`] with `text` (cleared) for the text: the tracer hands
/// back the text of a reported return, so that a return costs no
/// allocation.
pub fn decode_return_into(
    mut text: String,
    model: &Model,
    ty: &Ty,
    raw: u64,
    errno: Option<u64>,
) -> Return {
    text.clear();
    let error = errno.map(|value| {
        let info = errno_info(model, value);
        text.push_str("-1 ");
        text.push_str(&info.name);
        text.push_str(" (");
        text.push_str(&info.message);
        text.push(')');
        info
    });
    match ty {
        // strace's `= 1796591733 (2026-12-06T21:15:33+0000)`.
        Ty::Int {
            format: IntFormat::Epoch,
            bytes,
            ..
        } if error.is_none() => {
            let seconds = sign_extend(raw, width(*bytes)) as i64;
            write_int(&mut text, raw, *bytes, true, IntFormat::Dec);
            text.push_str(" (");
            if write_utc_date(&mut text, seconds, 0) {
                text.push(')');
            } else {
                text.truncate(text.len() - 2);
            }
        }
        _ if error.is_none() => write_scalar(&mut text, model, ty, raw),
        _ => {}
    }
    let signed = signed_return(model, ty, raw, error.is_some());
    Return {
        raw,
        signed,
        text,
        error,
    }
}

/// A call's name; only a number the model does not know needs one made
/// up (and allocated).
pub fn call_name(syscall: Option<&Syscall>, number: u64) -> std::borrow::Cow<'_, str> {
    match syscall {
        Some(s) => std::borrow::Cow::Borrowed(&s.name),
        None => std::borrow::Cow::Owned(format!("syscall_{number:#x}")),
    }
}

/// The arguments of a call the model does not know: every register read,
/// in hexadecimal as strace prints them (C's `%#lx`: 0 is `0`).
pub fn unknown_args(raw: &[Option<u64>]) -> Vec<Arg> {
    raw.iter()
        .enumerate()
        .map(|(i, v)| Arg {
            name: format!("arg{i}").into(),
            type_name: "hex".into(),
            dir: Direction::In,
            raw: *v,
            text: match v {
                None => "?".to_string(),
                Some(0) => "0".to_string(),
                Some(v) => format!("{v:#x}"),
            },
            ..Arg::default()
        })
        .collect()
}

/// A call's return, into `text`: by its return type (a call the model does
/// not know returns a plain signed number), explained as its `explain`
/// says from `args` (decoded at its exit).
pub fn call_return(
    text: String,
    model: &Model,
    syscall: Option<&Syscall>,
    args: &[Arg],
    raw: u64,
    errno: Option<u64>,
) -> Return {
    let mut ret = match syscall {
        Some(s) => decode_return_into(text, model, &s.ret, raw, errno),
        None => {
            let unknown = Ty::Int {
                bytes: (model.bits / 8) as u8,
                signed: true,
                format: IntFormat::Dec,
            };
            decode_return_into(text, model, &unknown, raw, errno)
        }
    };
    if let Some(s) = syscall.filter(|s| !s.explain.is_empty()) {
        explain_return(model, s, args, &mut ret);
    }
    ret
}

/// Names a successful return as the call's `explain` says, with the first
/// way whose condition on the call's arguments holds and that names it:
/// an enum member after the number, strace's `0 (SCHED_OTHER)`; a flag
/// set's names after the value in hex, `0x1 (flags FD_CLOEXEC)` (none
/// for 0 unless the set names it); an
/// argument as the kernel left it, `1 ([{fd=3, revents=POLLIN}])`. A value
/// nothing names stays a number.
pub fn explain_return(model: &Model, syscall: &Syscall, args: &[Arg], ret: &mut Return) {
    if ret.error.is_some() {
        return;
    }
    let holds = |cond: &Option<osm_model::ArgCond>| {
        cond.as_ref()
            .is_none_or(|c| c.holds(|a| args.get(a as usize).and_then(|a| a.raw), false))
    };
    for way in syscall.explain.iter().filter(|e| holds(&e.cond)) {
        if explain_way(model, way, args, ret) {
            return;
        }
    }
}

/// Names the return by one way of its explanation; false when the way
/// has no name for it (an enum member for the value, an argument's text).
fn explain_way(model: &Model, way: &RetExplain, args: &[Arg], ret: &mut Return) -> bool {
    if !way.args.is_empty() {
        return explain_with_args(way, args, ret);
    }
    match way.ty {
        Ty::Enum { set, bytes, signed } => {
            let value = enum_value(ret.raw, bytes, signed);
            let Some(member) = model
                .enums
                .get(set as usize)
                .and_then(|s| s.members.iter().find(|m| m.value == value))
            else {
                return false;
            };
            ret.text.push_str(" (");
            push_label(&mut ret.text, way.label.as_deref().unwrap_or(""));
            ret.text.push_str(&member.name);
            ret.text.push(')');
            true
        }
        Ty::Flags { set, bytes } => {
            let Some(set) = model.flag_sets.get(set as usize) else {
                return false;
            };
            // No bit set and no name for none (fcntl's F_GETFD, unlike
            // F_GETFL's O_RDONLY): strace shows the bare number.
            let mut names = String::new();
            write_flags(&mut names, ret.raw, set, bytes);
            if names == "0" {
                return false;
            }
            ret.text.clear();
            write_int(&mut ret.text, ret.raw, bytes, false, IntFormat::Hex);
            ret.text.push_str(" (");
            push_label(&mut ret.text, way.label.as_deref().unwrap_or("flags"));
            ret.text.push_str(&names);
            ret.text.push(')');
            true
        }
        _ => false,
    }
}

/// An explanation's word and the space after it, if it has one.
fn push_label(out: &mut String, label: &str) {
    if !label.is_empty() {
        out.push_str(label);
        out.push(' ');
    }
}

/// The arguments of an explanation as the kernel left them, each after
/// its label, those it left nothing in (a null pointer, an empty set)
/// left out: strace's `2 (in [3], out [4], left {tv_sec=0, ...})`.
fn explain_with_args(way: &RetExplain, args: &[Arg], ret: &mut Return) -> bool {
    let start = ret.text.len();
    for item in &way.args {
        let Some(arg) = args.get(item.arg as usize) else {
            continue;
        };
        let text = arg.returned.as_str();
        if arg.raw == Some(0) || text.is_empty() || text == "[]" {
            continue;
        }
        ret.text
            .push_str(if ret.text.len() == start { " (" } else { ", " });
        if !item.label.is_empty() {
            ret.text.push_str(&item.label);
            ret.text.push(' ');
        }
        ret.text.push_str(text);
    }
    let named = ret.text.len() > start;
    if named {
        ret.text.push(')');
    }
    named
}

/// [`Return::signed`].
fn signed_return(model: &Model, ty: &Ty, raw: u64, failed: bool) -> Option<i64> {
    match ty {
        Ty::Int {
            bytes,
            signed: true,
            ..
        }
        | Ty::Enum {
            bytes,
            signed: true,
            ..
        } => Some(sign_extend(raw, width(*bytes)) as i64),
        _ if failed => Some(sign_extend(raw, width((model.bits / 8) as u8)) as i64),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::SnapshotCpu;
    use crate::decode::fixtures::{TYPES, entry_texts};
    use crate::testutil::{compile, mechanism, model};
    use osm_model::{Expr, RegId};

    #[test]
    fn entry_and_exit_args() {
        let m = model();
        let read = m.tables[0].find(0).unwrap();
        let mut cpu = SnapshotCpu::new();
        let raw = [Some(3), Some(0x2000), Some(100)];
        let opts = DecodeOptions::default();
        let mut args = decode_entry_args(&m, read, &raw, &cpu, &opts);
        let texts: Vec<&str> = args.iter().map(|a| a.text.as_str()).collect();
        assert_eq!(texts, ["3", "0x2000", "100"]);
        assert_eq!(&*args[1].type_name, "buf");
        assert_eq!(args[1].dir, Direction::Out);
        // The kernel filled the buffer; the argument register may be gone.
        cpu.map(0x2000, b"root:x:0:0\n".to_vec());
        decode_exit_args(&m, read, &mut args, Some(11), &cpu, &opts);
        assert_eq!(args[1].text, r#""root:x:0:0\n""#);
        assert_eq!(args[0].text, "3");
        let mut failed = decode_entry_args(&m, read, &raw, &cpu, &opts);
        decode_exit_args(&m, read, &mut failed, None, &cpu, &opts);
        assert_eq!(failed[1].text, "0x2000");
    }

    #[test]
    fn openat_like_strace() {
        let m = model();
        let openat = m.tables[0].find(257).unwrap();
        let mut cpu = SnapshotCpu::new();
        cpu.map(0x1000, b"/etc/ld.so.cache\0".to_vec());
        let raw = [Some(-100i64 as u64), Some(0x1000), Some(0o2000000), None];
        let args = decode_entry_args(&m, openat, &raw, &cpu, &DecodeOptions::default());
        let texts: Vec<&str> = args.iter().map(|a| a.text.as_str()).collect();
        assert_eq!(texts, ["-100", r#""/etc/ld.so.cache""#, "O_CLOEXEC", "?"]);
        assert_eq!(args[3].raw, None);
    }

    #[test]
    fn reused_arguments_decode_as_new_ones() {
        let m = model();
        let openat = m.tables[0].find(257).unwrap();
        let read = m.tables[0].find(0).unwrap();
        let mut cpu = SnapshotCpu::new();
        cpu.map(0x1000, b"/etc/passwd\0".to_vec());
        let opts = DecodeOptions::default();
        // A list left by openat, with an unreadable path and an unreadable
        // fourth argument, then used for read (fewer arguments, other
        // types) and for openat again.
        let mut reused = Vec::new();
        let unreadable = [Some(-100i64 as u64), Some(0x5000), Some(0), None];
        decode_entry_args_into(&mut reused, &m, openat, &unreadable, &cpu, &opts);
        assert!(reused[1].unreadable && reused[3].raw.is_none());
        for (syscall, raw) in [
            (read, &[Some(3), Some(0x2000), Some(100)][..]),
            (
                openat,
                &[Some(-100i64 as u64), Some(0x1000), Some(0), Some(0)][..],
            ),
        ] {
            decode_entry_args_into(&mut reused, &m, syscall, raw, &cpu, &opts);
            assert_eq!(reused, decode_entry_args(&m, syscall, raw, &cpu, &opts));
        }
    }

    #[test]
    fn input_unreadable_at_entry_is_read_at_exit() {
        let m = model();
        let openat = m.tables[0].find(257).unwrap();
        let mut cpu = SnapshotCpu::new();
        let raw = [Some(-100i64 as u64), Some(0x1000), Some(0), None];
        let opts = DecodeOptions::default();
        let mut args = decode_entry_args(&m, openat, &raw, &cpu, &opts);
        assert_eq!(
            (args[1].text.as_str(), args[1].unreadable),
            ("0x1000", true)
        );
        // The kernel read the path, which mapped its page; the call failed.
        cpu.map(0x1000, b"/missing\0".to_vec());
        decode_exit_args(&m, openat, &mut args, None, &cpu, &opts);
        assert_eq!(
            (args[1].text.as_str(), args[1].unreadable),
            (r#""/missing""#, false)
        );
    }

    /// `-> int (... if ... | ...)`: the first way whose condition holds
    /// names a successful return; a failed one, or a value no member
    /// names, stays as it was.
    #[test]
    fn returns_named_as_explained() {
        let m = compile(
            "x86_64",
            "enum cmd : i32 { GETFD = 1, GETPOL = 2, OTHER = 3 }\n\
             flags fdf : i32 { FD_CLOEXEC = 1 }\n\
             enum policy : i32 { SCHED_OTHER = 0, SCHED_FIFO = 1 }\n\
             table t { 72 ctl(i32 fd, cmd cmd) -> i32 (fdf if cmd == GETFD | policy if cmd == GETPOL); }",
        );
        let ctl = m.tables[0].find(72).unwrap();
        let cpu = SnapshotCpu::new();
        let opts = DecodeOptions::default();
        let shown = |cmd: u64, raw: u64, errno: Option<u64>| -> String {
            let args = decode_entry_args(&m, ctl, &[Some(3), Some(cmd)], &cpu, &opts);
            let mut ret = decode_return(&m, &ctl.ret, raw, errno);
            explain_return(&m, ctl, &args, &mut ret);
            ret.text
        };
        assert_eq!(shown(1, 1, None), "0x1 (flags FD_CLOEXEC)");
        assert_eq!(shown(1, 0, None), "0");
        assert_eq!(shown(2, 1, None), "1 (SCHED_FIFO)");
        assert_eq!(shown(2, 9, None), "9");
        assert_eq!(shown(3, 1, None), "1");
        // (The test model names no errno.)
        assert_eq!(shown(1, -9i64 as u64, Some(9)), "-1 9 (Unknown error 9)");
    }

    /// A `verbose` array (execve's environment) is counted unless
    /// verbose=on, as strace shows it.
    #[test]
    fn verbose_arrays_show_their_length_unless_verbose() {
        let m = compile(
            "x86_64",
            "table t { 59 execve(cstr filename, in cstr[nul] argv, in cstr[nul] envp verbose) -> i32; }",
        );
        let execve = m.tables[0].find(59).unwrap();
        let mut cpu = SnapshotCpu::new();
        cpu.map(0x1000, b"/bin/sh\0A=1\0B=2\0".to_vec());
        let pointers =
            |list: &[u64]| -> Vec<u8> { list.iter().flat_map(|p| p.to_le_bytes()).collect() };
        cpu.map(0x2000, pointers(&[0x1000, 0]));
        cpu.map(0x3000, pointers(&[0x1008, 0x100c, 0]));
        cpu.map(0x4000, pointers(&[0x1008, 0]));
        cpu.map(0x5000, pointers(&[0]));
        let envp = |at: u64, verbose: bool| -> String {
            let opts = DecodeOptions {
                verbose,
                ..DecodeOptions::default()
            };
            let raw = [Some(0x1000), Some(0x2000), Some(at)];
            decode_entry_args(&m, execve, &raw, &cpu, &opts)[2]
                .text
                .clone()
        };
        assert_eq!(envp(0x3000, false), "0x3000 /* 2 vars */");
        assert_eq!(envp(0x4000, false), "0x4000 /* 1 var */");
        assert_eq!(envp(0x5000, false), "0x5000 /* 0 vars */");
        assert_eq!(envp(0, false), "NULL");
        assert_eq!(envp(0xdead0, false), "0xdead0");
        assert_eq!(envp(0x3000, true), "[\"A=1\", \"B=2\"]");
    }

    /// A register shown in several ways (`|`), each for the values of
    /// another argument its condition names: the first that holds is
    /// shown, `void` shows nothing, and the others are not even read.
    #[test]
    fn alternatives_show_the_first_that_holds() {
        let m = compile(
            "x86_64",
            "enum cmd : i32 { GET = 1, SETNAME = 2, SETMODE = 3 }\n\
             flags mode : u32 { M_A = 1, M_B = 2 }\n\
             table t { 1 ctl(i32 fd, cmd cmd, void arg if cmd == GET \
             | cstr arg if cmd == SETNAME | mode arg if cmd in (SETMODE, 9) | hex arg, \
             i32 extra if cmd & 0xff == 9) -> i32; }",
        );
        let ctl = m.tables[0].find(1).unwrap();
        assert_eq!(ctl.registers(), 4);
        let mut cpu = SnapshotCpu::new();
        cpu.map(0x1000, b"name\0".to_vec());
        let opts = DecodeOptions::default();
        let shown = |cmd: u64, arg: u64| -> Vec<String> {
            let raw = [Some(3), Some(cmd), Some(arg), Some(7)];
            decode_entry_args(&m, ctl, &raw, &cpu, &opts)
                .iter()
                .filter(|a| !a.hidden)
                .map(|a| a.text.clone())
                .collect()
        };
        assert_eq!(shown(1, 0x1000), ["3", "GET"]);
        assert_eq!(shown(2, 0x1000), ["3", "SETNAME", "\"name\""]);
        assert_eq!(shown(3, 3), ["3", "SETMODE", "M_A|M_B"]);
        assert_eq!(shown(9, 2), ["3", "9", "M_B", "7"]);
        assert_eq!(shown(4, 0x1000), ["3", "4", "0x1000"]);
        // The string way, not taken, was not read: nothing is unreadable.
        let raw = [Some(3), Some(1), Some(0xdead), Some(0)];
        let args = decode_entry_args(&m, ctl, &raw, &cpu, &opts);
        assert!(args.iter().all(|a| !a.is_unreadable()));
        assert_eq!(args.iter().filter(|a| a.absent).count(), 4);
    }

    /// Tests joined by `&&` must all hold; a register shown several ways
    /// is tested by its one value (prctl's PR_CAP_AMBIENT operations).
    #[test]
    fn joined_tests_all_hold_even_on_a_register_shown_several_ways() {
        let m = compile(
            "x86_64",
            "enum option : i32 { SET_NAME = 15, AMBIENT = 47 }\n\
             enum ambient : i32 { IS_SET = 1, RAISE = 2, LOWER = 3, CLEAR_ALL = 4 }\n\
             enum cap : i32 { CAP_CHOWN = 0, CAP_KILL = 5 }\n\
             table t { 157 prctl(option option, cstr arg2 if option == SET_NAME \
             | ambient arg2 if option == AMBIENT | hex arg2, \
             cap arg3 if option == AMBIENT && arg2 in (IS_SET, RAISE, LOWER) | hex arg3) -> i32; }",
        );
        let prctl = m.tables[0].find(157).unwrap();
        let mut cpu = SnapshotCpu::new();
        cpu.map(0x1000, b"name\0".to_vec());
        let opts = DecodeOptions::default();
        let shown = |option: u64, arg2: u64, arg3: u64| -> Vec<String> {
            let raw = [Some(option), Some(arg2), Some(arg3)];
            decode_entry_args(&m, prctl, &raw, &cpu, &opts)
                .iter()
                .filter(|a| !a.hidden)
                .map(|a| a.text.clone())
                .collect()
        };
        assert_eq!(shown(47, 1, 0), ["AMBIENT", "IS_SET", "CAP_CHOWN"]);
        assert_eq!(shown(47, 3, 5), ["AMBIENT", "LOWER", "CAP_KILL"]);
        assert_eq!(shown(47, 4, 0), ["AMBIENT", "CLEAR_ALL", "0"]);
        // arg2 is 1, but the option is not AMBIENT.
        assert_eq!(shown(15, 0x1000, 0), ["SET_NAME", "\"name\"", "0"]);
        assert_eq!(shown(9, 1, 5), ["9", "0x1", "0x5"]);
    }

    /// An inout length the kernel changed shows both values, as strace
    /// shows accept's and recvfrom's: `[128 => 16]`; one it left shows once.
    #[test]
    fn inout_lengths_show_what_the_kernel_changed() {
        let m = compile(
            "x86_64",
            "table t { 43 accept(i32 fd, ptr addr, inout i32[1] len) -> i32; }",
        );
        let accept = m.tables[0].find(43).unwrap();
        let opts = DecodeOptions::default();
        let shown = |entry: i32, exit: i32| -> String {
            let mut cpu = SnapshotCpu::new();
            cpu.map(0x1000, entry.to_le_bytes().to_vec());
            let raw = [Some(3), Some(0x2000), Some(0x1000)];
            let mut args = decode_entry_args(&m, accept, &raw, &cpu, &opts);
            cpu.map(0x1000, exit.to_le_bytes().to_vec());
            decode_exit_args(&m, accept, &mut args, Some(5), &cpu, &opts);
            args[2].text.clone()
        };
        assert_eq!(shown(128, 16), "[128 => 16]");
        assert_eq!(shown(16, 16), "[16]");
        // Joined once: a second decoding at exit keeps what the first made.
        let mut text = String::from("[128 => 16][16]");
        join_entry_and_exit(&mut text, "[128 => 16]".len(), false);
        assert_eq!(text, "[128 => 16]");
    }

    /// An `updated` argument the kernel changed shows whole twice, as
    /// strace shows sendfile's offset; one it left, once.
    #[test]
    fn updated_arguments_show_both_values_whole() {
        let joined = |entry: &str, exit: &str, unreadable| {
            let mut text = format!("{entry}{exit}");
            join_whole(&mut text, entry.len(), unreadable);
            text
        };
        assert_eq!(joined("[0]", "[4]", false), "[0] => [4]");
        assert_eq!(joined("[4]", "[4]", false), "[4]");
        assert_eq!(joined("[0]", "", false), "[0]");
        assert_eq!(joined("[0]", "0x10", true), "[0]");
        // Joined once: a second decoding at exit keeps what the first made.
        assert_eq!(joined("[0] => [4]", "[4]", false), "[0] => [4]");
    }

    /// An `updated` field the kernel changed shows as strace shows
    /// recvmsg's `msg_namelen`; one it left, or a nested one, once.
    #[test]
    fn updated_fields_show_what_the_kernel_changed() {
        let entry = r#"{msg_name=0x10, msg_namelen=128, msg_iov=[{iov_base="a, msg_namelen=1", iov_len=1}]}"#;
        let mut exit =
            r#"{msg_name={sa_family=AF_UNIX}, msg_namelen=2, msg_iov=[{iov_base="b", iov_len=1}]}"#
                .to_string();
        join_field(&mut exit, entry, "msg_namelen");
        assert_eq!(
            exit,
            r#"{msg_name={sa_family=AF_UNIX}, msg_namelen=128 => 2, msg_iov=[{iov_base="b", iov_len=1}]}"#
        );
        let mut same = "{a=1, msg_namelen=128}".to_string();
        join_field(&mut same, "{a=2, msg_namelen=128}", "msg_namelen");
        assert_eq!(same, "{a=1, msg_namelen=128}");
        assert_eq!(top_field("{a={msg_namelen=3}}", "msg_namelen"), None);
    }

    /// name_to_handle_at as strace shows it: the room given, then what the
    /// kernel wrote, the handle's bytes after the structure in hex; a
    /// failed call shows only the room.
    #[test]
    fn trailing_buffers_follow_their_structure() {
        let m = compile(
            "x86_64",
            "struct file_handle { u32 handle_bytes updated; i32 handle_type output; \
             hexbuf[handle_bytes] f_handle trailing output; }\n\
             table t { 303 name_to_handle_at(i32 dfd, cstr name, inout file_handle handle, \
             out i32[1] mnt_id, i32 flags) -> i32; }",
        );
        assert_eq!(m.structs[0].size, 8);
        let call = m.tables[0].find(303).unwrap();
        let opts = DecodeOptions::default();
        let shown = |ret: Option<u64>| -> String {
            let mut cpu = SnapshotCpu::new();
            cpu.map(0x2000, [128u32.to_le_bytes(), [0xaa; 4]].concat());
            let raw = [Some(3), Some(0), Some(0x2000), Some(0), Some(0)];
            let mut args = decode_entry_args(&m, call, &raw, &cpu, &opts);
            let mut handle = [8u32.to_le_bytes(), 1i32.to_le_bytes()].concat();
            handle.extend_from_slice(&[0x0c, 0, 0, 0, 0x41, 0x8c, 0x3b, 0x62]);
            cpu.map(0x2000, handle);
            decode_exit_args(&m, call, &mut args, ret, &cpu, &opts);
            args[2].text.clone()
        };
        assert_eq!(
            shown(Some(0)),
            r#"{handle_bytes=128 => 8, handle_type=1, f_handle="\x0c\x00\x00\x00\x41\x8c\x3b\x62"}"#
        );
        assert_eq!(shown(None), "{handle_bytes=128}");
    }

    #[test]
    fn negative_error_convention() {
        let mut m = model();
        let neg = ErrorConvention::Negative { max: 4095 };
        assert_eq!(error_number(&m, &neg, -2i64 as u64, None), Some(2));
        assert_eq!(error_number(&m, &neg, -4095i64 as u64, None), Some(4095));
        assert_eq!(error_number(&m, &neg, -4096i64 as u64, None), None);
        assert_eq!(error_number(&m, &neg, 3, None), None);
        assert_eq!(error_number(&m, &neg, 0, None), None);
        // 0xfffffffe is -2 only on a 32-bit guest.
        assert_eq!(error_number(&m, &neg, 0xffff_fffe, None), None);
        m.bits = 32;
        assert_eq!(error_number(&m, &neg, 0xffff_fffe, None), Some(2));
        assert_eq!(
            error_number(&m, &ErrorConvention::None, u64::MAX, None),
            None
        );
    }

    #[test]
    fn flag_error_convention() {
        let m = model();
        let mut mech = mechanism();
        mech.error = ErrorConvention::Flag(Expr::Binary(
            osm_model::BinOp::And,
            Box::new(Expr::Reg(RegId(1))),
            Box::new(Expr::Const(1)),
        ));
        let mut cpu = SnapshotCpu::new();
        assert_eq!(mechanism_error(&m, &mech, 2, &cpu), None);
        cpu.set_reg(1, 0x203);
        assert_eq!(mechanism_error(&m, &mech, 2, &cpu), Some(2));
        cpu.set_reg(1, 0x202);
        assert_eq!(mechanism_error(&m, &mech, 2, &cpu), None);
        assert_eq!(
            mechanism_error(&m, &mechanism(), -2i64 as u64, &cpu),
            Some(2)
        );
    }

    #[test]
    fn returns() {
        let m = model();
        let ssize = &m.tables[0].syscalls[0].ret;
        let r = decode_return(&m, ssize, -2i64 as u64, Some(2));
        assert_eq!(r.text, "-1 ENOENT (No such file or directory)");
        assert_eq!(r.error.as_ref().unwrap().name, "ENOENT");
        // Shared values: the first name wins.
        assert_eq!(
            decode_return(&m, ssize, 0, Some(11)).text,
            "-1 EAGAIN (Resource temporarily unavailable)"
        );
        assert_eq!(
            decode_return(&m, ssize, 0, Some(999)).text,
            "-1 999 (Unknown error 999)"
        );
        let ok = decode_return(&m, ssize, 11, None);
        assert_eq!(
            (ok.text.as_str(), ok.error, ok.signed),
            ("11", None, Some(11))
        );
        let ptr = decode_return(&m, &Ty::Ptr, 0x7f00, None);
        assert_eq!((ptr.text.as_str(), ptr.signed), ("0x7f00", None));
        // A failed call of an unsigned type (mmap's address) is -errno.
        assert_eq!(
            decode_return(&m, &Ty::Ptr, -12i64 as u64, Some(12)).signed,
            Some(-12)
        );
        assert_eq!(
            decode_return(&m, ssize, -2i64 as u64, Some(2)).signed,
            Some(-2)
        );
        assert_eq!(errno_info(&m, 1).message, "Operation not permitted");
    }

    #[test]
    fn conditional_and_padding_arguments_are_hidden() {
        let m = compile("x86_64", TYPES);
        let mut cpu = SnapshotCpu::new();
        cpu.map(0x1000, b"f\0".to_vec());
        assert_eq!(
            entry_texts(&m, 3, &[3, 0x1000, 0, 0o644], &cpu),
            ["3", "\"f\"", "O_RDONLY"]
        );
        assert_eq!(
            entry_texts(&m, 3, &[3, 0x1000, 0x41, 0o644], &cpu),
            ["3", "\"f\"", "O_WRONLY|O_CREAT", "0644"]
        );
        assert_eq!(entry_texts(&m, 11, &[1, 2, 3, 4], &cpu), ["1", "3"]);
    }

    /// poll as strace shows it: the descriptors and their events in place,
    /// those found ready with their revents after the return.
    #[test]
    fn poll_shows_what_the_kernel_returned_after_the_return() {
        let m = compile("x86_64", TYPES);
        let poll = m.tables[0].find(13).unwrap();
        let pollfd = |fd: i32, events: i16, revents: i16| {
            [
                fd.to_le_bytes().as_slice(),
                &events.to_le_bytes(),
                &revents.to_le_bytes(),
            ]
            .concat()
        };
        let mut cpu = SnapshotCpu::new();
        cpu.map(0x1000, [pollfd(3, 1, 0), pollfd(4, 5, 0)].concat());
        let opts = DecodeOptions::default();
        let raw = [Some(0x1000), Some(2), Some(1000)];
        let mut args = decode_entry_args(&m, poll, &raw, &cpu, &opts);
        let entry = "[{fd=3, events=POLLIN}, {fd=4, events=POLLIN|POLLOUT}]";
        assert_eq!(args[0].text, entry);
        cpu.map(0x1000, [pollfd(3, 1, 0), pollfd(4, 5, 4)].concat());
        decode_exit_args(&m, poll, &mut args, Some(1), &cpu, &opts);
        assert_eq!(args[0].text, entry, "the argument keeps its entry text");
        let ret = call_return(String::new(), &m, Some(poll), &args, 1, None);
        assert_eq!(ret.text, "1 ([{fd=4, revents=POLLOUT}])");
        // Nothing ready: the enum names the return.
        cpu.map(0x1000, [pollfd(3, 1, 0), pollfd(4, 5, 0)].concat());
        decode_exit_args(&m, poll, &mut args, Some(0), &cpu, &opts);
        let ret = call_return(String::new(), &m, Some(poll), &args, 0, None);
        assert_eq!(ret.text, "0 (Timeout)");
        // A failed call explains nothing.
        decode_exit_args(&m, poll, &mut args, None, &cpu, &opts);
        let ret = call_return(String::new(), &m, Some(poll), &args, -4i64 as u64, Some(4));
        assert_eq!(ret.text, "-1 4 (Unknown error 4)");
    }

    /// select as strace shows it: the sets given in place, those the
    /// kernel left non-empty and the time left after the return.
    #[test]
    fn select_shows_the_sets_and_time_left_after_the_return() {
        let m = compile("x86_64", TYPES);
        let select = m.tables[0].find(14).unwrap();
        let mut cpu = SnapshotCpu::new();
        let time = |sec: u64, nsec: u64| [sec.to_le_bytes(), nsec.to_le_bytes()].concat();
        cpu.map(0x2000, (0b11000u64).to_le_bytes().to_vec());
        cpu.map(0x3000, (0b10000u64).to_le_bytes().to_vec());
        cpu.map(0x4000, time(1, 0));
        let opts = DecodeOptions::default();
        let raw = [Some(5), Some(0x2000), Some(0x3000), Some(0), Some(0x4000)];
        let mut args = decode_entry_args(&m, select, &raw, &cpu, &opts);
        let entry: Vec<String> = args.iter().map(|a| a.text.clone()).collect();
        assert_eq!(
            entry,
            ["5", "[3 4]", "[4]", "NULL", "{tv_sec=1, tv_nsec=0}"]
        );
        cpu.map(0x2000, (0b01000u64).to_le_bytes().to_vec());
        cpu.map(0x3000, 0u64.to_le_bytes().to_vec());
        cpu.map(0x4000, time(0, 999));
        decode_exit_args(&m, select, &mut args, Some(1), &cpu, &opts);
        let exit: Vec<String> = args.iter().map(|a| a.text.clone()).collect();
        assert_eq!(exit, entry);
        let ret = call_return(String::new(), &m, Some(select), &args, 1, None);
        assert_eq!(ret.text, "1 (in [3], left {tv_sec=0, tv_nsec=999})");
    }
}
