//! Events the format tests share, and running them through a
//! [`Formatter`].

use crate::decode::{Arg, ErrorInfo, Return};
use crate::format::{EventKind, Formatter, OutputConfig, OwnedEvent, Placed};
use osm_model::Direction;

pub(super) fn arg(name: &str, type_name: &str, dir: Direction, raw: u64, text: &str) -> Arg {
    Arg {
        name: name.into(),
        type_name: type_name.into(),
        dir,
        raw: Some(raw),
        text: text.into(),
        ..Arg::default()
    }
}

pub(super) fn read_entry(thread: u64) -> OwnedEvent {
    OwnedEvent {
        kind: EventKind::Entry,
        vcpu: 0,
        thread,
        process: 0x1000,
        nr: 0,
        name: "read".into(),
        args: vec![
            arg("fd", "fd", Direction::In, 3, "3"),
            arg("buf", "buf", Direction::Out, 0x2000, "0x2000"),
            arg("count", "size", Direction::In, 100, "100"),
        ],
        ..OwnedEvent::default()
    }
}

pub(super) fn read_exit(thread: u64) -> OwnedEvent {
    let mut ev = read_entry(thread);
    ev.kind = EventKind::Exit;
    ev.args[1].text = "\"hi\\n\"".into();
    ev.ret = Some(Return {
        raw: 3,
        signed: Some(3),
        text: "3".into(),
        error: None,
    });
    ev
}

pub(super) fn failed_open_exit() -> OwnedEvent {
    OwnedEvent {
        kind: EventKind::Exit,
        vcpu: 1,
        thread: 0x77,
        process: 0x1000,
        nr: 257,
        name: "openat".into(),
        args: vec![
            arg("dirfd", "fd", Direction::In, -100i64 as u64, "AT_FDCWD"),
            arg("path", "cstr", Direction::In, 0x1000, "\"/nonexistent\""),
        ],
        ret: Some(Return {
            raw: -2i64 as u64,
            signed: Some(-2),
            text: "-1 ENOENT (No such file or directory)".into(),
            error: Some(ErrorInfo {
                value: 2,
                name: "ENOENT".into(),
                message: "No such file or directory".into(),
            }),
        }),
        ..OwnedEvent::default()
    }
}

pub(super) fn run(config: impl Into<OutputConfig>, events: &[OwnedEvent]) -> String {
    let mut f = Formatter::new(config);
    let mut out = String::new();
    for ev in events {
        f.event(&ev.as_event(), &mut out);
    }
    f.finish(&mut out);
    out
}

/// What the tracer does: each event's text prepared first, in one buffer
/// reused from event to event, then placed.
pub(super) fn run_prepared(config: impl Into<OutputConfig>, events: &[OwnedEvent]) -> String {
    let mut f = Formatter::new(config);
    let preparer = f.preparer().expect("the format prepares events");
    let mut out = String::new();
    let mut text = String::new();
    for ev in events {
        let ev = ev.as_event();
        text.clear();
        preparer.prepare(&ev, &mut text);
        f.place_prepared(&Placed::of(&ev), &text, &mut out);
    }
    f.finish(&mut out);
    out
}

pub(super) fn timed(mut ev: OwnedEvent, ts: u64, entry_ts: Option<u64>) -> OwnedEvent {
    ev.ts = Some(ts);
    ev.entry_ts = entry_ts;
    ev
}

pub(super) fn failed_open_entry() -> OwnedEvent {
    OwnedEvent {
        kind: EventKind::Entry,
        ret: None,
        ..failed_open_exit()
    }
}
