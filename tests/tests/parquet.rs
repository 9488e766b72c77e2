//! `format=parquet` on a real guest, read by DuckDB (an independent
//! Parquet reader) with the queries docs/analysis.md gives users: their
//! answers must agree with the plugin's own summary table and with what
//! the guest's commands did. Also several guests at once, read as one
//! table.

mod common;

use common::{X86_64, build_guest_program, cargo_xtask, duckdb, root, xtask_trace};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn test_dir(name: &str) -> PathBuf {
    let dir = root().join("target/osmtrace/parquet").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The SQL blocks of docs/analysis.md: the view every query starts from,
/// and each query under its `###` heading.
fn documented_queries() -> (String, BTreeMap<String, String>) {
    let text = std::fs::read_to_string(root().join("docs/analysis.md")).unwrap();
    let mut view = None;
    let mut queries = BTreeMap::new();
    let mut heading = String::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some(h) = line.strip_prefix("### ") {
            heading = h.to_string();
        } else if line == "```sql" {
            let sql: Vec<&str> = lines.by_ref().take_while(|l| *l != "```").collect();
            let sql = sql.join("\n");
            if view.is_none() {
                view = Some(sql);
            } else {
                queries.insert(heading.clone(), sql);
            }
        }
    }
    (view.expect("the view's block"), queries)
}

/// The plugin's summary table (`summary=on`, on stderr): calls and
/// errors per call name.
fn summary_table(stderr: &str) -> BTreeMap<String, (u64, u64)> {
    let mut table = BTreeMap::new();
    for line in stderr.lines() {
        let Some(line) = line.strip_prefix("osmtrace: ") else {
            continue;
        };
        let words: Vec<&str> = line.split_whitespace().collect();
        // "% time seconds usecs/call calls [errors] syscall"
        if !(words.len() == 5 || words.len() == 6) || words[0].parse::<f64>().is_err() {
            continue;
        }
        let name = words[words.len() - 1];
        let Ok(calls) = words[3].parse::<u64>() else {
            continue;
        };
        let errors = if words.len() == 6 {
            words[4].parse().unwrap()
        } else {
            0
        };
        if name != "total" {
            table.insert(name.to_string(), (calls, errors));
        }
    }
    table
}

fn uint(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn a_guest_trace_in_parquet_answers_the_documented_queries() {
    let dir = test_dir("queries");
    let program = build_guest_program(X86_64.compiler, "strace-cmp", &dir);
    let out = dir.join("trace.parquet");
    let result = xtask_trace(
        X86_64.spec,
        &program,
        "/strace-cmp > /dev/null; cat /nonexistent; cat /proc/version > /dev/null; ls / > /dev/null",
        "format=parquet,summary=on",
        1,
        &out,
        &[],
    );
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(result.status.success(), "{stderr}");
    let summary = summary_table(&stderr);
    assert!(summary.len() > 20, "no summary table in:\n{stderr}");

    let (view, queries) = documented_queries();
    let view = view.replace("'trace.parquet'", &format!("'{}'", out.display()));
    let query = |heading: &str| -> Vec<Vec<Value>> {
        let sql = queries
            .get(heading)
            .unwrap_or_else(|| panic!("docs/analysis.md has no query `{heading}`"));
        duckdb(&[view.clone(), sql.clone()])
    };

    // Per name: what the plugin counted itself.
    let per_name: BTreeMap<String, (u64, u64)> = query("Calls per name, like `strace -c`")
        .iter()
        .map(|r| (text(&r[0]).to_string(), (uint(&r[1]), uint(&r[2]))))
        .collect();
    assert_eq!(per_name, summary);
    let total: u64 = summary.values().map(|(calls, _)| calls).sum();

    // The health figures in the file's metadata: every entry is a row.
    let metadata = duckdb(&[format!(
        "SELECT decode(value) FROM parquet_kv_metadata('{}') WHERE decode(key) = 'osmtrace.summary'",
        out.display()
    )]);
    let health: Value = serde_json::from_str(text(&metadata[0][0])).unwrap();
    assert_eq!(health["entries"].as_u64(), Some(total));
    // The figures on stderr are the file's own.
    let rows = duckdb(&[format!("SELECT count(*) FROM '{}'", out.display())]);
    let size = std::fs::metadata(&out).unwrap().len();
    assert!(
        stderr.contains(&format!(
            "{size} bytes of trace written ({} rows), nothing lost",
            uint(&rows[0][0])
        )),
        "{stderr}"
    );

    // Per process: the same calls, spread over the guest's processes.
    let per_process = query("Calls per process (named by their last command)");
    assert_eq!(per_process.iter().map(|r| uint(&r[2])).sum::<u64>(), total);
    assert!(
        per_process
            .iter()
            .any(|r| text(&r[1]) == "strace-cmp" && uint(&r[2]) > 10),
        "{per_process:?}"
    );

    // The one file the commands failed to open.
    let failed = query("Files that failed to open");
    assert!(
        failed.iter().any(|r| text(&r[1]) == "cat"
            && text(&r[3]) == "\"/nonexistent\""
            && text(&r[4]) == "ENOENT"),
        "{failed:?}"
    );

    // strace-cmp connects a Unix socket to an AF_INET address: EINVAL.
    let peers = query("Network peers");
    assert!(
        peers.iter().any(|r| text(&r[1]) == "strace-cmp"
            && text(&r[2]) == "connect"
            && text(&r[3]).contains("AF_INET")
            && text(&r[4]).contains("EINVAL")),
        "{peers:?}"
    );

    // The slowest calls, slowest first, and the slowest of all among them.
    let slowest = query("The slowest calls");
    assert_eq!(slowest.len(), 10);
    let durations: Vec<u64> = slowest.iter().map(|r| uint(&r[3])).collect();
    assert!(durations.windows(2).all(|w| w[0] >= w[1]), "{durations:?}");
    let longest = duckdb(&[
        view.clone(),
        "SELECT max(duration) FROM calls WHERE event = 'call'".to_string(),
    ]);
    assert_eq!(uint(&longest[0][0]), durations[0]);
}

/// The number of calls per name in a run's summary table (in its
/// console.txt).
fn run_summary(dir: &Path, run: usize) -> BTreeMap<String, (u64, u64)> {
    let console = std::fs::read_to_string(dir.join(format!("run={run}/console.txt"))).unwrap();
    summary_table(&console)
}

#[test]
#[ignore = "guest: boots QEMU; bash scripts/test.sh runs it"]
fn several_guests_at_once_make_one_table() {
    let dir = test_dir("runs");
    let runs = dir.join("runs.txt");
    std::fs::write(
        &runs,
        "# one command per guest\ncat /proc/version\n\nls / > /dev/null; ls /proc > /dev/null\n",
    )
    .unwrap();
    let traces = dir.join("traces");
    let out = cargo_xtask([
        "trace",
        "--spec",
        X86_64.spec,
        "--runs",
        runs.to_str().unwrap(),
        "--jobs",
        "2",
        "--plugin-args",
        "format=parquet,summary=on",
        "--out",
        traces.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("2 of 2 runs traced"), "{stderr}");
    let listed: Vec<Value> = std::fs::read_to_string(traces.join("runs.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[1]["cmd"], "ls / > /dev/null; ls /proc > /dev/null");
    assert!(listed.iter().all(|r| r["exit_code"] == 0), "{listed:?}");

    let (first, second) = (run_summary(&traces, 0), run_summary(&traces, 1));
    assert!(!first.is_empty() && !second.is_empty());
    // What each run's own summary table says the difference is.
    let mut expected = BTreeMap::new();
    for name in first.keys().chain(second.keys()) {
        let a = first.get(name).map_or(0, |c| c.0) as i64;
        let b = second.get(name).map_or(0, |c| c.0) as i64;
        if a != b {
            expected.insert(name.clone(), (a, b, b - a));
        }
    }
    assert!(expected.contains_key("getdents64"), "{expected:?}");

    let (_, queries) = documented_queries();
    let diff = queries["Two traces compared"].replace(
        "'traces/*/trace.parquet'",
        &format!("'{}/*/trace.parquet'", traces.display()),
    );
    let rows = duckdb(&[diff]);
    let got: BTreeMap<String, (i64, i64, i64)> = rows
        .iter()
        .map(|r| {
            let n = |v: &Value| v.as_i64().unwrap();
            (text(&r[0]).to_string(), (n(&r[1]), n(&r[2]), n(&r[3])))
        })
        .collect();
    assert_eq!(got, expected);
}

#[test]
fn parquet_needs_a_file() {
    // Without --out the trace would be printed: refused before any build.
    let out = std::process::Command::new(env!("CARGO"))
        .args(["xtask", "trace", "--spec", X86_64.spec])
        .args(["--plugin-args", "format=parquet"])
        .current_dir(root())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("format=parquet writes a binary file"),
        "{stderr}"
    );
}
