//! One event as a raw record, and back: a call's halves as their capture
//! (registers and memory, decoded by [`decode_capture`]), anything else
//! (signals, process ends) as the decoded event. The layout is in
//! docs/raw-format.md.

use super::capture::{Replay, get_varint, put_varint};
use crate::decode::{self, Arg, DecodeOptions, ErrorInfo, Return};
use crate::format::{Event, EventKind, OwnedEvent};
use crate::task::{Comm, TaskNames};
use osm_model::{Direction, Model, Syscall};

const HAS_TS: u8 = 1;
const HAS_ENTRY_TS: u8 = 2;
const HAS_ENTERED_AS: u8 = 4;
const HAS_TASK: u8 = 8;
const HAS_CAPTURE: u8 = 16;
const HAS_DECL: u8 = 32;
const HAS_RET: u8 = 64;
/// Version 2: the call entered as the thread and process it returns as
/// (the exit of almost every call), written as this flag alone.
const ENTERED_AS_ITSELF: u8 = 128;

/// Version 3, after [`HAS_TASK`]: the task is the chunk's last one written
/// out, or follows.
const TASK_AS_BEFORE: u8 = 0;
const TASK_WRITTEN: u8 = 1;

fn kind_code(kind: EventKind) -> u8 {
    match kind {
        EventKind::Entry => 0,
        EventKind::Exit => 1,
        EventKind::Signal => 2,
        EventKind::Exited => 3,
        EventKind::Killed { core_dumped: false } => 4,
        EventKind::Killed { core_dumped: true } => 5,
        EventKind::Superseded => 6,
    }
}

fn kind_of(code: u8) -> Option<EventKind> {
    Some(match code {
        0 => EventKind::Entry,
        1 => EventKind::Exit,
        2 => EventKind::Signal,
        3 => EventKind::Exited,
        4 => EventKind::Killed { core_dumped: false },
        5 => EventKind::Killed { core_dumped: true },
        6 => EventKind::Superseded,
        _ => return None,
    })
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    (v >> 1) as i64 ^ -((v & 1) as i64)
}

/// What a record's numbers are written against, from version 3: the
/// previous record of the same chunk (all zero before a chunk's first).
/// A vCPU's records follow one another closely: the same thread and
/// process, the next numbers, a moment later.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Context {
    seq: u64,
    thread: u64,
    process: u64,
    ts: u64,
    /// The last task written out in the chunk.
    task: Option<TaskNames>,
}

/// `value` written against `before`: a few bytes when they are close.
fn delta(value: u64, before: u64) -> u64 {
    zigzag(value.wrapping_sub(before) as i64)
}

fn undelta(written: u64, before: u64) -> u64 {
    before.wrapping_add(unzigzag(written) as u64)
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn put_opt(out: &mut Vec<u8>, v: Option<u64>) {
    match v {
        Some(v) => {
            out.push(1);
            put_varint(out, v);
        }
        None => out.push(0),
    }
}

/// A record's fixed part, put together on the stack and appended at
/// once: a varint at a time into the buffer costs a capacity check a byte.
struct Head {
    bytes: [u8; Head::MAX],
    len: usize,
}

impl Head {
    /// seq, kind, flags, five numbers, ts, entry_ts, entered_as: at most
    /// ten varints of ten bytes and two bytes.
    const MAX: usize = 10 * 10 + 2;

    #[inline]
    fn byte(&mut self, b: u8) {
        self.bytes[self.len] = b;
        self.len += 1;
    }

    #[inline]
    fn varint(&mut self, mut value: u64) {
        while value >= 0x80 {
            self.byte(value as u8 | 0x80);
            value >>= 7;
        }
        self.byte(value as u8);
    }
}

/// Appends `event`, numbered `seq`, to `out`, in the layout of
/// [`super::VERSION`], written against `context` (the chunk's previous
/// record), which then becomes this record's.
pub fn encode(event: &Event<'_>, seq: u64, out: &mut Vec<u8>, context: &mut Context) {
    let itself = event.entered_as == Some((event.thread, event.process));
    // Another identity than the exit's (an exec, arch_prctl), written out.
    let entered_as = event.entered_as.filter(|_| !itself);
    let flags = [
        (event.ts.is_some(), HAS_TS),
        (event.entry_ts.is_some(), HAS_ENTRY_TS),
        (entered_as.is_some(), HAS_ENTERED_AS),
        (itself, ENTERED_AS_ITSELF),
        (event.task.is_some(), HAS_TASK),
        (event.capture.is_some(), HAS_CAPTURE),
        (event.capture.is_none() && event.decl.is_some(), HAS_DECL),
        (event.capture.is_none() && event.ret.is_some(), HAS_RET),
    ]
    .iter()
    .filter(|(set, _)| *set)
    .fold(0, |flags, (_, bit)| flags | bit);
    let mut head = Head {
        bytes: [0; Head::MAX],
        len: 0,
    };
    head.varint(delta(seq, context.seq));
    head.byte(kind_code(event.kind));
    head.byte(flags);
    for v in [
        u64::from(event.vcpu),
        delta(event.thread, context.thread),
        delta(event.process, context.process),
        event.nr,
        u64::from(event.unreadable),
    ] {
        head.varint(v);
    }
    if let Some(ts) = event.ts {
        head.varint(delta(ts, context.ts));
        context.ts = ts;
    }
    (context.seq, context.thread, context.process) = (seq, event.thread, event.process);
    // The entry's time as its distance from the exit's: a few bytes, not
    // nine. Signed: virtual times are per vCPU, and a call may return on
    // another.
    match (event.ts, event.entry_ts) {
        (Some(ts), Some(entry)) => head.varint(delta(ts, entry)),
        (None, Some(entry)) => head.varint(entry),
        _ => {}
    }
    if let Some((thread, process)) = entered_as {
        head.varint(thread);
        head.varint(process);
    }
    out.extend_from_slice(&head.bytes[..head.len]);
    if let Some(task) = &event.task {
        // The same task as the chunk's last one written out: one byte.
        if context.task.as_ref() == Some(task) {
            out.push(TASK_AS_BEFORE);
        } else {
            out.push(TASK_WRITTEN);
            put_task(out, task);
            context.task = Some(*task);
        }
    }
    if let Some(capture) = event.capture {
        put_bytes(out, capture);
        return;
    }
    put_bytes(out, event.name.as_bytes());
    put_varint(out, event.classes.len() as u64);
    for class in event.classes {
        put_bytes(out, class.as_bytes());
    }
    put_varint(out, event.args.len() as u64);
    for arg in event.args {
        put_arg(out, arg);
    }
    if let Some(ret) = event.ret {
        put_varint(out, ret.raw);
        put_opt(out, ret.signed.map(zigzag));
        put_bytes(out, ret.text.as_bytes());
        match &ret.error {
            Some(e) => {
                out.push(1);
                put_varint(out, e.value);
                put_bytes(out, e.name.as_bytes());
                put_bytes(out, e.message.as_bytes());
            }
            None => out.push(0),
        }
    }
    if let Some(decl) = event.decl {
        put_varint(out, u64::from(decl));
    }
}

fn put_task(out: &mut Vec<u8>, task: &TaskNames) {
    put_varint(out, zigzag(task.tid));
    put_varint(out, zigzag(task.pid));
    put_opt(out, task.ppid.map(zigzag));
    match &task.comm {
        Some(comm) => {
            out.push(1);
            put_bytes(out, comm.as_bytes());
        }
        None => out.push(0),
    }
}

fn put_arg(out: &mut Vec<u8>, arg: &Arg) {
    put_bytes(out, arg.name.as_bytes());
    put_bytes(out, arg.type_name.as_bytes());
    out.push(match arg.dir {
        Direction::In => 0,
        Direction::Out => 1,
        Direction::InOut => 2,
    });
    put_opt(out, arg.raw);
    put_bytes(out, arg.text.as_bytes());
    let flags = [
        arg.hidden,
        arg.unreadable,
        arg.reread,
        arg.absent,
        arg.named,
        arg.updated,
    ]
    .iter()
    .enumerate()
    .fold(0u8, |f, (i, &set)| f | (u8::from(set) << i));
    out.push(flags);
}

fn task(input: &mut Input<'_>) -> Result<TaskNames, String> {
    let tid = unzigzag(input.varint()?);
    let pid = unzigzag(input.varint()?);
    let ppid = input.opt()?.map(unzigzag);
    let comm = match input.u8()? {
        0 => None,
        _ => Some(Comm::new(input.bytes()?)),
    };
    Ok(TaskNames {
        tid,
        pid,
        ppid,
        comm,
    })
}

/// Reads what [`encode`] wrote, from a byte slice.
struct Input<'b> {
    bytes: &'b [u8],
    pos: usize,
}

impl<'b> Input<'b> {
    fn varint(&mut self) -> Result<u64, String> {
        get_varint(self.bytes, &mut self.pos).ok_or_else(|| "a number cut short".to_string())
    }

    fn u8(&mut self) -> Result<u8, String> {
        let b = *self.bytes.get(self.pos).ok_or("a record cut short")?;
        self.pos += 1;
        Ok(b)
    }

    fn bytes(&mut self) -> Result<&'b [u8], String> {
        let len = usize::try_from(self.varint()?).map_err(|e| e.to_string())?;
        let end = self.pos.checked_add(len).ok_or("a length out of range")?;
        let b = self.bytes.get(self.pos..end).ok_or("a field cut short")?;
        self.pos = end;
        Ok(b)
    }

    fn text(&mut self) -> Result<String, String> {
        String::from_utf8(self.bytes()?.to_vec()).map_err(|_| "text that is not UTF-8".to_string())
    }

    fn opt(&mut self) -> Result<Option<u64>, String> {
        match self.u8()? {
            0 => Ok(None),
            _ => self.varint().map(Some),
        }
    }
}

/// What a record holds besides the event: its number and, for a call's
/// half, its capture (decoded by [`decode_capture`]).
pub struct Decoded<'b> {
    pub seq: u64,
    pub event: OwnedEvent,
    pub capture: Option<&'b [u8]>,
}

/// The number of the record of layout `version` at `pos`, written against
/// `context`.
pub fn peek_seq(bytes: &[u8], pos: usize, version: u32, context: &Context) -> Option<u64> {
    let written = get_varint(bytes, &mut { pos })?;
    Some(if version >= 3 {
        undelta(written, context.seq)
    } else {
        written
    })
}

/// One record of layout `version` from `bytes` at `*pos`, moving past it;
/// from version 3 its numbers are read against `context` (the chunk's
/// previous record), which then becomes this record's.
pub fn decode<'b>(
    bytes: &'b [u8],
    pos: &mut usize,
    version: u32,
    context: &mut Context,
) -> Result<Decoded<'b>, String> {
    let mut input = Input { bytes, pos: *pos };
    let relative = version >= 3;
    let against = |written: u64, before: u64| {
        if relative {
            undelta(written, before)
        } else {
            written
        }
    };
    let seq = against(input.varint()?, context.seq);
    let kind = kind_of(input.u8()?).ok_or("an unknown kind of event")?;
    let flags = input.u8()?;
    let mut event = OwnedEvent {
        kind,
        ..OwnedEvent::default()
    };
    event.vcpu = u32::try_from(input.varint()?).map_err(|e| e.to_string())?;
    event.thread = against(input.varint()?, context.thread);
    event.process = against(input.varint()?, context.process);
    event.nr = input.varint()?;
    event.unreadable = u32::try_from(input.varint()?).map_err(|e| e.to_string())?;
    if flags & HAS_TS != 0 {
        event.ts = Some(against(input.varint()?, context.ts));
    }
    if relative {
        (context.seq, context.thread, context.process) = (seq, event.thread, event.process);
        context.ts = event.ts.unwrap_or(context.ts);
    }
    if flags & HAS_ENTRY_TS != 0 {
        let v = input.varint()?;
        event.entry_ts = Some(match event.ts {
            Some(ts) if version >= 2 => ts.wrapping_sub(unzigzag(v) as u64),
            _ => v,
        });
    }
    if flags & HAS_ENTERED_AS != 0 {
        event.entered_as = Some((input.varint()?, input.varint()?));
    } else if flags & ENTERED_AS_ITSELF != 0 && version >= 2 {
        event.entered_as = Some((event.thread, event.process));
    }
    if flags & HAS_TASK != 0 {
        let written = !relative || input.u8()? == TASK_WRITTEN;
        event.task = if written {
            let task = task(&mut input)?;
            context.task = Some(task);
            Some(task)
        } else {
            Some(
                context
                    .task
                    .ok_or("a task as before with none before it in its chunk")?,
            )
        };
    }
    let mut capture = None;
    if flags & HAS_CAPTURE != 0 {
        capture = Some(input.bytes()?);
    } else {
        event.name = input.text()?;
        for _ in 0..input.varint()? {
            event.classes.push(input.text()?);
        }
        for _ in 0..input.varint()? {
            event.args.push(arg(&mut input)?);
        }
        if flags & HAS_RET != 0 {
            let raw = input.varint()?;
            let signed = input.opt()?.map(unzigzag);
            let text = input.text()?;
            let error = match input.u8()? {
                0 => None,
                _ => Some(ErrorInfo {
                    value: input.varint()?,
                    name: input.text()?,
                    message: input.text()?,
                }),
            };
            event.ret = Some(Return {
                raw,
                signed,
                text,
                error,
            });
        }
        if flags & HAS_DECL != 0 {
            event.decl = Some(u32::try_from(input.varint()?).map_err(|e| e.to_string())?);
        }
    }
    *pos = input.pos;
    Ok(Decoded {
        seq,
        event,
        capture,
    })
}

fn arg(input: &mut Input<'_>) -> Result<Arg, String> {
    let name = input.text()?;
    let type_name = input.text()?;
    let dir = match input.u8()? {
        0 => Direction::In,
        1 => Direction::Out,
        _ => Direction::InOut,
    };
    let raw = input.opt()?;
    let text = input.text()?;
    let flags = input.u8()?;
    let bit = |i: u8| flags >> i & 1 == 1;
    Ok(Arg {
        name: name.as_str().into(),
        type_name: type_name.as_str().into(),
        dir,
        raw,
        text,
        hidden: bit(0),
        unreadable: bit(1),
        reread: bit(2),
        absent: bit(3),
        named: bit(4),
        updated: bit(5),
        returned: String::new(),
    })
}

/// Writes a call's capture: which call, its argument registers, then the
/// memory its entry reads (through [`CaptureLog`]).
pub fn begin_capture(out: &mut Vec<u8>, table: u32, syscall: Option<usize>, raw: &[Option<u64>]) {
    put_varint(out, u64::from(table));
    put_varint(out, syscall.map_or(0, |s| s as u64 + 1));
    put_varint(out, raw.len() as u64);
    let present = raw
        .iter()
        .enumerate()
        .fold(0u64, |m, (i, v)| m | (u64::from(v.is_some()) << i));
    put_varint(out, present);
    for v in raw.iter().flatten() {
        put_varint(out, *v);
    }
}

/// Appends the exit's part of a call's capture: its return value and
/// errno (`None` for a call shown as not returning: `process_ended` when
/// its process ended first), whether it is a child's return; the memory its
/// exit reads follows (a [`CaptureLog`]).
pub fn exit_capture(
    out: &mut Vec<u8>,
    ret: Option<(u64, Option<u64>)>,
    child: bool,
    process_ended: bool,
) {
    match ret {
        Some((raw, errno)) => {
            out.push(1);
            put_varint(out, raw);
            put_varint(out, errno.map_or(0, |e| e + 1));
            out.push(u8::from(child));
        }
        None => out.push(if process_ended { 2 } else { 0 }),
    }
}

/// The length-prefixed log of the reads a capture walk makes: begun
/// before the walk records into the same buffer, ended after it.
pub struct CaptureLog {
    at: usize,
}

impl CaptureLog {
    pub fn begin(out: &mut Vec<u8>) -> Self {
        let at = out.len();
        out.extend_from_slice(&[0; 4]);
        CaptureLog { at }
    }

    pub fn end(self, out: &mut [u8]) {
        let len = (out.len() - self.at - 4) as u32;
        out[self.at..self.at + 4].copy_from_slice(&len.to_le_bytes());
    }
}

fn log<'b>(input: &mut Input<'b>) -> Result<&'b [u8], String> {
    let at = input.pos;
    let len = input.bytes.get(at..at + 4).ok_or("a capture cut short")?;
    let len = u32::from_le_bytes(len.try_into().map_err(|_| "a capture cut short")?) as usize;
    let log = input
        .bytes
        .get(at + 4..at + 4 + len)
        .ok_or("a capture cut short")?;
    input.pos = at + 4 + len;
    Ok(log)
}

/// A call's half decoded from its capture: what the tracer would have
/// decoded on the vCPU.
pub struct Call<'m> {
    pub syscall: Option<&'m Syscall>,
    pub ret: Option<Return>,
    pub decl: Option<u32>,
    /// Reads the decoding asked for that the capture did not hold (none
    /// when the model and options are the capture's).
    pub misses: u32,
    /// An exit whose process ended before the call returned.
    pub process_ended: bool,
}

/// Decodes a call's capture (of an exit when `exit`) into `args` (reusing
/// its buffers) and the parts [`Call`] holds, the declaration number when
/// `decl_base` (lean jsonl's) is given, the return's text into `ret_text`.
pub fn decode_call<'m>(
    model: &'m Model,
    options: &DecodeOptions,
    decl_base: &[u32],
    capture: &[u8],
    exit: bool,
    args: &mut Vec<Arg>,
    ret_text: String,
) -> Result<Call<'m>, String> {
    let mut input = Input {
        bytes: capture,
        pos: 0,
    };
    let table = u32::try_from(input.varint()?).map_err(|e| e.to_string())?;
    let index = input.varint()?.checked_sub(1).map(|i| i as usize);
    let count = usize::try_from(input.varint()?).map_err(|e| e.to_string())?;
    if count > crate::os::MAX_ARGS {
        return Err(format!("{count} arguments"));
    }
    let present = input.varint()?;
    let mut raw = [None; crate::os::MAX_ARGS];
    for (i, slot) in raw.iter_mut().enumerate().take(count) {
        if present >> i & 1 == 1 {
            *slot = Some(input.varint()?);
        }
    }
    let raw = &raw[..count];
    let syscall = match index {
        Some(i) => Some(
            model
                .tables
                .get(table as usize)
                .and_then(|t| t.syscalls.get(i))
                .ok_or_else(|| format!("call {i} of table {table}: not in the model"))?,
        ),
        None => None,
    };
    let entry = Replay::new(log(&mut input)?);
    match syscall {
        Some(s) => decode::decode_entry_args_into(args, model, s, raw, &entry, options),
        None => *args = decode::unknown_args(raw),
    }
    let mut misses = entry.misses();
    let mut ret = None;
    // An exit without the exit's part is a call that does not return
    // (its entry's capture, shown again); 2, one whose process ended first.
    let returned = if exit && input.pos < capture.len() {
        input.u8()?
    } else {
        0
    };
    if returned == 1 {
        let value = input.varint()?;
        let errno = input.varint()?.checked_sub(1);
        let child = input.u8()? == 1;
        let exit = Replay::new(log(&mut input)?);
        if let Some(s) = syscall
            && !child
        {
            let written = errno.is_none().then_some(value);
            decode::decode_exit_args(model, s, args, written, &exit, options);
        }
        misses += exit.misses();
        ret = Some(decode::call_return(
            ret_text, model, syscall, args, value, errno,
        ));
    }
    let decl = match (syscall, index, decl_base.get(table as usize)) {
        (Some(s), Some(i), Some(base)) if s.args.len() == args.len() => Some(base + i as u32),
        _ => None,
    };
    Ok(Call {
        syscall,
        ret,
        decl,
        misses,
        process_ended: returned == 2,
    })
}

/// Decodes a call's capture into `event` ([`decode_call`]): its name,
/// classes, arguments, return and declaration number. Returns the reads
/// the capture did not hold.
pub fn decode_capture(
    model: &Model,
    options: &DecodeOptions,
    decl_base: &[u32],
    capture: &[u8],
    event: &mut OwnedEvent,
) -> Result<u32, String> {
    let exit = event.kind == EventKind::Exit;
    let call = decode_call(
        model,
        options,
        decl_base,
        capture,
        exit,
        &mut event.args,
        String::new(),
    )?;
    event.name = decode::call_name(call.syscall, event.nr).into_owned();
    event.classes = call.syscall.map_or_else(Vec::new, |s| s.classes.clone());
    event.ret = call.ret;
    event.decl = call.decl;
    event.process_ended = call.process_ended;
    Ok(call.misses)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::OwnedEvent;

    fn exit(ts: Option<u64>, entry_ts: Option<u64>, entered_as: Option<(u64, u64)>) -> OwnedEvent {
        OwnedEvent {
            kind: EventKind::Exit,
            vcpu: 1,
            thread: 0xffff_8880_0123_4560,
            process: 0x1234_5000,
            nr: 39,
            name: "getpid".into(),
            ts,
            entry_ts,
            entered_as,
            ..OwnedEvent::default()
        }
    }

    /// Each kind of event has a code of its own, read back as itself.
    #[test]
    fn every_kind_reads_back() {
        let kinds = [
            EventKind::Entry,
            EventKind::Exit,
            EventKind::Signal,
            EventKind::Exited,
            EventKind::Killed { core_dumped: false },
            EventKind::Killed { core_dumped: true },
            EventKind::Superseded,
        ];
        for kind in kinds {
            assert_eq!(kind_of(kind_code(kind)), Some(kind));
        }
        assert_eq!(kind_of(kinds.len() as u8), None);
    }

    /// An exit without a return says whether its process ended first
    /// (exit part 2), which the writer shows as `<unfinished ...>) = ?`.
    #[test]
    fn an_exit_whose_process_ended_reads_back_as_such() {
        let model = crate::testutil::model();
        for process_ended in [false, true] {
            let mut capture = Vec::new();
            begin_capture(&mut capture, 0, None, &[Some(3), Some(0x1000)]);
            CaptureLog::begin(&mut capture).end(&mut capture);
            exit_capture(&mut capture, None, false, process_ended);
            let mut args = Vec::new();
            let call = decode_call(
                &model,
                &crate::decode::DecodeOptions::default(),
                &[],
                &capture,
                true,
                &mut args,
                String::new(),
            )
            .unwrap();
            assert_eq!(call.process_ended, process_ended);
            assert!(call.ret.is_none());
            assert_eq!(args.len(), 2);
        }
    }

    /// The identity a call entered with and its entry time read back as
    /// written, whether or not they are the exit's own (an exec or
    /// arch_prctl changes the identity; virtual times are per vCPU, so an
    /// entry's may be later than the exit's).
    #[test]
    fn exits_read_back_with_their_entry_time_and_identity() {
        let thread = 0xffff_8880_0123_4560;
        for event in [
            exit(Some(5_000), Some(4_000), Some((thread, 0x1234_5000))),
            exit(Some(5_000), Some(9_000), Some((thread, 0x7777_0000))),
            exit(Some(u64::MAX), Some(0), Some((1, 0x1234_5000))),
            exit(Some(0), Some(u64::MAX), None),
            exit(None, Some(1_700_000_000_000_000_000), None),
            exit(None, None, None),
        ] {
            let mut out = Vec::new();
            encode(&event.as_event(), 7, &mut out, &mut Context::default());
            let mut pos = 0;
            let mut context = Context::default();
            let decoded = decode(&out, &mut pos, crate::raw::VERSION, &mut context).unwrap();
            assert_eq!((decoded.seq, pos), (7, out.len()));
            assert_eq!(decoded.event, event);
        }
        // The usual exit: its own identity costs a flag, its entry time
        // its distance from the exit's.
        let mut own = Vec::new();
        let usual = exit(
            Some(1 << 60),
            Some((1 << 60) - 900),
            Some((thread, 0x1234_5000)),
        );
        encode(&usual.as_event(), 7, &mut own, &mut Context::default());
        let mut full = Vec::new();
        let alone = exit(Some(1 << 60), None, None);
        encode(&alone.as_event(), 7, &mut full, &mut Context::default());
        assert_eq!(own.len(), full.len() + 2, "{own:?} against {full:?}");
    }

    /// An exit numbered 3 as an older version wrote it: `flags`, then
    /// `numbers` as varints, then its decoded form (getpid, no classes or
    /// arguments).
    fn older_exit(flags: u8, numbers: &[u64]) -> Vec<u8> {
        let mut record = Vec::new();
        put_varint(&mut record, 3);
        record.extend_from_slice(&[kind_code(EventKind::Exit), flags]);
        for &v in numbers {
            put_varint(&mut record, v);
        }
        put_bytes(&mut record, b"getpid");
        record.extend_from_slice(&[0, 0]);
        record
    }

    /// Records of versions 1 (entry time in full, identity written out)
    /// and 2 (numbers in full, not against the record before, in the
    /// middle of a chunk too) still read.
    #[test]
    fn version_1_and_2_records_read() {
        let (thread, process) = (0xffff_8880_0123_4560, 0x1234_5000);
        let expected = exit(Some(5_000), Some(4_000), Some((thread, process)));
        let v1 = older_exit(
            HAS_TS | HAS_ENTRY_TS | HAS_ENTERED_AS,
            &[1, thread, process, 39, 0, 5_000, 4_000, thread, process],
        );
        let decoded = decode(&v1, &mut 0, 1, &mut Context::default()).unwrap();
        assert_eq!((decoded.seq, decoded.event), (3, expected.clone()));
        let v2 = older_exit(
            HAS_TS | HAS_ENTRY_TS | ENTERED_AS_ITSELF,
            &[1, thread, process, 39, 0, 5_000, zigzag(1_000)],
        );
        let mut context = Context {
            seq: 2,
            thread: 1,
            process: 1,
            ts: 1,
            task: None,
        };
        assert_eq!(peek_seq(&v2, 0, 2, &context), Some(3));
        let decoded = decode(&v2, &mut 0, 2, &mut context).unwrap();
        assert_eq!((decoded.seq, decoded.event), (3, expected));
    }

    /// A chunk's records written one after the other read back in order
    /// from the chunk's start, each against the one before; the next
    /// record of the same thread, a moment later, takes a few bytes.
    #[test]
    fn a_chunks_records_read_back_against_the_one_before() {
        let events = [
            exit(Some(1 << 60), None, None),
            exit(Some((1 << 60) + 700), None, None),
            // An earlier time (another vCPU's virtual clock), another thread.
            exit(Some(5), None, Some((3, 4))),
            OwnedEvent {
                thread: u64::MAX,
                process: 0,
                ..exit(None, Some(u64::MAX), None)
            },
            exit(Some(1 << 60), None, None),
        ];
        let (mut out, mut context, mut ends) = (Vec::new(), Context::default(), Vec::new());
        for (seq, event) in [(1, &events[0]), (2, &events[1]), (9, &events[2])]
            .into_iter()
            .chain([(10, &events[3]), (u64::MAX, &events[4])])
        {
            encode(&event.as_event(), seq, &mut out, &mut context);
            ends.push(out.len());
        }
        // Ten bytes, and the name's nine (these events carry no capture).
        assert_eq!(ends[1] - ends[0], 10 + 9, "{ends:?}: {out:?}");
        let (mut pos, mut context) = (0, Context::default());
        for (i, (seq, event)) in [1, 2, 9, 10, u64::MAX].iter().zip(&events).enumerate() {
            assert_eq!(
                peek_seq(&out, pos, crate::raw::VERSION, &context),
                Some(*seq)
            );
            let decoded = decode(&out, &mut pos, crate::raw::VERSION, &mut context).unwrap();
            assert_eq!((decoded.seq, &decoded.event, pos), (*seq, event, ends[i]));
        }
    }

    /// A record of the same task as the chunk's last one written out says
    /// so in a byte; another task is written out and becomes the one
    /// before; a record without a task leaves it.
    #[test]
    fn a_chunks_tasks_read_back_against_the_last_written() {
        let task = |tid, comm: &[u8]| TaskNames {
            tid,
            pid: 7,
            ppid: Some(1),
            comm: Some(Comm::new(comm)),
        };
        let with = |t: Option<TaskNames>| OwnedEvent {
            task: t,
            ..exit(Some(1 << 60), None, None)
        };
        let events = [
            with(Some(task(7, b"sh"))),
            with(Some(task(7, b"sh"))),
            with(None),
            with(Some(task(7, b"sh"))),
            with(Some(task(8, b"sh"))),
            with(Some(task(8, b"a-longer-name"))),
            with(Some(task(7, b"sh"))),
        ];
        let (mut out, mut context, mut sizes) = (Vec::new(), Context::default(), Vec::new());
        for (seq, event) in (1..).zip(&events) {
            let before = out.len();
            encode(&event.as_event(), seq, &mut out, &mut context);
            sizes.push(out.len() - before);
        }
        // The second and fourth records are the third's size and a byte.
        assert_eq!(
            (sizes[1], sizes[3]),
            (sizes[2] + 1, sizes[2] + 1),
            "{sizes:?}"
        );
        let (mut pos, mut context) = (0, Context::default());
        for (seq, event) in (1..).zip(&events) {
            let decoded = decode(&out, &mut pos, crate::raw::VERSION, &mut context).unwrap();
            assert_eq!((decoded.seq, &decoded.event), (seq, event));
        }
        assert_eq!(pos, out.len());
        // A chunk cannot start with a task as before.
        let mut context = Context {
            task: Some(task(7, b"sh")),
            ..Context::default()
        };
        let mut as_before = Vec::new();
        encode(&events[1].as_event(), 1, &mut as_before, &mut context);
        let e = decode(
            &as_before,
            &mut 0,
            crate::raw::VERSION,
            &mut Context::default(),
        );
        assert!(e.is_err_and(|e| e.contains("none before it")));
    }
}
