//! What a trace is asked to show: the format, the filter, how much of each
//! value, timestamps, durations and the summary.

use crate::filter::FilterSpec;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    Strace,
    Paper,
    Jsonl,
    Perfetto,
    /// A Parquet table, one row per call ([`crate::parquet_trace`]); its
    /// events are formatted as jsonl for the log's writer thread.
    Parquet,
    Summary,
    /// `format=raw`: each call's registers and the guest memory its
    /// decoding reads, decoded later by `cargo xtask trace-view`
    /// ([`crate::raw`]).
    Raw,
    /// `format=none`: every entry's and exit's registers read, nothing
    /// decoded, paired or written: what any tracer pays (the bench's floor).
    Nothing,
}

impl Format {
    pub const ALL: [Format; 8] = [
        Format::Strace,
        Format::Paper,
        Format::Jsonl,
        Format::Perfetto,
        Format::Parquet,
        Format::Summary,
        Format::Raw,
        Format::Nothing,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Format::Strace => "strace",
            Format::Paper => "paper",
            Format::Jsonl => "jsonl",
            Format::Perfetto => "perfetto",
            Format::Parquet => "parquet",
            Format::Summary => "summary",
            Format::Raw => "raw",
            Format::Nothing => "none",
        }
    }

    pub fn from_name(name: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.name() == name)
    }

    /// Whether the format is text for people, where a summary table can
    /// follow the trace (not a machine format that it would corrupt).
    pub(super) fn is_text(self) -> bool {
        matches!(self, Format::Strace | Format::Paper | Format::Summary)
    }
}

/// Which clock timestamps come from, and whether strace lines show them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Timestamps {
    /// Wall-clock time, not printed in strace lines (jsonl, durations, the
    /// summary and the timeline still use it).
    #[default]
    None,
    /// Wall-clock time, printed like `strace -ttt`.
    Wall,
    /// The guest's own clock: instructions all vCPUs have executed before
    /// the event's instruction, counted by the plugin with QEMU's inline
    /// operations. Identical on every replay of a recording; strace lines
    /// show the count, durations are instructions, and the summary and
    /// the timeline take one instruction for a nanosecond.
    Virtual,
}

impl Timestamps {
    pub const ALL: [Timestamps; 3] = [Timestamps::None, Timestamps::Wall, Timestamps::Virtual];

    pub fn name(self) -> &'static str {
        match self {
            Timestamps::None => "none",
            Timestamps::Wall => "wall",
            Timestamps::Virtual => "virtual",
        }
    }

    pub fn from_name(name: &str) -> Option<Timestamps> {
        Timestamps::ALL.into_iter().find(|t| t.name() == name)
    }
}

/// Everything about what the trace shows: the format, the filter, how
/// much of each string, timestamps, durations and the summary. One value,
/// so the plugin glue hands it to the tracer in one piece.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputConfig {
    pub format: Format,
    pub filter: FilterSpec,
    /// strace's `-s`: characters of strings, bytes of buffers and elements
    /// of arrays shown.
    pub string_limit: usize,
    /// strace's `-v`: structure fields the model marks `verbose`.
    pub verbose: bool,
    pub timestamps: Timestamps,
    /// strace's `-T`: ` <0.000123>` after each return.
    pub durations: bool,
    /// strace's `-C`: the summary table at the end as well as the trace.
    pub summary: bool,
    /// `summary=process`: also a table per guest process.
    pub summary_by_process: bool,
    /// `jsonl=lean`: the model's calls declared once, in the trace's first
    /// line, and each call's event naming its declaration.
    pub jsonl_lean: bool,
}

impl Default for OutputConfig {
    fn default() -> Self {
        OutputConfig {
            format: Format::Strace,
            filter: FilterSpec::default(),
            string_limit: crate::decode::DEFAULT_STRING_LIMIT,
            verbose: false,
            timestamps: Timestamps::None,
            durations: false,
            summary: false,
            summary_by_process: false,
            jsonl_lean: false,
        }
    }
}

impl From<Format> for OutputConfig {
    fn from(format: Format) -> Self {
        OutputConfig {
            format,
            ..OutputConfig::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::Formatter;

    #[test]
    fn format_names() {
        for f in Format::ALL {
            assert_eq!(Format::from_name(f.name()), Some(f));
        }
        assert_eq!(Format::from_name("xml"), None);
        assert_eq!(Formatter::default().format(), Format::Strace);
    }
}
