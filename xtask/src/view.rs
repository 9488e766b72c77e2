//! `cargo xtask trace-view FILE`: one recorded trace (the plugin's
//! `format=jsonl`, or `format=raw`, which it decodes), viewed many ways.
//! It filters with the plugin's filter syntax and prints strace text, the
//! `strace -c` summary, or writes the Perfetto timeline or a Parquet table,
//! through the same runtime code the plugin uses, so a view of a recording is what the plugin would have
//! written live.

use anyhow::{Context as _, Result, bail};
use osm_runtime::filter::{FilterSpec, FollowSet};
use osm_runtime::format::{Format, Formatter, OutputConfig, OwnedEvent, Timestamps};
use osm_runtime::parquet_trace::{DEFAULT_ROW_GROUP, ParquetTrace};
use osm_runtime::raw::RawReader;
use osm_runtime::record::JsonlReader;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
pub struct ViewOptions {
    /// A trace recorded with `--plugin-args format=jsonl` (add
    /// `timestamps=wall` for times in the summary and the timeline) or
    /// `format=raw,log=FILE` (decoded with the model it carries).
    pub file: PathBuf,
    /// Filters in the plugin's words, comma-separated:
    /// 'trace=openat:%network:!read,status=failed,pid=83,comm=sh*,follow=make'
    /// (also process=, thread= and tid=).
    #[arg(long, default_value = "")]
    pub filter: String,
    /// strace, summary, perfetto or parquet (with --out; also jsonl, to
    /// save a filtered recording, and paper).
    #[arg(long, default_value = "strace")]
    pub format: String,
    /// Where to write; without it the view is printed.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// strace format: show each call's time (strace -ttt).
    #[arg(long)]
    pub timestamps: bool,
    /// strace format: show each call's duration (strace -T).
    #[arg(long)]
    pub durations: bool,
    /// The trace's times are the guest's instruction counts (recorded
    /// with `timestamps=virtual`): strace lines show them as counts, and
    /// durations as instructions.
    #[arg(long)]
    pub virtual_clock: bool,
    /// summary format: also a table per process (the guest's pid).
    #[arg(long)]
    pub by_process: bool,
}

pub fn run(options: &ViewOptions) -> Result<()> {
    let format = Format::from_name(&options.format).with_context(|| {
        let names: Vec<&str> = Format::ALL.iter().map(|f| f.name()).collect();
        format!(
            "unknown format '{}' (valid formats: {})",
            options.format,
            names.join(", ")
        )
    })?;
    if format == Format::Raw {
        bail!(
            "--format raw: a raw trace is what the plugin captures (format=raw); a view decodes one into another format"
        );
    }
    let filter = FilterSpec::parse(&options.filter).map_err(anyhow::Error::msg)?;
    let mut input = std::fs::File::open(&options.file)
        .with_context(|| format!("cannot read {}", options.file.display()))?;
    let mut magic = [0u8; 16];
    let got = input.read(&mut magic).unwrap_or(0);
    let raw = if osm_runtime::raw::is_raw(&magic[..got]) {
        let reader = RawReader::open(&options.file).map_err(anyhow::Error::msg)?;
        if reader.cut_short {
            eprintln!(
                "osmtrace: {}: the trace was not finished (QEMU was killed?); its events up to its last whole chunk are used",
                options.file.display()
            );
        }
        Some(reader)
    } else {
        None
    };
    if got >= 4 && &magic[..4] == b"PAR1" {
        bail!(
            "{} is a Parquet file; trace-view reads jsonl recordings (query Parquet files with DuckDB, see docs/analysis.md)",
            options.file.display()
        );
    }
    input
        .seek(SeekFrom::Start(0))
        .with_context(|| format!("cannot read {}", options.file.display()))?;
    // A raw trace knows the clock it was recorded with.
    let recorded = raw.as_ref().map_or(Timestamps::None, |r| r.clock);
    let source = match raw {
        Some(reader) => Source::Raw(Box::new(reader)),
        None => Source::Jsonl(BufReader::new(input)),
    };
    if format == Format::Parquet {
        let Some(out) = &options.out else {
            bail!("--format parquet writes a binary file: give it with --out");
        };
        let file = std::fs::File::create(out)
            .with_context(|| format!("cannot write {}", out.display()))?;
        let mut table = ParquetTrace::new(file, &out.display().to_string(), DEFAULT_ROW_GROUP)
            .map_err(anyhow::Error::msg)?;
        let config = OutputConfig {
            filter,
            ..OutputConfig::default()
        };
        let stats = read_events(source, &config, &options.file, |event| {
            table.push(&event);
            Ok(())
        })?;
        table.finish();
        if let Some(lost) = table.lost() {
            bail!(
                "writing {} failed ({}): {} rows written, {} lost",
                out.display(),
                lost.error,
                table.rows_written(),
                lost.lines
            );
        }
        eprintln!(
            "osmtrace: {} of {} events written to {} as {} rows",
            stats.shown,
            stats.read,
            out.display(),
            table.rows_written()
        );
        return Ok(());
    }
    let mut output: Box<dyn Write> = match &options.out {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot write {}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let config = OutputConfig {
        format,
        filter,
        timestamps: match (options.timestamps, options.virtual_clock, recorded) {
            (_, true, _) | (_, _, Timestamps::Virtual) => Timestamps::Virtual,
            (true, false, _) | (_, _, Timestamps::Wall) => Timestamps::Wall,
            (false, false, Timestamps::None) => Timestamps::None,
        },
        durations: options.durations,
        summary_by_process: options.by_process,
        ..OutputConfig::default()
    };
    let stats = convert(source, &config, &options.file, &mut output)?;
    output.flush().context("cannot write the view")?;
    if let Some(out) = &options.out {
        eprintln!(
            "osmtrace: {} of {} events written to {}",
            stats.shown,
            stats.read,
            out.display()
        );
    }
    Ok(())
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct ViewStats {
    /// Events read from the recording.
    pub read: u64,
    /// Events that passed `trace=`, `process=` and `thread=`.
    pub shown: u64,
}

/// A recording: jsonl lines, or a raw trace decoded.
pub enum Source<R> {
    Jsonl(R),
    Raw(Box<RawReader>),
}

/// Reads a recording and writes it in `config`'s format, filtered.
pub fn convert(
    input: Source<impl BufRead>,
    config: &OutputConfig,
    name: &Path,
    output: &mut dyn Write,
) -> Result<ViewStats> {
    let mut formatter = Formatter::new(config.clone());
    let mut text = String::new();
    let write = |output: &mut dyn Write, text: &mut String| -> Result<()> {
        output
            .write_all(text.as_bytes())
            .context("cannot write the view")?;
        text.clear();
        Ok(())
    };
    let stats = read_events(input, config, name, |event| {
        formatter.event(&event.as_event(), &mut text);
        write(output, &mut text)
    })?;
    // The summary of a view is its own format; the table never follows a
    // jsonl or Perfetto file.
    let _ = formatter.finish(&mut text);
    write(output, &mut text)?;
    Ok(stats)
}

/// Reads a recording's events and hands those the filter selects to
/// `shown`.
fn read_events(
    input: Source<impl BufRead>,
    config: &OutputConfig,
    name: &Path,
    mut shown: impl FnMut(OwnedEvent) -> Result<()>,
) -> Result<ViewStats> {
    let mut select = Selector {
        follow: config.filter.follow.clone().map(FollowSet::new),
        config,
        stats: ViewStats::default(),
    };
    let mut reader = match input {
        Source::Jsonl(input) => return read_jsonl(input, name, select, shown),
        Source::Raw(reader) => reader,
    };
    let decl_base = reader.decl_base_for(config);
    let mut failed = None;
    let read = reader.events(&decl_base, |event| {
        if select.selects(&event) {
            shown(event).map_err(|e| {
                let message = e.to_string();
                failed = Some(e);
                message
            })?;
        }
        Ok(())
    });
    if let Some(e) = failed {
        return Err(e);
    }
    read.map_err(anyhow::Error::msg)?;
    if reader.misses > 0 {
        bail!(
            "{}: {} memory reads of its decoding were not captured: the trace does not match its model",
            name.display(),
            reader.misses
        );
    }
    Ok(select.stats)
}

/// The view's filter, with what `follow=` has learnt.
struct Selector<'c> {
    follow: Option<FollowSet>,
    config: &'c OutputConfig,
    stats: ViewStats,
}

impl Selector<'_> {
    fn selects(&mut self, event: &OwnedEvent) -> bool {
        self.stats.read += 1;
        let config = self.config;
        // `follow=` sees every call, as the plugin does, to learn which
        // processes are followed. A recording does not say which calls end
        // a process, so a followed pid stays followed to its end.
        let followed = self
            .follow
            .as_mut()
            .is_none_or(|f| f.call(event.task.as_ref(), false));
        // A signal or a process's end shows whatever calls are selected,
        // as in the plugin and strace.
        let selected =
            event.kind.is_notice() || config.filter.matches_call(&event.name, &event.classes);
        let shown = selected
            && config.filter.identity_ok(event.thread, event.process)
            && config.filter.names_ok(event.task.as_ref())
            && followed;
        self.stats.shown += u64::from(shown);
        shown
    }
}

/// A jsonl recording's events. A last line cut short (a trace whose writer
/// was killed) ends the events with a warning; any other bad line is an
/// error naming it.
fn read_jsonl(
    mut input: impl BufRead,
    name: &Path,
    mut select: Selector<'_>,
    mut shown: impl FnMut(OwnedEvent) -> Result<()>,
) -> Result<ViewStats> {
    let mut line = Vec::new();
    let mut reader = JsonlReader::default();
    for number in 1.. {
        line.clear();
        let n = input
            .read_until(b'\n', &mut line)
            .with_context(|| name.display().to_string())?;
        if n == 0 {
            break;
        }
        let Ok(text) = std::str::from_utf8(&line) else {
            bail!(
                "{}:{number}: not text: not a jsonl trace (record one with --plugin-args format=jsonl)",
                name.display()
            );
        };
        let event = match reader.parse_line(text) {
            Ok(event) => event,
            Err(_) if !text.ends_with('\n') && number > 1 => {
                eprintln!(
                    "osmtrace: {}:{number}: the last line is cut short (the trace was not finished); the {} events before it are used",
                    name.display(),
                    select.stats.read
                );
                break;
            }
            Err(e) if number == 1 => {
                bail!(
                    "{}:1: {e}: not a jsonl trace (record one with --plugin-args format=jsonl)",
                    name.display()
                );
            }
            Err(e) => bail!("{}:{number}: {e}", name.display()),
        };
        let Some(event) = event else { continue };
        if select.selects(&event) {
            shown(event)?;
        }
    }
    Ok(select.stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the plugin records for: a failing openat, a read interleaved
    /// with another thread's write, and exit_group.
    const RECORDING: &str = r#"{"event":"entry","vcpu":0,"thread":16,"process":4096,"nr":257,"name":"openat","classes":["desc","file"],"ts":1000000,"args":[{"name":"dfd","type":"dirfd","value":18446744073709551516,"text":"AT_FDCWD"},{"name":"filename","type":"cstr","value":28672,"text":"\"/nonexistent\""},{"name":"flags","type":"open_flags","value":0,"text":"O_RDONLY"},{"name":"mode","type":"mode","value":0,"text":"0","hidden":true}]}
{"event":"exit","vcpu":0,"thread":16,"process":4096,"nr":257,"name":"openat","classes":["desc","file"],"ts":1003000,"args":[{"name":"dfd","type":"dirfd","value":18446744073709551516,"text":"AT_FDCWD"},{"name":"filename","type":"cstr","value":28672,"text":"\"/nonexistent\""},{"name":"flags","type":"open_flags","value":0,"text":"O_RDONLY"},{"name":"mode","type":"mode","value":0,"text":"0","hidden":true}],"ret":18446744073709551614,"ret_text":"-1 ENOENT (No such file or directory)","error":"ENOENT","errno":2,"dur":3000}

{"event":"entry","vcpu":0,"thread":16,"process":4096,"nr":0,"name":"read","classes":["desc"],"ts":2000000,"args":[{"name":"fd","type":"fd","value":3,"text":"3"},{"name":"buf","type":"buf","value":8192,"text":"0x2000","dir":"out"},{"name":"count","type":"size","value":16,"text":"16"}]}
{"event":"entry","vcpu":1,"thread":32,"process":4096,"nr":1,"name":"write","classes":["desc"],"ts":2100000,"args":[{"name":"fd","type":"fd","value":4,"text":"4"},{"name":"buf","type":"buf","value":36864,"text":"\"x\""},{"name":"count","type":"size","value":1,"text":"1"}]}
{"event":"exit","vcpu":1,"thread":32,"process":4096,"nr":1,"name":"write","classes":["desc"],"ts":2200000,"args":[{"name":"fd","type":"fd","value":4,"text":"4"},{"name":"buf","type":"buf","value":36864,"text":"\"x\""},{"name":"count","type":"size","value":1,"text":"1"}],"ret":1,"ret_text":"1","error":null,"dur":100000}
{"event":"exit","vcpu":0,"thread":16,"process":4096,"nr":0,"name":"read","classes":["desc"],"ts":2500000,"args":[{"name":"fd","type":"fd","value":3,"text":"3"},{"name":"buf","type":"buf","value":8192,"text":"\"x\"","dir":"out"},{"name":"count","type":"size","value":16,"text":"16"}],"ret":1,"ret_text":"1","error":null,"dur":500000}
{"event":"entry","vcpu":0,"thread":16,"process":4096,"nr":231,"name":"exit_group","classes":["process"],"ts":3000000,"args":[{"name":"error_code","type":"int","value":7,"text":"7"}]}
{"event":"exit","vcpu":0,"thread":16,"process":4096,"nr":231,"name":"exit_group","classes":["process"],"ts":3000000,"args":[{"name":"error_code","type":"int","value":7,"text":"7"}],"ret":null,"ret_text":null,"error":null,"dur":0}
"#;

    fn view(format: Format, filter: &str) -> String {
        view_with(&OutputConfig {
            format,
            filter: FilterSpec::parse(filter).unwrap(),
            ..OutputConfig::default()
        })
    }

    fn view_with(config: &OutputConfig) -> String {
        let mut out = Vec::new();
        convert(
            Source::Jsonl(RECORDING.as_bytes()),
            config,
            Path::new("t.jsonl"),
            &mut out,
        )
        .unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn strace_text_like_the_plugin() {
        assert_eq!(
            view(Format::Strace, ""),
            "[0x10] openat(AT_FDCWD, \"/nonexistent\", O_RDONLY) = -1 ENOENT (No such file or directory)\n\
             [0x10] read(3,  <unfinished ...>\n\
             [0x20] write(4, \"x\", 1) = 1\n\
             [0x10] <... read resumed>\"x\", 16) = 1\n\
             [0x10] exit_group(7) = ?\n"
        );
    }

    /// A read interrupted by a signal, the process's end and the health
    /// summary (no event) at the end of a recording.
    const SIGNALS: &str = r#"{"event":"entry","vcpu":0,"thread":16,"process":4096,"nr":0,"name":"read","classes":["desc"],"args":[{"name":"fd","type":"fd","value":3,"text":"3"}]}
{"event":"exit","vcpu":0,"thread":16,"process":4096,"nr":0,"name":"read","classes":["desc"],"args":[{"name":"fd","type":"fd","value":3,"text":"3"}],"ret":-4,"ret_raw":18446744073709551612,"ret_text":"-1 EINTR (Interrupted system call)","error":"EINTR","errno":4}
{"event":"signal","vcpu":0,"thread":16,"process":4096,"nr":14,"name":"SIGALRM","args":[{"name":"si_signo","type":"signal","value":14,"text":"SIGALRM"},{"name":"si_code","type":"si_code","value":128,"text":"SI_KERNEL"}]}
{"event":"exited","vcpu":0,"thread":16,"process":4096,"nr":7,"name":"","args":[],"status":7}
{"event":"summary","calls":1}
"#;

    #[test]
    fn signals_and_ends_show_whatever_calls_are_selected() {
        let view = |filter: &str| {
            let config = OutputConfig {
                filter: FilterSpec::parse(filter).unwrap(),
                ..OutputConfig::default()
            };
            let mut out = Vec::new();
            convert(
                Source::Jsonl(SIGNALS.as_bytes()),
                &config,
                Path::new("t.jsonl"),
                &mut out,
            )
            .unwrap();
            String::from_utf8(out).unwrap()
        };
        let notices = "[0x10] --- SIGALRM {si_signo=SIGALRM, si_code=SI_KERNEL} ---\n\
                       [0x10] +++ exited with 7 +++\n";
        assert_eq!(
            view(""),
            format!("[0x10] read(3) = -1 EINTR (Interrupted system call)\n{notices}")
        );
        assert_eq!(view("trace=write"), notices);
    }

    #[test]
    fn filters_by_name_class_status_and_identity() {
        assert_eq!(
            view(Format::Strace, "trace=%file"),
            "[0x10] openat(AT_FDCWD, \"/nonexistent\", O_RDONLY) = -1 ENOENT (No such file or directory)\n"
        );
        assert_eq!(
            view(Format::Strace, "trace=!%desc"),
            "[0x10] exit_group(7) = ?\n"
        );
        assert_eq!(
            view(Format::Strace, "status=successful"),
            "[0x20] write(4, \"x\", 1) = 1\n[0x10] read(3, \"x\", 16) = 1\n"
        );
        assert_eq!(
            view(Format::Strace, "thread=0x20"),
            "[0x20] write(4, \"x\", 1) = 1\n"
        );
        assert_eq!(view(Format::Strace, "process=1"), "");
    }

    #[test]
    fn summary_and_timeline() {
        let summary = view(Format::Summary, "");
        assert!(
            summary.contains(" 82.92    0.000500         500         1           read\n"),
            "{summary}"
        );
        assert!(
            summary.contains("         1         1 openat\n"),
            "{summary}"
        );
        assert!(
            summary.ends_with("unfinished calls: 1, unpaired exits: 0, unreadable arguments: 0\n"),
            "{summary}"
        );
        let timeline: serde_json::Value =
            serde_json::from_str(&view(Format::Perfetto, "trace=read:write")).unwrap();
        let slices: Vec<&serde_json::Value> = timeline
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["ph"] == "X")
            .collect();
        assert_eq!(slices.len(), 2);
        assert_eq!(
            (slices[1]["name"].as_str(), slices[1]["dur"].as_f64()),
            (Some("read"), Some(500.0))
        );
    }

    #[test]
    fn virtual_clock_shows_counts() {
        let config = OutputConfig {
            format: Format::Strace,
            filter: FilterSpec::parse("trace=write").unwrap(),
            timestamps: Timestamps::Virtual,
            durations: true,
            ..OutputConfig::default()
        };
        assert_eq!(
            view_with(&config),
            "[0x20] 2100000 write(4, \"x\", 1) = 1 <100000>\n"
        );
    }

    #[test]
    fn bad_input_names_the_line() {
        let config = OutputConfig::default();
        let mut out = Vec::new();
        let e = format!(
            "{:#}",
            convert(
                Source::Jsonl("\n{\"event\":\"exit\"}\n".as_bytes()),
                &config,
                Path::new("t.jsonl"),
                &mut out,
            )
            .unwrap_err()
        );
        assert!(e.starts_with("t.jsonl:2: "), "{e}");
    }

    #[test]
    fn a_trace_cut_short_is_used_up_to_its_last_whole_line() {
        let cut = &RECORDING[..RECORDING.len() - 40];
        let mut out = Vec::new();
        let stats = convert(
            Source::Jsonl(cut.as_bytes()),
            &OutputConfig::default(),
            Path::new("t.jsonl"),
            &mut out,
        )
        .unwrap();
        assert_eq!(stats.read, 7);
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.ends_with("[0x10] exit_group(7 <unfinished ...>\n"),
            "{text}"
        );
    }

    #[test]
    fn a_foreign_file_is_named_as_such() {
        for input in [&b"PK\x03\x04\xff\xfe binary"[..], b"hello world\n"] {
            let mut out = Vec::new();
            let e = format!(
                "{:#}",
                convert(
                    Source::Jsonl(input),
                    &OutputConfig::default(),
                    Path::new("x"),
                    &mut out,
                )
                .unwrap_err()
            );
            assert!(
                e.starts_with("x:1: ") && e.contains("not a jsonl trace"),
                "{e}"
            );
        }
    }

    #[test]
    fn parquet_rows_of_the_selected_calls() {
        let dir = std::env::temp_dir().join(format!("osmtrace-view-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let input = dir.join("t.jsonl");
        std::fs::write(&input, RECORDING).unwrap();
        let out = dir.join("t.parquet");
        let options = ViewOptions {
            file: input.clone(),
            filter: "trace=%desc".to_string(),
            format: "parquet".to_string(),
            out: Some(out.clone()),
            timestamps: false,
            durations: false,
            virtual_clock: false,
            by_process: false,
        };
        run(&options).unwrap();
        use parquet::file::reader::{FileReader, SerializedFileReader};
        let reader = SerializedFileReader::new(std::fs::File::open(&out).unwrap()).unwrap();
        // openat, read and write: entries joined with their exits.
        assert_eq!(reader.metadata().file_metadata().num_rows(), 3);
        let e = format!(
            "{:#}",
            run(&ViewOptions {
                file: out.clone(),
                format: "strace".to_string(),
                out: None,
                ..options
            })
            .unwrap_err()
        );
        assert!(e.contains("is a Parquet file"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
