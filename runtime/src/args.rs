//! The plugin's own arguments, as QEMU passes them after the plugin path:
//! `-plugin libx.so,log=trace.txt,format=jsonl`.
//!
//! Every mistake is an error that says what is accepted: a plugin that
//! silently ignores a misspelt option produces a trace the user did not ask
//! for, and only finds out after a boot.

use crate::format::Format;
use std::path::PathBuf;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PluginArgs {
    /// Where the trace goes; `None` means QEMU's log (`-d plugin`, `-D`).
    pub log: Option<PathBuf>,
    pub format: Format,
}

/// Each key with what its value may be, for error messages.
const KEYS: &[(&str, &str)] = &[("log", "PATH"), ("format", "strace|paper|jsonl")];

fn usage() -> String {
    let keys: Vec<String> = KEYS.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("valid arguments: {}", keys.join(", "))
}

pub fn parse_plugin_args<S: AsRef<str>>(args: &[S]) -> Result<PluginArgs, String> {
    let mut parsed = PluginArgs::default();
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
                parsed.format = Format::from_name(value).ok_or_else(|| {
                    let names: Vec<&str> = Format::ALL.iter().map(|f| f.name()).collect();
                    format!(
                        "osmtrace: unknown format '{value}' (valid formats: {})",
                        names.join(", ")
                    )
                })?;
            }
            _ => {
                return Err(format!("osmtrace: unknown argument '{key}'; {}", usage()));
            }
        }
        seen.push(key);
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let none: [&str; 0] = [];
        assert_eq!(parse_plugin_args(&none), Ok(PluginArgs::default()));
        assert_eq!(PluginArgs::default().format, Format::Strace);
    }

    #[test]
    fn log_and_format() {
        let a = parse_plugin_args(&["log=/tmp/t.jsonl", "format=jsonl"]).unwrap();
        assert_eq!(a.log, Some(PathBuf::from("/tmp/t.jsonl")));
        assert_eq!(a.format, Format::Jsonl);
        // Paths may contain '='.
        let a = parse_plugin_args(&["log=a=b".to_string()]).unwrap();
        assert_eq!(a.log, Some(PathBuf::from("a=b")));
        assert_eq!(
            parse_plugin_args(&["format=paper"]).unwrap().format,
            Format::Paper
        );
    }

    #[test]
    fn errors_say_what_is_valid() {
        let e = parse_plugin_args(&["verbose=1"]).unwrap_err();
        assert!(
            e.contains("'verbose'")
                && e.contains("log=PATH")
                && e.contains("format=strace|paper|jsonl"),
            "{e}"
        );
        let e = parse_plugin_args(&["format=xml"]).unwrap_err();
        assert!(
            e.contains("'xml'") && e.contains("strace, paper, jsonl"),
            "{e}"
        );
        let e = parse_plugin_args(&["jsonl"]).unwrap_err();
        assert!(e.contains("not key=value") && e.contains("log=PATH"), "{e}");
        assert!(parse_plugin_args(&["log="]).unwrap_err().contains("path"));
        let e = parse_plugin_args(&["format=paper", "format=jsonl"]).unwrap_err();
        assert!(e.contains("twice"), "{e}");
    }
}
