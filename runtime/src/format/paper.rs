//! The layout of Fig. 1 of Ivanov, Dovgaluk and Makarov (2018): raw values
//! only, so traces can be compared with theirs.

use super::strace::notice;
use super::{Event, EventKind};
use std::fmt::Write;

/// Fig. 1 of the paper: the thread, `entr`/`exit`, the number in hex and
/// the name; then raw argument values with the type and name as written
/// (the space before `)` is the paper's); then the raw return value.
#[inline(never)]
pub fn paper(ev: &Event<'_>, out: &mut String) {
    let word = match ev.kind {
        EventKind::Entry => "entr",
        EventKind::Exit => "exit",
        EventKind::Signal
        | EventKind::Exited
        | EventKind::Killed { .. }
        | EventKind::Superseded => {
            let thread = ev.task.map_or(ev.thread, |t| t.tid as u64);
            let _ = write!(out, "{thread:#x} ");
            return notice(ev, out);
        }
    };
    let thread = ev.task.map_or(ev.thread, |t| t.tid as u64);
    let _ = writeln!(out, "{thread:#x} {word}: {:#x}: {}", ev.nr, ev.name);
    match ev.kind {
        EventKind::Entry => {
            // The layout shows values only: an argument whose location
            // could not be read has no line (as in the paper's Figure 1,
            // where some calls show none).
            for (i, a) in ev.args.iter().filter(|a| !a.absent).enumerate() {
                if let Some(v) = a.raw {
                    let _ = writeln!(out, "arg {i}: {v:#x} ({} {} )", a.type_name, a.name);
                }
            }
        }
        EventKind::Exit => {
            let _ = match ev.ret {
                Some(r) => writeln!(out, "return: {:#x}", r.raw),
                None => writeln!(out, "return: ?"),
            };
        }
        EventKind::Signal
        | EventKind::Exited
        | EventKind::Killed { .. }
        | EventKind::Superseded => {}
    }
}

#[cfg(test)]
mod tests {
    use crate::decode::Return;
    use crate::format::fixtures::{arg, read_entry, run};
    use crate::format::{EventKind, Format, OwnedEvent};
    use osm_model::Direction;

    #[test]
    fn paper_matches_figure_1() {
        let hex = |name: &str, ty: &str, v: u64| arg(name, ty, Direction::In, v, "");
        let entry = OwnedEvent {
            kind: EventKind::Entry,
            vcpu: 0,
            thread: 0x3e84000,
            process: 0,
            nr: 0x112,
            name: "NtWriteFile".into(),
            args: vec![
                hex("FileHandle", "HANDLE", 0x2a4),
                hex("Event", "HANDLE", 0),
                hex("Buffer", "PVOID", 0x9059f8),
            ],
            ..OwnedEvent::default()
        };
        let exit = OwnedEvent {
            kind: EventKind::Exit,
            ret: Some(Return {
                raw: 0,
                signed: Some(0),
                text: "0".into(),
                error: None,
            }),
            ..entry.clone()
        };
        assert_eq!(
            run(Format::Paper, &[entry, exit]),
            "0x3e84000 entr: 0x112: NtWriteFile\n\
             arg 0: 0x2a4 (HANDLE FileHandle )\n\
             arg 1: 0x0 (HANDLE Event )\n\
             arg 2: 0x9059f8 (PVOID Buffer )\n\
             0x3e84000 exit: 0x112: NtWriteFile\n\
             return: 0x0\n"
        );
    }

    #[test]
    fn paper_unreadable_and_no_return() {
        let mut entry = read_entry(1);
        entry.args.truncate(1);
        entry.args[0].raw = None;
        let mut exit = entry.clone();
        exit.kind = EventKind::Exit;
        assert_eq!(
            run(Format::Paper, &[entry, exit]),
            "0x1 entr: 0x0: read\n0x1 exit: 0x0: read\nreturn: ?\n"
        );
    }
}
