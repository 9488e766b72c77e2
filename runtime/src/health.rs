//! The figures that say how complete a trace is, printed at its end on
//! stderr and, in jsonl, written as its last event (`"event":"summary"`).

use serde::Serialize;
use std::fmt::Write as _;

/// What the tracer saw and what became of it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Health {
    /// Calls entered and traced (not filtered out).
    pub entries: u64,
    /// Calls entered and left out by `trace=`, `pid=`, `follow=`, ...
    pub filtered: u64,
    /// Entries whose number or identity could not be read: not traced.
    pub unreadable_entries: u64,
    /// Calls paired with their return (the parts below included).
    pub exits: u64,
    pub child_returns: u64,
    pub exec_returns: u64,
    /// Returns paired after the call changed its thread's identity.
    pub rekeyed_returns: u64,
    /// Calls a signal handler interrupted (no return of their own).
    pub interrupted: u64,
    /// Calls the kernel restarted at their entry instruction.
    pub restarted: u64,
    /// Calls still in the kernel when the trace ended (a blocked `read`
    /// when the guest powered off): not a fault of the trace.
    pub pending_at_end: u64,
    /// Calls whose return was never seen: their thread entered another call
    /// through the same instruction first.
    pub unpaired_superseded: u64,
    /// Calls dropped, oldest first, from a vCPU's table of pending calls
    /// when it held [`Health::pending_limit`] of them.
    pub unpaired_dropped: u64,
    pub pending_limit: u64,
    /// Arguments shown as unreadable (`?` or an address), over all events.
    pub unreadable_args: u64,
    /// Calls whose task's names could not be read (`None` when names are
    /// not read at all).
    pub unnamed: Option<u64>,
    /// Bytes of trace written before this summary.
    pub bytes_written: u64,
    /// A table's rows (`format=parquet`, whose bytes are the file's), once
    /// the file is closed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows_written: Option<u64>,
    /// Bytes and whole lines of trace that could not be written (a full
    /// disk, a pipe whose reader went away), and why.
    pub bytes_lost: u64,
    pub lines_lost: u64,
    pub write_error: Option<String>,
}

impl Health {
    /// Returned calls whose return could not be paired.
    pub fn unpaired(&self) -> u64 {
        self.unpaired_superseded + self.unpaired_dropped
    }

    /// The jsonl summary event, one line.
    pub fn jsonl(&self, out: &mut String) {
        #[derive(Serialize)]
        struct Event<'a> {
            event: &'static str,
            #[serde(flatten)]
            health: &'a Health,
        }
        let event = Event {
            event: "summary",
            health: self,
        };
        // Serializing plain numbers and strings cannot fail.
        out.push_str(&serde_json::to_string(&event).unwrap_or_default());
        out.push('\n');
    }

    /// The lines for stderr, each marked `osmtrace:`.
    pub fn text(&self) -> String {
        let mut text = String::new();
        let _ = writeln!(
            text,
            "osmtrace: {} calls traced ({} filtered out, {} entries unreadable), {} returns paired ({} child returns, {} exec returns, {} after an identity change, {} interrupted by signals, {} restarted by the kernel)",
            self.entries,
            self.filtered,
            self.unreadable_entries,
            self.exits,
            self.child_returns,
            self.exec_returns,
            self.rekeyed_returns,
            self.interrupted,
            self.restarted,
        );
        let _ = writeln!(
            text,
            "osmtrace: {} calls still pending at the end; {} returns not paired ({} whose thread made another call first, {} dropped from a full table of {} pending calls per vCPU)",
            self.pending_at_end,
            self.unpaired(),
            self.unpaired_superseded,
            self.unpaired_dropped,
            self.pending_limit,
        );
        let unnamed = match self.unnamed {
            Some(n) => format!(", {n} calls without task names"),
            None => String::new(),
        };
        let _ = write!(
            text,
            "osmtrace: {} unreadable arguments{unnamed}; {} bytes of trace written",
            self.unreadable_args, self.bytes_written,
        );
        if let Some(rows) = self.rows_written {
            let _ = write!(text, " ({rows} rows)");
        }
        match &self.write_error {
            Some(error) if self.rows_written.is_some() => {
                let _ = writeln!(text, ", {} rows lost: {error}", self.lines_lost);
            }
            Some(error) => {
                let _ = writeln!(
                    text,
                    ", {} bytes ({} lines) lost: {error}",
                    self.bytes_lost, self.lines_lost
                );
            }
            None => text.push_str(", nothing lost\n"),
        }
        text
    }
}

/// What a sink could not write.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Lost {
    pub bytes: u64,
    pub lines: u64,
    pub error: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_event_is_one_json_line_with_every_figure() {
        let health = Health {
            entries: 10,
            exits: 8,
            pending_at_end: 1,
            unpaired_superseded: 1,
            pending_limit: 1024,
            unnamed: Some(2),
            bytes_written: 1234,
            ..Health::default()
        };
        let mut line = String::new();
        health.jsonl(&mut line);
        assert!(line.ends_with('\n') && line.matches('\n').count() == 1);
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["event"], "summary");
        assert_eq!(v["entries"], 10);
        assert_eq!(v["exits"], 8);
        assert_eq!(v["unpaired_superseded"], 1);
        assert_eq!(v["unnamed"], 2);
        assert_eq!(v["bytes_written"], 1234);
        assert_eq!(v["write_error"], serde_json::Value::Null);
    }

    #[test]
    fn the_text_says_what_was_lost_and_why() {
        let mut health = Health::default();
        assert!(
            health.text().ends_with("nothing lost\n"),
            "{}",
            health.text()
        );
        health.bytes_lost = 100;
        health.lines_lost = 3;
        health.write_error = Some("No space left on device".into());
        let text = health.text();
        assert!(
            text.contains("100 bytes (3 lines) lost: No space left on device"),
            "{text}"
        );
        assert!(text.lines().all(|l| l.starts_with("osmtrace: ")), "{text}");
        // A table's bytes are its file's, and what is lost is rows.
        health.bytes_written = 34_000;
        health.rows_written = Some(600);
        let text = health.text();
        assert!(
            text.contains("34000 bytes of trace written (600 rows), 3 rows lost: No space"),
            "{text}"
        );
    }
}
