//! The generic plugin (the model loaded at run time) against the compiled
//! one. Both are loaded into the same QEMU run, so they see the very same
//! execution, and their jsonl traces must be identical, every field.

mod common;

use common::{build_guest_program, cargo_xtask, root, trace_guest_program};
use std::process::Command;
use std::sync::Mutex;

static SERIAL: Mutex<()> = Mutex::new(());

fn differential(spec: &str, compiler: &str, smp: u32) {
    let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = root()
        .join("target/osmtrace/differential")
        .join(format!("{compiler}-{smp}"));
    let program = build_guest_program(compiler, "e2e", &dir);
    let compiled = dir.join("compiled.jsonl");
    let generic = dir.join("generic.jsonl");
    let out = trace_guest_program(
        spec,
        &program,
        "/e2e",
        smp,
        &compiled,
        &["--also-generic".as_ref(), generic.as_os_str()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let compiled = std::fs::read_to_string(&compiled).unwrap();
    let generic = std::fs::read_to_string(&generic).unwrap();
    assert!(compiled.lines().count() > 500, "a whole boot was traced");
    assert!(
        compiled.contains("osmtrace-e2e-missing"),
        "the test program was traced"
    );
    // With several vCPUs the two plugins write their events in whatever
    // order their callbacks take the output lock, so the files interleave
    // vCPUs differently; each vCPU's own sequence is the same execution
    // seen twice and must be identical, event for event.
    let by_vcpu = |text: &str| {
        let mut map: std::collections::BTreeMap<u64, Vec<String>> = Default::default();
        for line in text.lines() {
            let event: serde_json::Value = serde_json::from_str(line).expect("jsonl");
            if event["event"] == "summary" {
                continue;
            }
            map.entry(event["vcpu"].as_u64().expect("vcpu"))
                .or_default()
                .push(line.to_string());
        }
        map
    };
    let (compiled, generic) = (by_vcpu(&compiled), by_vcpu(&generic));
    assert_eq!(
        compiled.keys().collect::<Vec<_>>(),
        generic.keys().collect::<Vec<_>>()
    );
    for (vcpu, lines) in &compiled {
        let other = &generic[vcpu];
        for (i, (a, b)) in lines.iter().zip(other).enumerate() {
            assert_eq!(a, b, "vCPU {vcpu}: event {} differs", i + 1);
        }
        assert_eq!(lines.len(), other.len(), "vCPU {vcpu}: event counts differ");
    }
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn x86_64_compiled_and_generic_traces_are_identical() {
    differential("specs/linux-x86_64.osm", "gcc", 2);
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn arm_compiled_and_generic_traces_are_identical() {
    differential("specs/linux-arm.osm", "arm-linux-gnueabihf-gcc", 1);
}

/// The interpreter's `insn` (known when QEMU translates the `svc`), its
/// conditional and the `kernel_space` exits against the generated code.
#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn s390x_compiled_and_generic_traces_are_identical() {
    differential("specs/linux-s390x.osm", "s390x-linux-gnu-gcc", 2);
}

/// A model with a mistake makes QEMU refuse the generic plugin, showing
/// the compiler's diagnostics.
#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn a_broken_model_is_refused_with_diagnostics() {
    let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let out = cargo_xtask(["build", "--generic"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let plugin = stdout.lines().last().expect("the plugin path").to_string();

    let dir = root().join("target/osmtrace/differential/broken");
    std::fs::create_dir_all(&dir).unwrap();
    let spec = dir.join("broken.osm");
    let text = std::fs::read_to_string(root().join("tests/specs/pass/x86_64-minimal.osm")).unwrap();
    std::fs::write(&spec, text.replace("number = rax;", "number = rxa;")).unwrap();
    let out = Command::new("qemu-system-x86_64")
        .args([
            "-nographic",
            "-no-reboot",
            "-nic",
            "none",
            "-accel",
            "tcg",
            "-kernel",
            "/nonexistent",
            "-plugin",
        ])
        .arg(format!("{plugin},spec={}", spec.display()))
        .output()
        .expect("qemu-system-x86_64 is installed (scripts/setup.sh)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("error[E0301]: unknown register `rxa` for architecture `x86_64`"),
        "{stderr}"
    );
    assert!(stderr.contains("broken.osm:"), "{stderr}");
}

/// A filter naming a call the model does not have makes QEMU refuse the
/// plugin (compiled or generic) instead of tracing nothing.
#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn an_unknown_call_in_a_filter_is_refused() {
    let _guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let out = Command::new(env!("CARGO"))
        .args([
            "xtask",
            "trace",
            "--spec",
            "specs/linux-x86_64.osm",
            "--cmd",
            "true",
        ])
        .args(["--plugin-args", "trace=openat:nosuchcall"])
        .current_dir(root())
        .output()
        .expect("cargo runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("nosuchcall"), "{stderr}");
    assert!(
        stderr.contains("QEMU failed") || stderr.contains("failed"),
        "{stderr}"
    );
}
