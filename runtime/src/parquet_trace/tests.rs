use super::*;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::Field;
use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::path::PathBuf;

/// What the plugin writes as jsonl: a failing openat, a read interleaved
/// with another thread's write, a child's first return from clone, a
/// signal, exit_group and the process's end, a call that never returns,
/// and the health summary.
const TRACE: &str = r#"{"event":"entry","vcpu":0,"thread":16,"process":4096,"nr":257,"name":"openat","pid":83,"tid":83,"ppid":1,"comm":"sh","classes":["desc","file"],"ts":1000000,"args":[{"name":"dfd","type":"dirfd","value":18446744073709551516,"text":"AT_FDCWD"},{"name":"filename","type":"cstr","value":28672,"text":"\"/nonexistent\""},{"name":"flags","type":"open_flags","value":0,"text":"O_RDONLY"},{"name":"mode","type":"mode","value":0,"text":"0","hidden":true}]}
{"event":"exit","vcpu":0,"thread":16,"process":4096,"nr":257,"name":"openat","pid":83,"tid":83,"ppid":1,"comm":"sh","classes":["desc","file"],"ts":1003000,"args":[{"name":"dfd","type":"dirfd","value":18446744073709551516,"text":"AT_FDCWD"},{"name":"filename","type":"cstr","value":28672,"text":"\"/nonexistent\""},{"name":"flags","type":"open_flags","value":0,"text":"O_RDONLY"},{"name":"mode","type":"mode","value":0,"text":"0","hidden":true}],"ret":-2,"ret_raw":18446744073709551614,"ret_text":"-1 ENOENT (No such file or directory)","error":"ENOENT","errno":2,"dur":3000}
{"event":"entry","vcpu":0,"thread":16,"process":4096,"nr":0,"name":"read","classes":["desc"],"ts":2000000,"args":[{"name":"fd","type":"fd","value":3,"text":"3"},{"name":"buf","type":"buf","value":8192,"text":"0x2000","dir":"out"},{"name":"count","type":"size","value":16,"text":"16"}]}
{"event":"entry","vcpu":1,"thread":32,"process":4096,"nr":1,"name":"write","classes":["desc"],"ts":2100000,"args":[{"name":"fd","type":"fd","value":4,"text":"4"},{"name":"buf","type":"buf","value":null,"text":"0x9000","unreadable":true},{"name":"count","type":"size","value":1,"text":"1"}]}
{"event":"exit","vcpu":1,"thread":32,"process":4096,"nr":1,"name":"write","classes":["desc"],"ts":2200000,"args":[{"name":"fd","type":"fd","value":4,"text":"4"},{"name":"buf","type":"buf","value":null,"text":"0x9000","unreadable":true},{"name":"count","type":"size","value":1,"text":"1"}],"ret":1,"ret_text":"1","error":null,"dur":100000}
{"event":"exit","vcpu":0,"thread":16,"process":4096,"nr":0,"name":"read","classes":["desc"],"ts":2500000,"args":[{"name":"fd","type":"fd","value":3,"text":"3"},{"name":"buf","type":"buf","value":8192,"text":"\"x\"","dir":"out"},{"name":"count","type":"size","value":16,"text":"16"}],"ret":1,"ret_text":"1","error":null,"dur":500000}
{"event":"exit","vcpu":1,"thread":48,"process":8192,"nr":56,"name":"clone","ts":2600000,"args":[],"ret":0,"ret_text":"0","error":null}
{"event":"signal","vcpu":0,"thread":16,"process":4096,"nr":17,"name":"SIGCHLD","ts":2700000,"args":[{"name":"si_signo","type":"signal","value":17,"text":"SIGCHLD"}]}
{"event":"entry","vcpu":0,"thread":16,"process":4096,"nr":231,"name":"exit_group","classes":["process"],"ts":3000000,"args":[{"name":"error_code","type":"int","value":7,"text":"7"}]}
{"event":"exit","vcpu":0,"thread":16,"process":4096,"nr":231,"name":"exit_group","classes":["process"],"ts":3000000,"args":[{"name":"error_code","type":"int","value":7,"text":"7"}],"ret":null,"ret_text":null,"error":null,"dur":0}
{"event":"exited","vcpu":0,"thread":16,"process":4096,"nr":7,"name":"","args":[],"status":7}
{"event":"entry","vcpu":1,"thread":48,"process":8192,"nr":61,"name":"wait4","classes":["process"],"ts":3100000,"args":[{"name":"upid","type":"pid","value":18446744073709551615,"text":"-1"}]}
{"event":"summary","entries":6,"bytes_written":4000}
"#;

fn temp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "osmtrace-parquet-{}-{name}.parquet",
        std::process::id()
    ))
}

/// Each row as column name → value text, and the file's metadata.
fn read_back(path: &PathBuf) -> (Vec<BTreeMap<String, String>>, BTreeMap<String, String>) {
    let reader = SerializedFileReader::new(File::open(path).unwrap()).unwrap();
    let metadata = reader
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .into_iter()
        .flatten()
        .map(|kv| (kv.key.clone(), kv.value.clone().unwrap_or_default()))
        .collect();
    let rows = reader
        .get_row_iter(None)
        .unwrap()
        .map(|row| {
            row.unwrap()
                .get_column_iter()
                .map(|(name, field)| {
                    let text = match field {
                        Field::Str(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (name.clone(), text)
                })
                .collect()
        })
        .collect();
    (rows, metadata)
}

fn write(path: &PathBuf, rows_per_group: usize, chunks: &[&str]) -> ParquetTrace<File> {
    let mut trace =
        ParquetTrace::new(File::create(path).unwrap(), "t.parquet", rows_per_group).unwrap();
    for chunk in chunks {
        trace.text(chunk);
    }
    trace.finish();
    trace
}

#[test]
fn one_row_per_call_with_entry_and_exit_joined() {
    let path = temp_path("rows");
    let trace = write(&path, DEFAULT_ROW_GROUP, &[TRACE]);
    assert_eq!(trace.lost(), None);
    let (rows, metadata) = read_back(&path);
    let column = |name: &str| -> Vec<&str> { rows.iter().map(|r| r[name].as_str()).collect() };
    // Rows come as calls end; the wait4 still blocked at the end last.
    assert_eq!(
        column("name"),
        [
            "openat",
            "write",
            "read",
            "clone",
            "SIGCHLD",
            "exit_group",
            "",
            "wait4"
        ]
    );
    assert_eq!(
        column("event"),
        [
            "call", "call", "call", "return", "signal", "call", "exited", "call"
        ]
    );
    assert_eq!(
        column("unfinished"),
        [
            "false", "false", "false", "false", "false", "false", "false", "true"
        ]
    );
    let openat = &rows[0];
    assert_eq!(openat["ret"], "-2");
    assert_eq!(openat["ret_raw"], "18446744073709551614");
    assert_eq!(openat["error"], "ENOENT");
    assert_eq!(openat["errno"], "2");
    assert_eq!(openat["ret_text"], "-1 ENOENT (No such file or directory)");
    assert_eq!(
        (openat["pid"].as_str(), openat["comm"].as_str()),
        ("83", "sh")
    );
    assert_eq!(openat["classes"], r#"["desc", "file"]"#);
    assert_eq!(
        (
            openat["ts"].as_str(),
            openat["exit_ts"].as_str(),
            openat["duration"].as_str()
        ),
        ("1000000", "1003000", "3000")
    );
    // The raw value of AT_FDCWD is the register's unsigned bits.
    assert!(
        openat["args"].starts_with(
            r#"[{name: "dfd", type: "dirfd", value: 18446744073709551516, text: "AT_FDCWD", dir: "in", hidden: false, unreadable: false}"#
        ),
        "{}",
        openat["args"]
    );
    // The read's buffer as the exit decoded it.
    assert!(
        rows[2]["args"].contains(r#"text: ""x"", dir: "out""#),
        "{}",
        rows[2]["args"]
    );
    assert!(
        rows[1]["args"].contains("value: null"),
        "{}",
        rows[1]["args"]
    );
    assert_eq!(rows[1]["vcpu"], "1");
    assert_eq!(rows[3]["ret"], "0");
    assert_eq!(rows[3]["args"], "[]");
    assert_eq!(rows[4]["nr"], "17");
    assert_eq!(rows[5]["ret"], "null");
    assert_eq!(rows[6]["status"], "7");
    assert_eq!(
        (rows[7]["ts"].as_str(), rows[7]["exit_ts"].as_str()),
        ("3100000", "null")
    );
    assert_eq!(rows[0]["pid"], "83");
    assert_eq!(rows[1]["pid"], "null");
    assert_eq!(metadata["osmtrace.layout"], LAYOUT_VERSION);
    assert!(metadata["osmtrace.summary"].contains("\"entries\":6"));
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn lines_split_across_buffers_and_many_row_groups() {
    let path = temp_path("groups");
    // The plugin's buffers end anywhere in a line.
    let chunks: Vec<&str> = {
        let mut rest = TRACE;
        let mut chunks = Vec::new();
        while !rest.is_empty() {
            let (a, b) = rest.split_at(rest.len().min(37));
            chunks.push(a);
            rest = b;
        }
        chunks
    };
    let trace = write(&path, 2, &chunks);
    assert_eq!(trace.rows_written(), 8);
    let reader = SerializedFileReader::new(File::open(&path).unwrap()).unwrap();
    assert_eq!(reader.metadata().num_row_groups(), 4);
    let (rows, _) = read_back(&path);
    assert_eq!(rows.len(), 8);
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn an_exit_pairs_with_its_entry_across_an_exec() {
    let path = temp_path("exec");
    let entry = r#"{"event":"entry","vcpu":0,"thread":16,"process":4096,"nr":59,"name":"execve","ts":10,"args":[]}
"#;
    let exit = r#"{"event":"exit","vcpu":0,"thread":16,"process":5000,"nr":59,"name":"execve","ts":30,"args":[],"ret":0,"ret_text":"0","error":null,"entry_thread":16,"entry_process":4096,"dur":20}
"#;
    write(&path, 10, &[entry, exit]);
    let (rows, _) = read_back(&path);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["process"], "5000");
    assert_eq!(rows[0]["entry_process"], "4096");
    assert_eq!(rows[0]["duration"], "20");
    std::fs::remove_file(&path).unwrap();
}

/// A file that takes `room` bytes, then fails like a full disk.
struct SmallDisk {
    file: File,
    room: u64,
}

impl Write for SmallDisk {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let len = self.file.metadata()?.len();
        let n = (buf.len() as u64).min(self.room.saturating_sub(len)) as usize;
        if n == 0 {
            return Err(std::io::Error::from(ErrorKind::StorageFull));
        }
        self.file.write(&buf[..n])
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Destination for SmallDisk {
    fn cut(&mut self, len: u64) -> bool {
        self.file.cut(len)
    }

    fn seekable(&self) -> bool {
        true
    }
}

#[test]
fn a_full_disk_keeps_the_whole_row_groups_readable() {
    let path = temp_path("full");
    // Many calls, in groups of 50 rows; the disk takes a few groups.
    let mut text = String::new();
    for i in 0..1000 {
        text.push_str(&format!(
            r#"{{"event":"exit","vcpu":0,"thread":16,"process":4096,"nr":39,"name":"getpid","ts":{i},"args":[],"ret":{i},"ret_text":"{i}","error":null}}
"#
        ));
    }
    let disk = SmallDisk {
        file: File::create(&path).unwrap(),
        room: 12_000,
    };
    let mut trace = ParquetTrace::new(disk, "t.parquet", 50).unwrap();
    trace.text(&text);
    trace.finish();
    let lost = trace.lost().expect("rows lost");
    let written = trace.rows_written();
    assert!(written > 0 && written < 1000, "{written}");
    assert_eq!(written + lost.lines, 1000);
    assert!(
        lost.error.contains("storage full") || lost.error.contains("space"),
        "{}",
        lost.error
    );
    let (rows, metadata) = read_back(&path);
    assert_eq!(rows.len() as u64, written);
    assert_eq!(rows.last().unwrap()["ret"], (written - 1).to_string());
    assert!(metadata["osmtrace.lost"].starts_with(&format!("{} rows lost", lost.lines)));
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn a_line_that_is_not_an_event_is_counted() {
    let path = temp_path("bad");
    write(&path, 10, &["not json\n", TRACE]);
    let (rows, metadata) = read_back(&path);
    assert_eq!(rows.len(), 8);
    assert_eq!(metadata["osmtrace.bad_lines"], "1");
    std::fs::remove_file(&path).unwrap();
}

/// A child's first return carries its parent's entry time: it must not
/// take the parent's entry, whose own return comes after.
#[test]
fn a_child_s_return_leaves_its_parent_s_entry_alone() {
    let path = temp_path("fork");
    let lines = r#"{"event":"entry","vcpu":0,"thread":16,"process":4096,"nr":57,"name":"fork","ts":10,"args":[]}
{"event":"exit","vcpu":0,"thread":48,"process":8192,"nr":57,"name":"fork","ts":30,"args":[],"ret":0,"ret_text":"0","error":null,"dur":20}
{"event":"exit","vcpu":0,"thread":16,"process":4096,"nr":57,"name":"fork","ts":40,"args":[],"ret":85,"ret_text":"85","error":null,"dur":30}
"#;
    write(&path, 10, &[lines]);
    let (rows, _) = read_back(&path);
    let summary: Vec<(&str, &str, &str)> = rows
        .iter()
        .map(|r| (r["event"].as_str(), r["thread"].as_str(), r["ret"].as_str()))
        .collect();
    assert_eq!(summary, [("return", "48", "0"), ("call", "16", "85")]);
    assert_eq!(rows[1]["ts"], "10");
    std::fs::remove_file(&path).unwrap();
}
