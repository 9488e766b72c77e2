//! Signal numbers, signal sets and wait statuses named as strace names
//! them.

use osm_model::Model;
use std::fmt::Write;

/// A signal's name as the model's enum `names` has it, else strace's
/// `SIGRTMIN`, `SIGRT_1`, ... from 32, else its number.
pub(crate) fn write_signal_name(
    out: &mut String,
    model: &Model,
    names: u32,
    signal: u64,
    prefix: &str,
) {
    const RTMIN: u64 = 32;
    let named = model.enums.get(names as usize).and_then(|n| {
        n.members
            .iter()
            .find(|m| m.value == i128::from(signal))
            .map(|m| m.name.as_str())
    });
    match named {
        Some(name) if prefix.is_empty() => out.push_str(name.strip_prefix("SIG").unwrap_or(name)),
        Some(name) => out.push_str(name),
        None if signal == RTMIN => {
            out.push_str(prefix);
            out.push_str("RTMIN");
        }
        None if signal > RTMIN => {
            let _ = write!(out, "{prefix}RT_{}", signal - RTMIN);
        }
        None => {
            let _ = write!(out, "{signal}");
        }
    }
}

/// A wait status as strace prints it: `[{WIFEXITED(s) && WEXITSTATUS(s)
/// == 0}]`, `[{WIFSIGNALED(s) && WTERMSIG(s) == SIGKILL}]`, stops and
/// continues likewise, bits left over after ` | `.
pub(super) fn write_wait_status(out: &mut String, model: &Model, names: u32, status: u32) {
    let low = status & 0x7f;
    let mut rest = status;
    if status & 0xff == 0x7f {
        let signal = status >> 8 & 0xff;
        out.push_str("[{WIFSTOPPED(s) && WSTOPSIG(s) == ");
        write_signal_name(out, model, names, u64::from(signal & 0x7f), "SIG");
        if signal & 0x80 != 0 {
            out.push_str(" | 0x80");
        }
        rest &= !(signal << 8 | 0x7f);
    } else if low != 0 && low != 0x7f {
        out.push_str("[{WIFSIGNALED(s) && WTERMSIG(s) == ");
        write_signal_name(out, model, names, u64::from(low), "SIG");
        if status & 0x80 != 0 {
            out.push_str(" && WCOREDUMP(s)");
        }
        rest &= !(low | 0x80);
    } else if low == 0 {
        let _ = write!(
            out,
            "[{{WIFEXITED(s) && WEXITSTATUS(s) == {}",
            status >> 8 & 0xff
        );
        rest &= !0xff00;
    } else if status == 0xffff {
        out.push_str("[{WIFCONTINUED(s)");
        rest = 0;
    } else {
        let _ = write!(out, "[{status:#x}]");
        return;
    }
    out.push('}');
    if rest >> 16 != 0 {
        let _ = write!(out, " | {:#x} << 16", rest >> 16);
        rest &= 0xffff;
    }
    if rest != 0 {
        let _ = write!(out, " | {rest:#x}");
    }
    out.push(']');
}

/// A signal set as strace prints it: the signals' names without `SIG`,
/// the kernel's real-time ones from 32 as `RTMIN`, `RT_1`, ...; a set of
/// more than half the signals as `~` and the ones it leaves out
/// (`~[RTMIN RT_1]`).
pub(super) fn write_sigset(out: &mut String, model: &Model, names: u32, set: u64) {
    let set = if set.count_ones() > u64::BITS / 2 {
        out.push('~');
        !set
    } else {
        set
    };
    out.push('[');
    let mut first = true;
    for bit in 0..u64::BITS {
        if set >> bit & 1 == 0 {
            continue;
        }
        if !first {
            out.push(' ');
        }
        first = false;
        write_signal_name(out, model, names, u64::from(bit) + 1, "");
    }
    out.push(']');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::SnapshotCpu;
    use crate::decode::{CallValues, DecodeOptions, decode_value};
    use crate::testutil::compile;
    use osm_model::Ty;

    #[test]
    fn signal_sets_like_strace() {
        let m = compile(
            "x86_64",
            "enum signal : i32 { SIGHUP = 1, SIGUSR1 = 10, SIGALRM = 14, SIGSYS = 31 }\n\
             struct act { ptr handler; sigset mask; }\n\
             table t { 0 f(in act a, in sigset s) -> i32; }",
        );
        let mut cpu = SnapshotCpu::new();
        let sets: [(u64, &str); 6] = [
            (0, "[]"),
            (1 << 9 | 1 << 13, "[USR1 ALRM]"),
            // Unnamed below the real-time ones: the number.
            (1 | 1 << 1, "[HUP 2]"),
            (1 << 31 | 1 << 40, "[RTMIN RT_9]"),
            // More than half: the complement.
            (!(1u64 << 31 | 1 << 32), "~[RTMIN RT_1]"),
            (u64::MAX, "~[]"),
        ];
        for (i, (set, _)) in sets.iter().enumerate() {
            cpu.map(0x1000 + 0x100 * i as u64, set.to_le_bytes().to_vec());
        }
        let names = m.enums.iter().position(|e| e.name == "signal").unwrap();
        let sigset = Ty::SigSet {
            names: names as u32,
        };
        let call = CallValues::default();
        let opts = DecodeOptions::default();
        for (i, (_, shown)) in sets.iter().enumerate() {
            let addr = 0x1000 + 0x100 * i as u64;
            assert_eq!(decode_value(&m, &sigset, addr, &call, &cpu, &opts), *shown);
        }
        assert_eq!(decode_value(&m, &sigset, 0, &call, &cpu, &opts), "NULL");
        assert_eq!(
            decode_value(&m, &sigset, 0x9000, &call, &cpu, &opts),
            "0x9000"
        );
        // Embedded in a structure.
        let mut act = 0x4000u64.to_le_bytes().to_vec();
        act.extend_from_slice(&(1u64 << 9).to_le_bytes());
        cpu.map(0x8000, act);
        let id = m.structs.iter().position(|s| s.name == "act").unwrap();
        let act = Ty::Struct { id: id as u32 };
        assert_eq!(
            decode_value(&m, &act, 0x8000, &call, &cpu, &opts),
            "{handler=0x4000, mask=[USR1]}"
        );
    }

    #[test]
    fn wait_statuses_like_strace() {
        let m = compile(
            "x86_64",
            "enum signal : i32 { SIGKILL = 9, SIGSEGV = 11, SIGSTOP = 19, SIGCONT = 18 }\n\
             table t { 0 f(out wait_status s) -> i32; }",
        );
        let names = m.enums.iter().position(|e| e.name == "signal").unwrap() as u32;
        let w = |status: u32| {
            let mut out = String::new();
            write_wait_status(&mut out, &m, names, status);
            out
        };
        assert_eq!(w(0), "[{WIFEXITED(s) && WEXITSTATUS(s) == 0}]");
        assert_eq!(w(7 << 8), "[{WIFEXITED(s) && WEXITSTATUS(s) == 7}]");
        assert_eq!(w(9), "[{WIFSIGNALED(s) && WTERMSIG(s) == SIGKILL}]");
        assert_eq!(
            w(0x8b),
            "[{WIFSIGNALED(s) && WTERMSIG(s) == SIGSEGV && WCOREDUMP(s)}]"
        );
        assert_eq!(w(34), "[{WIFSIGNALED(s) && WTERMSIG(s) == SIGRT_2}]");
        assert_eq!(
            w(19 << 8 | 0x7f),
            "[{WIFSTOPPED(s) && WSTOPSIG(s) == SIGSTOP}]"
        );
        assert_eq!(w(0xffff), "[{WIFCONTINUED(s)}]");
        // A ptrace event above the stop.
        assert_eq!(
            w(3 << 16 | 5 << 8 | 0x7f),
            "[{WIFSTOPPED(s) && WSTOPSIG(s) == 5} | 0x3 << 16]"
        );
        let mut cpu = SnapshotCpu::new();
        cpu.map(0x1000, (9u32 << 8).to_le_bytes().to_vec());
        let ty = Ty::WaitStatus { names };
        let opts = DecodeOptions::default();
        let call = CallValues::default();
        assert_eq!(
            decode_value(&m, &ty, 0x1000, &call, &cpu, &opts),
            "[{WIFEXITED(s) && WEXITSTATUS(s) == 9}]"
        );
        assert_eq!(decode_value(&m, &ty, 0, &call, &cpu, &opts), "NULL");
    }
}
