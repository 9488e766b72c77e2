//! The plugin's own arguments, as QEMU passes them after the plugin path:
//! `-plugin libx.so,log=trace.txt,format=jsonl,trace=openat:%network`.
//!
//! Every mistake is an error that says what is accepted: a plugin that
//! silently ignores a misspelt option produces a trace the user did not ask
//! for, and only finds out after a boot. QEMU splits the arguments at
//! commas, so lists inside one value use `:`.

use crate::decode::MAX_STRING_LIMIT;
use crate::format::{Format, OutputConfig, Timestamps};
use std::path::PathBuf;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PluginArgs {
    /// Where the trace goes; `None` means QEMU's log (`-d plugin`, `-D`).
    pub log: Option<PathBuf>,
    /// What the trace shows and how: the format with the filters, string
    /// size, timestamps, durations and summary (the plugin glue passes it
    /// to `Formatter::new` as it is).
    pub format: OutputConfig,
    /// Where the traced kernel's layout comes from, for the model's `task`
    /// block; `None` when not given.
    pub kernel: Option<KernelSource>,
    /// `format=parquet`: rows per row group.
    pub row_group: Option<usize>,
    /// `decode=writer`: calls captured on the vCPU, decoded and formatted
    /// by the log's writer thread.
    pub decode_in_writer: bool,
}

impl PluginArgs {
    /// Whether the log's writer thread decodes and formats the calls the
    /// vCPUs capture (`decode=writer`, checked to have a log file in a
    /// format of calls).
    pub fn decodes_in_writer(&self) -> bool {
        self.decode_in_writer
    }
}

/// `kernel=`: what gives the offsets the model's `task` block needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KernelSource {
    /// A file: the kernel image the guest boots, a vmlinux, raw BTF or an
    /// ISF profile.
    File(PathBuf),
    /// `kernel=model`: the offsets written in the model.
    Model,
    /// `kernel=none`: no names for tasks; threads are named by register
    /// values, as without a `task` block.
    None,
}

/// Each key with what its value may be, for error messages.
const KEYS: &[(&str, &str)] = &[
    ("log", "PATH"),
    (
        "format",
        "strace|paper|jsonl|perfetto|parquet|summary|raw|none",
    ),
    ("decode", "vcpu|writer"),
    ("row_group", "ROWS"),
    ("jsonl", "full|lean"),
    ("trace", "NAME|%CLASS|!NAME:..."),
    ("status", "successful|failed|unfinished:..."),
    ("process", "ID:..."),
    ("thread", "ID:..."),
    ("strsize", "N"),
    ("verbose", "on|off"),
    ("timestamps", "none|wall|virtual"),
    ("durations", "on|off"),
    ("summary", "on|off|process"),
    ("kernel", "PATH|model|none"),
    ("pid", "PID:..."),
    ("tid", "TID:..."),
    ("comm", "NAME|PATTERN:..."),
    ("follow", "NAME|PATTERN:..."),
];

/// Every argument with what its value may be, for messages.
pub fn usage() -> String {
    let keys: Vec<String> = KEYS.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("valid arguments: {}", keys.join(", "))
}

fn on_off(key: &str, value: &str) -> Result<bool, String> {
    match value {
        "on" | "yes" | "true" | "1" => Ok(true),
        "off" | "no" | "false" | "0" => Ok(false),
        _ => Err(format!("osmtrace: {key}= takes on or off, not '{value}'")),
    }
}

pub fn parse_plugin_args<S: AsRef<str>>(args: &[S]) -> Result<PluginArgs, String> {
    let mut parsed = PluginArgs::default();
    let config = &mut parsed.format;
    let mut seen: Vec<&str> = Vec::new();
    for arg in args {
        let arg = arg.as_ref();
        let Some((key, value)) = arg.split_once('=') else {
            return Err(format!(
                "osmtrace: argument '{arg}' is not key=value; {}",
                usage()
            ));
        };
        // A repeated key is most likely a mistake in a long command line;
        // taking either value silently would hide it.
        if seen.contains(&key) {
            return Err(format!("osmtrace: argument '{key}' given twice"));
        }
        match key {
            "log" => {
                if value.is_empty() {
                    return Err("osmtrace: log= needs a file path".to_string());
                }
                parsed.log = Some(PathBuf::from(value));
            }
            "format" => {
                config.format = Format::from_name(value).ok_or_else(|| {
                    let names: Vec<&str> = Format::ALL.iter().map(|f| f.name()).collect();
                    format!(
                        "osmtrace: unknown format '{value}' (valid formats: {})",
                        names.join(", ")
                    )
                })?;
            }
            "strsize" => {
                config.string_limit = value
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=MAX_STRING_LIMIT).contains(n))
                    .ok_or_else(|| {
                        format!(
                            "osmtrace: strsize= takes a number from 1 to {MAX_STRING_LIMIT}, not '{value}'"
                        )
                    })?;
            }
            "kernel" => {
                parsed.kernel = Some(match value {
                    "" => {
                        return Err(
                            "osmtrace: kernel= needs a file path, model or none".to_string()
                        );
                    }
                    "model" => KernelSource::Model,
                    "none" => KernelSource::None,
                    path => KernelSource::File(PathBuf::from(path)),
                });
            }
            "row_group" => {
                parsed.row_group = Some(
                    value
                        .parse::<usize>()
                        .ok()
                        .filter(|&n| n > 0)
                        .ok_or_else(|| {
                            format!("osmtrace: row_group= takes a number of rows, not '{value}'")
                        })?,
                );
            }
            "decode" => {
                parsed.decode_in_writer = match value {
                    "writer" => true,
                    "vcpu" => false,
                    _ => {
                        return Err(format!(
                            "osmtrace: decode= takes vcpu or writer, not '{value}'"
                        ));
                    }
                };
            }
            "jsonl" => {
                config.jsonl_lean = match value {
                    "full" => false,
                    "lean" => true,
                    _ => {
                        return Err(format!(
                            "osmtrace: jsonl= takes full or lean, not '{value}'"
                        ));
                    }
                };
            }
            "verbose" => config.verbose = on_off(key, value)?,
            "durations" => config.durations = on_off(key, value)?,
            "summary" if value == "process" => {
                config.summary = true;
                config.summary_by_process = true;
            }
            "summary" => config.summary = on_off(key, value)?,
            "timestamps" => {
                config.timestamps = Timestamps::from_name(value).ok_or_else(|| {
                    format!("osmtrace: timestamps= takes none, wall or virtual, not '{value}'")
                })?;
            }
            _ => match config.filter.parse_kv(key, value) {
                Ok(true) => {}
                Ok(false) => {
                    return Err(format!("osmtrace: unknown argument '{key}'; {}", usage()));
                }
                Err(message) => return Err(format!("osmtrace: {message}")),
            },
        }
        seen.push(key);
    }
    if config.format == Format::Parquet && parsed.log.is_none() {
        return Err(
            "osmtrace: format=parquet writes a binary file: give it with log=PATH".to_string(),
        );
    }
    if config.format == Format::Raw {
        if parsed.log.is_none() {
            return Err(
                "osmtrace: format=raw writes a binary file: give it with log=PATH".to_string(),
            );
        }
        // What the view does: a raw trace keeps every selected call.
        for (given, what) in [
            (config.filter.status.is_some(), "status="),
            (config.summary, "summary="),
            (config.durations, "durations="),
        ] {
            if given {
                return Err(format!(
                    "osmtrace: {what} is for the view of a raw trace: cargo xtask trace-view FILE --filter status=... (or --format summary, --durations)"
                ));
            }
        }
    }
    // A summary decodes nothing, a raw trace is decoded later, and text on
    // QEMU's log has no writer thread.
    if parsed.decode_in_writer
        && (parsed.log.is_none()
            || !matches!(
                config.format,
                Format::Strace | Format::Paper | Format::Jsonl | Format::Perfetto | Format::Parquet
            ))
    {
        return Err(
            "osmtrace: decode=writer is for a log file (log=PATH) in strace, paper, jsonl, perfetto or parquet format"
                .to_string(),
        );
    }
    if parsed.row_group.is_some() && config.format != Format::Parquet {
        return Err("osmtrace: row_group= is for format=parquet".to_string());
    }
    if seen.contains(&"jsonl") && config.format != Format::Jsonl {
        return Err("osmtrace: jsonl= is for format=jsonl".to_string());
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::{FilterSpec, Item, Status};

    #[test]
    fn raw_traces_and_where_calls_are_decoded() {
        let a = parse_plugin_args(&["format=raw", "log=t.raw"]).unwrap();
        assert_eq!(a.format.format, Format::Raw);
        assert!(!a.decodes_in_writer());
        let e = parse_plugin_args(&["format=raw"]).unwrap_err();
        assert!(e.contains("give it with log=PATH"), "{e}");
        let e = parse_plugin_args(&["format=raw", "log=t", "status=failed"]).unwrap_err();
        assert!(e.contains("status= is for the view"), "{e}");
        assert!(!parse_plugin_args(&["log=t"]).unwrap().decodes_in_writer());
        let writer = parse_plugin_args(&["log=t", "decode=writer", "format=jsonl"]).unwrap();
        assert!(writer.decodes_in_writer());
        for refused in [
            &["decode=writer"][..],
            &["decode=writer", "log=t", "format=summary"],
            &["decode=writer", "log=t", "format=raw"],
        ] {
            let e = parse_plugin_args(refused).unwrap_err();
            assert!(e.contains("decode=writer is for a log file"), "{e}");
        }
        let e = parse_plugin_args(&["decode=later"]).unwrap_err();
        assert!(e.contains("decode= takes vcpu or writer"), "{e}");
    }

    #[test]
    fn jsonl_style() {
        let a = parse_plugin_args(&["format=jsonl", "jsonl=lean"]).unwrap();
        assert!(a.format.jsonl_lean);
        let a = parse_plugin_args(&["format=jsonl", "jsonl=full"]).unwrap();
        assert!(!a.format.jsonl_lean);
        let e = parse_plugin_args(&["format=jsonl", "jsonl=short"]).unwrap_err();
        assert!(e.contains("full or lean"), "{e}");
        let e = parse_plugin_args(&["jsonl=lean"]).unwrap_err();
        assert!(e.contains("format=jsonl"), "{e}");
    }

    #[test]
    fn defaults() {
        let none: [&str; 0] = [];
        assert_eq!(parse_plugin_args(&none), Ok(PluginArgs::default()));
        let config = PluginArgs::default().format;
        assert_eq!(config.format, Format::Strace);
        assert_eq!(config.string_limit, 32);
        assert!(!config.verbose && !config.durations && !config.summary);
        assert_eq!(config.timestamps, Timestamps::None);
        assert!(config.filter.is_empty());
    }

    #[test]
    fn log_and_format() {
        let a = parse_plugin_args(&["log=/tmp/t.jsonl", "format=jsonl"]).unwrap();
        assert_eq!(a.log, Some(PathBuf::from("/tmp/t.jsonl")));
        assert_eq!(a.format.format, Format::Jsonl);
        // Paths may contain '='.
        let a = parse_plugin_args(&["log=a=b".to_string()]).unwrap();
        assert_eq!(a.log, Some(PathBuf::from("a=b")));
        for f in Format::ALL {
            let arg = format!("format={}", f.name());
            assert_eq!(
                parse_plugin_args(&[arg, "log=t".into()])
                    .unwrap()
                    .format
                    .format,
                f
            );
        }
    }

    #[test]
    fn output_options() {
        let a = parse_plugin_args(&[
            "strsize=64",
            "verbose=on",
            "timestamps=wall",
            "durations=on",
            "summary=yes",
        ])
        .unwrap();
        let c = a.format;
        assert_eq!(c.string_limit, 64);
        assert!(c.verbose && c.durations && c.summary);
        assert_eq!(c.timestamps, Timestamps::Wall);
    }

    #[test]
    fn filters() {
        let a = parse_plugin_args(&[
            "trace=openat:!read:%net",
            "status=failed",
            "process=0x1000",
            "thread=7:8",
        ])
        .unwrap();
        assert_eq!(
            a.format.filter,
            FilterSpec {
                trace: Some(vec![
                    (true, Item::Name("openat".into())),
                    (false, Item::Name("read".into())),
                    (true, Item::Class("net".into())),
                ]),
                status: Some(vec![Status::Failed]),
                processes: Some(vec![0x1000]),
                threads: Some(vec![7, 8]),
                ..FilterSpec::default()
            }
        );
        let a =
            parse_plugin_args(&["pid=83:84", "comm=sh:kworker*", "follow=e2e", "tid=85"]).unwrap();
        let f = a.format.filter;
        assert_eq!((f.pids, f.tids), (Some(vec![83, 84]), Some(vec![85])));
        let comms: Vec<String> = f.comms.unwrap().iter().map(|p| p.to_string()).collect();
        assert_eq!(comms, ["sh", "kworker*"]);
        assert_eq!(f.follow.unwrap()[0].as_str(), "e2e");
        assert!(
            parse_plugin_args(&["pid=0x53"])
                .unwrap_err()
                .contains("not a pid")
        );
        assert!(
            parse_plugin_args(&["comm=[a"])
                .unwrap_err()
                .contains("not a name or pattern")
        );
    }

    #[test]
    fn kernel_sources() {
        let kernel = |v: &str| parse_plugin_args(&[format!("kernel={v}")]).map(|a| a.kernel);
        assert_eq!(
            kernel("/boot/vmlinuz"),
            Ok(Some(KernelSource::File("/boot/vmlinuz".into())))
        );
        assert_eq!(kernel("model"), Ok(Some(KernelSource::Model)));
        assert_eq!(kernel("none"), Ok(Some(KernelSource::None)));
        assert!(kernel("").is_err());
    }

    #[test]
    fn errors_say_what_is_valid() {
        let e = parse_plugin_args(&["verbose=1", "colour=on"]).unwrap_err();
        assert!(
            e.contains("'colour'")
                && e.contains("log=PATH")
                && e.contains("format=strace|paper|jsonl|perfetto|parquet|summary")
                && e.contains("trace=NAME|%CLASS|!NAME:..."),
            "{e}"
        );
        let e = parse_plugin_args(&["format=xml"]).unwrap_err();
        assert!(
            e.contains("'xml'") && e.contains("strace, paper, jsonl, perfetto, parquet, summary"),
            "{e}"
        );
        let e = parse_plugin_args(&["jsonl"]).unwrap_err();
        assert!(e.contains("not key=value") && e.contains("log=PATH"), "{e}");
        assert!(parse_plugin_args(&["log="]).unwrap_err().contains("path"));
        let e = parse_plugin_args(&["format=paper", "format=jsonl"]).unwrap_err();
        assert!(e.contains("twice"), "{e}");
        for (arg, wanted) in [
            ("strsize=0", "from 1 to 65536"),
            ("strsize=lots", "'lots'"),
            ("summary=maybe", "on or off"),
            ("timestamps=local", "none, wall or virtual"),
            ("status=odd", "'odd'"),
            ("thread=x", "'x'"),
            ("format=parquet", "log=PATH"),
            ("row_group=10", "for format=parquet"),
        ] {
            let e = parse_plugin_args(&[arg]).unwrap_err();
            assert!(
                e.starts_with("osmtrace: ") && e.contains(wanted),
                "{arg}: {e}"
            );
        }
        for t in Timestamps::ALL {
            let arg = format!("timestamps={}", t.name());
            assert_eq!(parse_plugin_args(&[arg]).unwrap().format.timestamps, t);
        }
        for bad in ["row_group=0", "row_group=many"] {
            let e = parse_plugin_args(&["format=parquet", "log=t", bad]).unwrap_err();
            assert!(e.contains("number of rows"), "{e}");
        }
        let a = parse_plugin_args(&["format=parquet", "log=t", "row_group=1000"]).unwrap();
        assert_eq!(a.row_group, Some(1000));
    }
}
