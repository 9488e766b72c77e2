//! What a trace shows and how: decoded events in the [`Format`] asked for,
//! after the `status=` filter, with the summary alongside. strace's text,
//! the paper's layout and jsonl are written here, a module each; the
//! Perfetto timeline, the Parquet table and the summary table have modules
//! of their own ([`crate::perfetto`], [`crate::parquet_trace`],
//! [`crate::summary`]).
//!
//! The same [`Formatter`] serves the plugin and the trace tool, so a
//! recorded trace converts to exactly what the plugin would have printed.

mod config;
mod event;
#[cfg(test)]
mod fixtures;
mod jsonl;
mod paper;
mod strace;

pub use config::{Format, OutputConfig, Timestamps};
pub use event::{Event, EventKind, OwnedEvent, Placed};
pub use jsonl::{
    DECLARATIONS_VERSION, JsonlStyle, decl_bases, declarations, json_str, jsonl, jsonl_with,
};
pub use paper::paper;

use crate::filter::Status;
use crate::perfetto::PerfettoWriter;
use crate::summary::Summary;
use std::collections::VecDeque;
use strace::{StraceWriter, strace_prepare};

/// Entries the status filter holds until their exit says how they ended;
/// beyond this the oldest is released as unfinished.
const HELD_LIMIT: usize = 4096;

/// `status=`: entries wait for their exits, then both pass or neither.
#[derive(Clone, Debug, Default)]
struct StatusGate {
    held: VecDeque<OwnedEvent>,
}

impl StatusGate {
    /// The held entry an exit belongs to: by entry time when known (it
    /// survives identity changes), else the newest of the same thread.
    fn release(&mut self, exit: &Event<'_>) -> Option<OwnedEvent> {
        let i = match exit.entry_ts {
            Some(ts) => self
                .held
                .iter()
                .rposition(|e| e.ts == Some(ts) && e.nr == exit.nr),
            None => self.held.iter().rposition(|e| {
                e.thread == exit.thread && e.process == exit.process && e.nr == exit.nr
            }),
        }?;
        self.held.remove(i)
    }
}

/// The part of formatting that depends on each event alone, split off so
/// that a tracer can do it on the vCPU's thread before the event is put in
/// order with other vCPUs' events, and then only place the text
/// ([`Formatter::place_prepared`]): the order (and
/// `<unfinished ...>`) needs the events before it, the text does not. The
/// tracer keeps a prepared event in its vCPU's queue
/// ([`crate::ordered`]), so the output's lock is not taken per event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preparer {
    Strace {
        timestamps: Timestamps,
        durations: bool,
    },
    Paper,
    Jsonl(JsonlStyle),
}

impl Preparer {
    /// Appends `ev`'s own text to `text`.
    pub fn prepare(&self, ev: &Event<'_>, text: &mut String) {
        match *self {
            Preparer::Strace {
                timestamps,
                durations,
            } => strace_prepare(ev, text, None, timestamps, durations),
            Preparer::Paper => paper(ev, text),
            Preparer::Jsonl(style) => jsonl_with(ev, text, style),
        }
    }
}

/// The format's own state.
#[derive(Clone, Debug)]
enum Writer {
    Strace(StraceWriter),
    Paper,
    Jsonl(JsonlStyle),
    Perfetto(Box<PerfettoWriter>),
    /// The summary is the whole output.
    None,
}

/// Turns events into text: the status filter, the format, the summary.
#[derive(Clone, Debug)]
pub struct Formatter {
    config: OutputConfig,
    writer: Writer,
    gate: Option<StatusGate>,
    summary: Option<Summary>,
}

impl Default for Formatter {
    fn default() -> Self {
        Formatter::new(OutputConfig::default())
    }
}

impl Formatter {
    pub fn new(config: impl Into<OutputConfig>) -> Self {
        let config = config.into();
        let writer = match config.format {
            Format::Strace => {
                Writer::Strace(StraceWriter::new(config.timestamps, config.durations))
            }
            Format::Paper => Writer::Paper,
            // Times only when asked for: a trace without them is the same
            // every run, which test vectors and diffs of traces rely on.
            Format::Jsonl => Writer::Jsonl(JsonlStyle {
                ts: config.timestamps != Timestamps::None,
                dur: config.timestamps != Timestamps::None || config.durations,
                lean: config.jsonl_lean,
            }),
            Format::Perfetto => Writer::Perfetto(Box::default()),
            // Every row has its times, and its own names.
            Format::Parquet => Writer::Jsonl(JsonlStyle {
                ts: true,
                dur: true,
                lean: false,
            }),
            // A raw trace's records do not go through a formatter.
            Format::Summary | Format::Raw | Format::Nothing => Writer::None,
        };
        let gate = config.filter.status.is_some().then(StatusGate::default);
        let summary = (config.summary || config.format == Format::Summary).then(|| {
            if config.summary_by_process {
                Summary::per_process()
            } else {
                Summary::new()
            }
        });
        Formatter {
            config,
            writer,
            gate,
            summary,
        }
    }

    pub fn format(&self) -> Format {
        self.config.format
    }

    pub fn config(&self) -> &OutputConfig {
        &self.config
    }

    pub fn summary(&self) -> Option<&Summary> {
        self.summary.as_ref()
    }

    /// How events can be prepared before [`Formatter::place_prepared`],
    /// if they can: not under a status filter, which holds entries back
    /// and decides at their exits, nor with a summary, which counts whole
    /// events, nor for Perfetto's timeline, whose output is not one text
    /// per event.
    pub fn preparer(&self) -> Option<Preparer> {
        if !self.places_text_alone() {
            return None;
        }
        match self.writer {
            Writer::Strace(ref w) => Some(w.preparer()),
            Writer::Paper => Some(Preparer::Paper),
            Writer::Jsonl(style) => Some(Preparer::Jsonl(style)),
            Writer::Perfetto(_) | Writer::None => None,
        }
    }

    /// Events can be placed from their prepared text alone: no status
    /// filter holds them back and no summary counts them.
    fn places_text_alone(&self) -> bool {
        self.gate.is_none() && self.summary.is_none()
    }

    /// Like [`Formatter::event`], for an event whose text the
    /// [`Formatter::preparer`] has made; a formatter without a preparer
    /// ignores it.
    pub fn place_prepared(&mut self, ev: &Placed<'_>, prepared: &str, out: &mut String) {
        if !self.places_text_alone() {
            return;
        }
        match &mut self.writer {
            Writer::Strace(w) => w.place(ev, prepared, out),
            Writer::Paper | Writer::Jsonl(_) => out.push_str(prepared),
            Writer::Perfetto(_) | Writer::None => {}
        }
    }

    /// Appends the text for `ev` (possibly none yet: a strace entry waits
    /// for its exit, the status filter holds entries).
    pub fn event(&mut self, ev: &Event<'_>, out: &mut String) {
        if self.gate.is_none() {
            return self.pass(ev, out);
        }
        self.gated(ev, out);
    }

    /// [`Formatter::event`] under a status filter. Out of line, as the
    /// writers other than strace's are: inlined, they made the stack frame
    /// of every event's formatting several times larger.
    #[inline(never)]
    fn gated(&mut self, ev: &Event<'_>, out: &mut String) {
        let Some(gate) = &mut self.gate else {
            return;
        };
        match ev.kind {
            EventKind::Entry => {
                let evicted = if gate.held.len() >= HELD_LIMIT {
                    gate.held.pop_front()
                } else {
                    None
                };
                gate.held.push_back(OwnedEvent::from_event(ev));
                if let Some(old) = evicted
                    && self.config.filter.status_ok(Status::Unfinished)
                {
                    self.pass(&old.as_event(), out);
                }
            }
            EventKind::Signal
            | EventKind::Exited
            | EventKind::Killed { .. }
            | EventKind::Superseded => self.pass(ev, out),
            EventKind::Exit => {
                let entry = gate.release(ev);
                if self.config.filter.status_ok(ev.status()) {
                    if let Some(entry) = entry {
                        self.pass(&entry.as_event(), out);
                    }
                    self.pass(ev, out);
                }
            }
        }
    }

    fn pass(&mut self, ev: &Event<'_>, out: &mut String) {
        if let Some(summary) = &mut self.summary {
            summary.record(ev);
        }
        match &mut self.writer {
            Writer::Strace(w) => w.event(ev, out),
            Writer::Paper => paper(ev, out),
            Writer::Jsonl(style) => jsonl_with(ev, out, *style),
            Writer::Perfetto(w) => w.event(ev, out),
            Writer::None => {}
        }
    }

    /// At the end of a trace: entries still held (unfinished calls), the
    /// end of the format, and the summary table when it belongs in the
    /// trace. Returns the summary when it does not (a jsonl or Perfetto
    /// file), for the plugin to print on stderr.
    pub fn finish(&mut self, out: &mut String) -> Option<String> {
        if let Some(gate) = &mut self.gate {
            let held: Vec<OwnedEvent> = gate.held.drain(..).collect();
            if self.config.filter.status_ok(Status::Unfinished) {
                for entry in held {
                    self.pass(&entry.as_event(), out);
                }
            }
        }
        match &mut self.writer {
            Writer::Strace(w) => w.finish(out),
            Writer::Perfetto(w) => w.finish(out),
            Writer::Paper | Writer::Jsonl(_) | Writer::None => {}
        }
        let summary = self.summary.as_mut()?;
        let mut table = String::new();
        summary.render(&mut table);
        if self.config.format.is_text() {
            out.push_str(&table);
            None
        } else {
            Some(table)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::fixtures::{
        failed_open_entry, failed_open_exit, read_entry, read_exit, run, run_prepared, timed,
    };

    #[test]
    fn prepared_events_print_as_formatted_ones() {
        let entry = timed(read_entry(1), 1_700_000_000_000_001_000, None);
        let exit = timed(read_exit(1), 1_700_000_000_000_124_999, entry.ts);
        let other = timed(read_entry(2), 1_700_000_000_000_050_000, None);
        let mut other_exit = timed(read_exit(2), 1_700_000_000_000_200_000, other.ts);
        other_exit.ret = None;
        let mut open_entry = failed_open_exit();
        open_entry.kind = EventKind::Entry;
        open_entry.ret = None;
        // One line, interleaved lines, an exit with no entry, a call that
        // does not return, and one left unfinished at the end.
        let events = [
            entry.clone(),
            exit.clone(),
            entry.clone(),
            other.clone(),
            exit,
            open_entry,
            failed_open_exit(),
            other_exit,
            read_exit(3),
            other,
        ];
        let timed_strace = OutputConfig {
            timestamps: Timestamps::Wall,
            durations: true,
            ..OutputConfig::default()
        };
        for config in [
            OutputConfig::from(Format::Strace),
            timed_strace,
            OutputConfig::from(Format::Paper),
            OutputConfig::from(Format::Jsonl),
        ] {
            let formatted = run(config.clone(), &events);
            assert!(formatted.lines().count() >= 5, "{formatted}");
            assert_eq!(run_prepared(config, &events), formatted);
        }
        // Output that is not one piece of text per event has no preparer.
        assert_eq!(Formatter::new(Format::Perfetto).preparer(), None);
        assert_eq!(Formatter::new(Format::Summary).preparer(), None);
        let summed = OutputConfig {
            summary: true,
            ..OutputConfig::default()
        };
        assert_eq!(Formatter::new(summed).preparer(), None);
        let gated = OutputConfig {
            filter: crate::filter::FilterSpec::parse("status=failed").unwrap(),
            ..OutputConfig::default()
        };
        assert_eq!(Formatter::new(gated).preparer(), None);
    }

    #[test]
    fn status_filter_holds_entries_until_their_exit() {
        let config = |status: &str| OutputConfig {
            filter: crate::filter::FilterSpec::parse(&format!("status={status}")).unwrap(),
            ..OutputConfig::default()
        };
        let events = [
            read_entry(1),
            failed_open_entry(),
            failed_open_exit(),
            read_exit(1),
            read_entry(2),
        ];
        assert_eq!(
            run(config("failed"), &events),
            "[0x77] openat(AT_FDCWD, \"/nonexistent\") = -1 ENOENT (No such file or directory)\n"
        );
        // Held entries print whole even when the calls interleaved.
        assert_eq!(
            run(config("successful"), &events),
            "[0x1] read(3, \"hi\\n\", 100) = 3\n"
        );
        // A call still in the kernel at the end is unfinished.
        assert_eq!(
            run(config("unfinished"), &events),
            "[0x2] read(3,  <unfinished ...>\n"
        );
        assert_eq!(run(config("!unfinished"), &events).lines().count(), 2);
    }

    #[test]
    fn summary_follows_text_and_not_machine_formats() {
        let events = [
            timed(failed_open_entry(), 10, None),
            timed(failed_open_exit(), 30, Some(10)),
        ];
        let out = run(Format::Summary, &events);
        assert!(out.starts_with("% time     seconds  usecs/call"), "{out}");
        assert!(out.contains("         1         1 openat\n"), "{out}");
        let with_trace = OutputConfig {
            summary: true,
            ..OutputConfig::default()
        };
        let out = run(with_trace, &events);
        assert!(
            out.starts_with("[0x77] openat(") && out.contains("% time"),
            "{out}"
        );
        // jsonl stays jsonl; the table comes back for stderr.
        let mut f = Formatter::new(OutputConfig {
            format: Format::Jsonl,
            summary: true,
            ..OutputConfig::default()
        });
        let mut out = String::new();
        for ev in &events {
            f.event(&ev.as_event(), &mut out);
        }
        let report = f.finish(&mut out).expect("a summary for stderr");
        assert!(
            report.contains("openat") && !out.contains("% time"),
            "{out}"
        );
        assert_eq!(out.lines().count(), 2);
        assert_eq!(f.summary().map(|s| s.unfinished), Some(0));
    }

    #[test]
    fn perfetto_through_the_formatter() {
        let events = [
            timed(read_entry(1), 1000, None),
            timed(read_exit(1), 3000, Some(1000)),
        ];
        let out = run(Format::Perfetto, &events);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let slice = v
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["ph"] == "X")
            .unwrap();
        assert_eq!(slice["name"], "read");
        assert_eq!(slice["dur"].as_f64(), Some(2.0));
        assert_eq!(slice["args"]["args"]["buf"], "\"hi\\n\"");
    }
}
