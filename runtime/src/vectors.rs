//! Model test vectors: CPU states at entries and exits, and the output
//! lines they must produce, run through a model's decoders without QEMU.
//! A model author proves a model the way a careful author proves any
//! model: with states they can reason about, checked on every build.
//!
//! The format (`specs/<model>.tests`):
//!
//! ```text
//! # A comment.
//! test "write to stdout"
//! format strace                   # strace (default), paper or jsonl
//! entry syscall at 0x401000       # a mechanism, the address of its entry instruction
//!                                 # (`bytes 0f 05` after it: the instruction's bytes)
//!   rax = 1                       # registers, by the names the model uses
//!   rdi = 1
//!   rsi = 0x7000
//!   mem 0x7000 = "hi\n"           # a string (no NUL added: write "\0")
//!   mem 0x8000 = u32 0x2a4 0 7    # values in the guest's byte order (u8..u64)
//!   mem 0x9000 = bytes 01 02 ff   # raw bytes
//! exit sysretq                    # an exit, by name
//!   rax = 3                       # registers and memory carry over between steps
//!   rcx = 0x401002
//! resume at 0x401002              # the first instruction run after an exit (where an
//!                                 # `outputs_at_resume` exit's call reads its outputs)
//! expect
//! [0x0] write(1, "hi\n", 3) = 3
//! end
//! ```
//!
//! `vcpu N` after a step's head runs it on another vCPU.

use crate::cpu::SnapshotCpu;
use crate::format::{Format, Formatter};
use crate::os::{Backend, EntryInsn};
use crate::tracer::Tracer;
use osm_model::Model;
use osm_model::arch::Endian;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VectorTest {
    pub name: String,
    /// Line of the `test` heading, 1-based.
    pub line: usize,
    pub format: Format,
    pub steps: Vec<Step>,
    pub expected: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StepKind {
    Entry {
        mechanism: String,
        pc: u64,
        /// The entry instruction (`bytes 0a 04`); without them, the
        /// mechanism's pattern bytes.
        bytes: Option<Vec<u8>>,
    },
    Exit {
        name: String,
    },
    /// The first instruction a vCPU runs after an exit, at `pc`.
    Resume {
        pc: u64,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub kind: StepKind,
    pub vcpu: u32,
    pub line: usize,
    pub regs: Vec<(String, u64)>,
    pub mem: Vec<(u64, MemValue)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MemValue {
    Bytes(Vec<u8>),
    /// Values of `size` bytes, laid out in the model's byte order.
    Uints {
        size: usize,
        values: Vec<u64>,
    },
}

fn parse_int(text: &str) -> Option<u64> {
    let text = text.replace('_', "");
    if let Some(hex) = text.strip_prefix("0x") {
        u64::from_str_radix(hex, 16).ok()
    } else if let Some(octal) = text.strip_prefix("0o") {
        u64::from_str_radix(octal, 8).ok()
    } else if let Some(binary) = text.strip_prefix("0b") {
        u64::from_str_radix(binary, 2).ok()
    } else if let Some(negative) = text.strip_prefix('-') {
        negative.parse::<u64>().ok().map(u64::wrapping_neg)
    } else {
        text.parse().ok()
    }
}

/// Unescapes a double-quoted string: `\n \t \r \0 \\ \" \xHH`.
fn parse_string(text: &str) -> Option<Vec<u8>> {
    let inner = text.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = Vec::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        match chars.next()? {
            'n' => out.push(b'\n'),
            't' => out.push(b'\t'),
            'r' => out.push(b'\r'),
            '0' => out.push(0),
            '\\' => out.push(b'\\'),
            '"' => out.push(b'"'),
            'x' => {
                let hex: String = chars.by_ref().take(2).collect();
                out.push(u8::from_str_radix(&hex, 16).ok()?);
            }
            _ => return None,
        }
    }
    Some(out)
}

/// Parses a vector file; errors name the line.
pub fn parse(text: &str) -> Result<Vec<VectorTest>, String> {
    let mut tests: Vec<VectorTest> = Vec::new();
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));
    while let Some((n, raw)) = lines.next() {
        let line = strip_comment(raw).trim();
        if line.is_empty() {
            continue;
        }
        let err = |message: &str| format!("line {n}: {message}");
        let (word, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let rest = rest.trim();
        match word {
            "test" => {
                let name = parse_string(rest).ok_or_else(|| err("expected test \"NAME\""))?;
                tests.push(VectorTest {
                    name: String::from_utf8_lossy(&name).into_owned(),
                    line: n,
                    format: Format::Strace,
                    steps: Vec::new(),
                    expected: Vec::new(),
                });
            }
            _ if tests.is_empty() => return Err(err("expected `test \"NAME\"` first")),
            "format" => {
                let test = tests.last_mut().expect("checked above");
                test.format = Format::from_name(rest).ok_or_else(|| {
                    err(&format!("unknown format `{rest}` (strace, paper, jsonl)"))
                })?;
            }
            "entry" | "exit" | "resume" => {
                let test = tests.last_mut().expect("checked above");
                let mut words = rest.split_whitespace();
                let mut name = || {
                    words
                        .next()
                        .map(str::to_string)
                        .ok_or_else(|| err(&format!("expected `{word} NAME`")))
                };
                let mut kind = match word {
                    "entry" => StepKind::Entry {
                        mechanism: name()?,
                        pc: 0,
                        bytes: None,
                    },
                    "exit" => StepKind::Exit { name: name()? },
                    _ => StepKind::Resume { pc: 0 },
                };
                let mut vcpu = 0;
                let mut saw_at = false;
                while let Some(key) = words.next() {
                    if let ("bytes", StepKind::Entry { bytes, .. }) = (key, &mut kind) {
                        // The rest of the line: the instruction's bytes.
                        let hex = words
                            .by_ref()
                            .map(|w| {
                                u8::from_str_radix(w, 16)
                                    .map_err(|_| err(&format!("`{w}` is not a hex byte")))
                            })
                            .collect::<Result<Vec<u8>, _>>()?;
                        if hex.is_empty() {
                            return Err(err("expected the instruction's bytes after `bytes`"));
                        }
                        *bytes = Some(hex);
                        break;
                    }
                    let value = words
                        .next()
                        .and_then(parse_int)
                        .ok_or_else(|| err(&format!("expected a number after `{key}`")))?;
                    match (key, &mut kind) {
                        ("at", StepKind::Entry { pc, .. } | StepKind::Resume { pc }) => {
                            *pc = value;
                            saw_at = true;
                        }
                        ("vcpu", _) => vcpu = value as u32,
                        _ => return Err(err(&format!("unexpected `{key}`"))),
                    }
                }
                if word == "entry" && !saw_at {
                    return Err(err(
                        "an entry needs `at ADDRESS`: the exit is paired by the address after it",
                    ));
                }
                if word == "resume" && !saw_at {
                    return Err(err("expected `resume at ADDRESS`"));
                }
                test.steps.push(Step {
                    kind,
                    vcpu,
                    line: n,
                    regs: Vec::new(),
                    mem: Vec::new(),
                });
            }
            "mem" => {
                let step = tests
                    .last_mut()
                    .and_then(|t| t.steps.last_mut())
                    .ok_or_else(|| err("`mem` belongs to an entry or exit"))?;
                let (addr, value) = rest
                    .split_once('=')
                    .ok_or_else(|| err("expected `mem ADDRESS = VALUE`"))?;
                let addr = parse_int(addr.trim()).ok_or_else(|| err("bad address"))?;
                step.mem
                    .push((addr, parse_mem_value(value.trim()).map_err(|m| err(&m))?));
            }
            "expect" => {
                let test = tests.last_mut().expect("checked above");
                loop {
                    let (m, text) = lines.next().ok_or_else(|| err("`expect` without `end`"))?;
                    if text.trim() == "end" {
                        break;
                    }
                    let _ = m;
                    test.expected.push(text.to_string());
                }
            }
            _ => {
                // `REGISTER = VALUE`.
                let step = tests
                    .last_mut()
                    .and_then(|t| t.steps.last_mut())
                    .ok_or_else(|| err(&format!("unexpected `{word}`")))?;
                let (reg, value) = line
                    .split_once('=')
                    .ok_or_else(|| err(&format!("unexpected `{line}`")))?;
                let value = parse_int(value.trim()).ok_or_else(|| err("bad register value"))?;
                step.regs.push((reg.trim().to_string(), value));
            }
        }
    }
    Ok(tests)
}

fn strip_comment(line: &str) -> &str {
    // `#` starts a comment unless it is inside a string.
    let mut in_string = false;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match c {
            '\\' if in_string => escaped = !escaped,
            '"' if !escaped => in_string = !in_string,
            '#' if !in_string => return &line[..i],
            _ => escaped = false,
        }
        if c != '\\' {
            escaped = false;
        }
    }
    line
}

fn parse_mem_value(text: &str) -> Result<MemValue, String> {
    if text.starts_with('"') {
        return parse_string(text)
            .map(MemValue::Bytes)
            .ok_or_else(|| "bad string".to_string());
    }
    let (kind, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
    let words: Vec<&str> = rest.split_whitespace().collect();
    match kind {
        "bytes" => words
            .iter()
            .map(|w| u8::from_str_radix(w, 16).map_err(|_| format!("`{w}` is not a hex byte")))
            .collect::<Result<_, _>>()
            .map(MemValue::Bytes),
        "u8" | "u16" | "u32" | "u64" => {
            let size = kind[1..].parse::<usize>().expect("listed widths") / 8;
            let values = words
                .iter()
                .map(|w| parse_int(w).ok_or_else(|| format!("`{w}` is not a number")))
                .collect::<Result<_, _>>()?;
            Ok(MemValue::Uints { size, values })
        }
        _ => Err(format!(
            "expected a string, `bytes`, or u8/u16/u32/u64 values, not `{kind}`"
        )),
    }
}

fn lay_out(value: &MemValue, endian: Endian) -> Vec<u8> {
    match value {
        MemValue::Bytes(bytes) => bytes.clone(),
        MemValue::Uints { size, values } => values
            .iter()
            .flat_map(|v| {
                let le = v.to_le_bytes();
                let bytes = &le[..*size];
                match endian {
                    Endian::Little => bytes.to_vec(),
                    Endian::Big => bytes.iter().rev().copied().collect(),
                }
            })
            .collect(),
    }
}

/// Runs one test; returns the output lines. A test with several vCPUs
/// runs a second time with the events queued per vCPU, as the plugin
/// does them ([`Tracer::queue_per_vcpu`]), and the two traces must agree.
pub fn run_test<B: Backend>(
    make_backend: impl Fn() -> B,
    model: &Model,
    test: &VectorTest,
) -> Result<Vec<String>, String> {
    let lines = run_test_with(make_backend(), model, test, false)?;
    if test.steps.iter().any(|s| s.vcpu > 0) {
        let queued = run_test_with(make_backend(), model, test, true)?;
        if queued != lines {
            return Err(format!(
                "with events queued per vCPU the trace differs:\n{}",
                diff(&trim_trailing_empty(&lines), &trim_trailing_empty(&queued))
            ));
        }
    }
    Ok(lines)
}

fn run_test_with<B: Backend>(
    backend: B,
    model: &Model,
    test: &VectorTest,
    queue_per_vcpu: bool,
) -> Result<Vec<String>, String> {
    let out = Arc::new(Mutex::new(String::new()));
    let sink_out = Arc::clone(&out);
    let vcpus = test
        .steps
        .iter()
        .map(|s| s.vcpu as usize + 1)
        .max()
        .unwrap_or(1);
    let tracer = Tracer::new(
        backend,
        model.clone(),
        vcpus,
        Formatter::new(test.format),
        Box::new(move |text: &str| {
            sink_out
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push_str(text)
        }),
    );
    // Names for tasks where the model reads them without a kernel's
    // layout (Windows, from the thread's TEB).
    let tracer = match crate::kernel::task_reader(model, None) {
        Ok((Some(reader), None)) => tracer.with_task(reader),
        _ => tracer,
    };
    let tracer = if queue_per_vcpu {
        tracer.queue_per_vcpu()
    } else {
        tracer
    };
    let names: Vec<String> = tracer
        .backend()
        .registers()
        .into_iter()
        .map(str::to_string)
        .collect();
    let mut cpu = SnapshotCpu::with_names(names.iter().map(String::as_str));
    for step in &test.steps {
        for (reg, value) in &step.regs {
            cpu.set_reg_named(reg, *value)
                .map_err(|e| format!("line {}: {e}", step.line))?;
        }
        for (addr, value) in &step.mem {
            cpu.map(*addr, lay_out(value, model.endian));
        }
        match &step.kind {
            StepKind::Entry {
                mechanism,
                pc,
                bytes,
            } => {
                let index = model
                    .mechanisms
                    .iter()
                    .position(|m| &m.name == mechanism)
                    .ok_or_else(|| {
                        let names: Vec<&str> =
                            model.mechanisms.iter().map(|m| m.name.as_str()).collect();
                        format!(
                            "line {}: no mechanism `{mechanism}` (mechanisms: {})",
                            step.line,
                            names.join(", ")
                        )
                    })?;
                let pattern = &model.mechanisms[index].entry;
                let bytes = bytes.as_deref().unwrap_or(&pattern.bytes);
                if !pattern.matches(*pc, bytes) {
                    return Err(format!(
                        "line {}: bytes {} at {pc:#x} do not match the entry pattern of `{mechanism}`",
                        step.line,
                        hex_bytes(bytes)
                    ));
                }
                let insn = EntryInsn::new(*pc, bytes, model.endian);
                tracer.on_entry(step.vcpu, index, &insn, &cpu);
            }
            StepKind::Exit { name } => {
                // Every exit of that name: an instruction matching several
                // mechanisms' exits is tried against all of them, as in QEMU.
                let indices: Vec<usize> = model
                    .mechanisms
                    .iter()
                    .flat_map(|m| m.exits.iter())
                    .enumerate()
                    .filter(|(_, e)| &e.name == name)
                    .map(|(i, _)| i)
                    .collect();
                if indices.is_empty() {
                    return Err(format!("line {}: no exit `{name}` in the model", step.line));
                }
                tracer.on_exit(step.vcpu, &indices, &cpu);
            }
            StepKind::Resume { pc } => {
                // The program counter is the address, as in QEMU.
                let _ = cpu.set_reg_named(model.arch.info().pc, *pc);
                // As the plugin does: only while a call awaits the block.
                if tracer.awaits_resume(step.vcpu) {
                    tracer.on_resume(step.vcpu, *pc, &cpu);
                }
            }
        }
    }
    let _ = tracer.finish_trace();
    let text = out.lock().unwrap_or_else(|e| e.into_inner()).clone();
    // jsonl's closing health figures are the run's, not the calls'.
    Ok(text
        .lines()
        .filter(|l| !l.starts_with("{\"event\":\"summary\""))
        .map(str::to_string)
        .collect())
}

/// Runs every test of a vector file; returns a report and whether all
/// passed. Failures show a diff: `-` expected, `+` produced.
pub fn run_file<B: Backend>(
    make_backend: impl Fn() -> B,
    model: &Model,
    text: &str,
    file_name: &str,
) -> (String, bool) {
    let tests = match parse(text) {
        Ok(tests) => tests,
        Err(e) => return (format!("{file_name}: {e}\n"), false),
    };
    let mut report = String::new();
    let mut failed = 0;
    if tests.is_empty() {
        return (format!("{file_name}: no tests\n"), false);
    }
    for test in &tests {
        match run_test(&make_backend, model, test) {
            Ok(lines) => {
                let expected: Vec<&str> = trim_trailing_empty(&test.expected);
                let got: Vec<&str> = trim_trailing_empty(&lines);
                if expected == got {
                    let _ = writeln!(report, "ok: {file_name}:{}: {}", test.line, test.name);
                } else {
                    failed += 1;
                    let _ = writeln!(report, "FAILED: {file_name}:{}: {}", test.line, test.name);
                    report.push_str(&diff(&expected, &got));
                }
            }
            Err(e) => {
                failed += 1;
                let _ = writeln!(
                    report,
                    "FAILED: {file_name}:{}: {}: {e}",
                    test.line, test.name
                );
            }
        }
    }
    let _ = writeln!(report, "{} passed, {failed} failed", tests.len() - failed);
    (report, failed == 0)
}

fn hex_bytes(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn trim_trailing_empty(lines: &[String]) -> Vec<&str> {
    let mut v: Vec<&str> = lines.iter().map(String::as_str).collect();
    while v.last().is_some_and(|l| l.trim().is_empty()) {
        v.pop();
    }
    v
}

/// A line diff (longest common subsequence): ` ` both, `-` expected only,
/// `+` produced only.
pub fn diff(expected: &[&str], got: &[&str]) -> String {
    let (n, m) = (expected.len(), got.len());
    let mut lcs = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if expected[i] == got[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut out = String::new();
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && expected[i] == got[j] {
            let _ = writeln!(out, "   {}", expected[i]);
            i += 1;
            j += 1;
        } else if j < m && (i == n || lcs[i][j + 1] >= lcs[i + 1][j]) {
            let _ = writeln!(out, " + {}", got[j]);
            j += 1;
        } else {
            let _ = writeln!(out, " - {}", expected[i]);
            i += 1;
        }
    }
    out
}

/// For the test generated in each model crate: runs `path` through the
/// compiled decoders and panics with the report when a test fails.
pub fn check_file<B: Backend>(make_backend: impl Fn() -> B, model: &Model, path: &str) {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read the model's test vectors {path}: {e}; every model ships a .tests file beside it"));
    let name = std::path::Path::new(path)
        .file_name()
        .map_or(path.into(), |n| n.to_string_lossy().into_owned());
    let (report, ok) = run_file(make_backend, model, &text, &name);
    print!("{report}");
    assert!(ok, "test vectors failed:\n{report}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_steps_registers_memory_and_expectations() {
        let text = r#"
# comment
test "one"
format paper
entry syscall at 0x1000 vcpu 1 bytes 0f 05
  rax = 0x10   # trailing comment
  mem 0x2000 = "a#b\n\0"
  mem 0x3000 = u16 1 0xffff
  mem 0x4000 = bytes 0f 05
exit sysretq
  rax = -2
expect
line one # kept verbatim
end
"#;
        let tests = parse(text).unwrap();
        assert_eq!(tests.len(), 1);
        let t = &tests[0];
        assert_eq!(
            (t.name.as_str(), t.line, t.format),
            ("one", 3, Format::Paper)
        );
        assert_eq!(
            t.steps[0].kind,
            StepKind::Entry {
                mechanism: "syscall".into(),
                pc: 0x1000,
                bytes: Some(vec![0x0f, 0x05]),
            }
        );
        assert_eq!(t.steps[0].vcpu, 1);
        assert_eq!(t.steps[0].regs, vec![("rax".to_string(), 0x10)]);
        assert_eq!(
            t.steps[0].mem[0],
            (0x2000, MemValue::Bytes(b"a#b\n\0".to_vec()))
        );
        assert_eq!(
            lay_out(&t.steps[0].mem[1].1, Endian::Big),
            vec![0, 1, 0xff, 0xff]
        );
        assert_eq!(t.steps[0].mem[2].1, MemValue::Bytes(vec![0x0f, 0x05]));
        assert_eq!(t.steps[1].regs, vec![("rax".to_string(), (-2i64) as u64)]);
        assert_eq!(t.expected, vec!["line one # kept verbatim".to_string()]);
    }

    #[test]
    fn errors_name_the_line() {
        assert_eq!(
            parse("test \"x\"\nentry syscall\n").unwrap_err(),
            "line 2: an entry needs `at ADDRESS`: the exit is paired by the address after it"
        );
        assert!(parse("rax = 1").unwrap_err().starts_with("line 1:"));
        assert_eq!(
            parse("test \"x\"\nentry svc at 0x10 bytes 0a zz").unwrap_err(),
            "line 2: `zz` is not a hex byte"
        );
        assert_eq!(
            parse("test \"x\"\nformat xml").unwrap_err(),
            "line 2: unknown format `xml` (strace, paper, jsonl)"
        );
    }

    #[test]
    fn diff_marks_expected_and_produced_lines() {
        let d = diff(&["a", "b", "c"], &["a", "x", "c"]);
        assert_eq!(d, "   a\n + x\n - b\n   c\n");
    }
}
