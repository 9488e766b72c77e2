//! `format=parquet`: the trace as a table for SQL engines, one row per
//! call with its entry and exit joined, written in row groups.
//!
//! The plugin formats events as jsonl on the vCPU threads, as for
//! `format=jsonl`; the log's writer thread turns that text into rows
//! ([`ParquetTrace::text`]), so the encoding and compression never run on
//! a vCPU. `cargo xtask trace-view` feeds recorded events the same way.
//!
//! Rows are kept in memory up to a row group, encoded, and only then
//! written out, followed by a footer for all the groups so far, which the
//! next group replaces: a file on disk is readable after every row group,
//! even when QEMU is killed. When a write fails (a full disk), the file is
//! cut back to its last whole row group and its footer written again, in
//! the space the failed write and the old footer took: what was written
//! stays readable, and the rest is counted as lost. A pipe gets its footer
//! at the end only.

mod columns;
mod rows;

use crate::format::{JsonlStyle, OwnedEvent, jsonl_with};
use crate::health::Lost;
use columns::Columns;
use parquet::basic::Compression;
use parquet::file::metadata::{
    FileMetaData, KeyValue, ParquetMetaData, ParquetMetaDataWriter, RowGroupMetaData,
};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::SchemaDescriptor;
use rows::{Line, Pairing};
use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::sync::Arc;

pub use columns::SCHEMA;

/// Rows per row group unless `row_group=` says otherwise: a few MB of
/// encoded data, what DuckDB and Spark read well.
pub const DEFAULT_ROW_GROUP: usize = 65_536;

/// A row group is written once its values hold this much, however few rows
/// it has (calls with long strings), to bound the memory it takes.
const ROW_GROUP_BYTES: usize = 32 << 20;

/// The version of the table's layout, in the file's metadata.
pub const LAYOUT_VERSION: &str = "1";

/// Where the file goes: written in order, and cut back when a write fails.
pub trait Destination: Write + Send {
    /// Cuts the file to `len` bytes, the next write going there; false
    /// where that is impossible (a pipe).
    fn cut(&mut self, len: u64) -> bool;
    /// Whether [`Destination::cut`] works: only then can the file end with
    /// a footer after every row group.
    fn seekable(&self) -> bool;
}

impl Destination for File {
    fn cut(&mut self, len: u64) -> bool {
        self.set_len(len).is_ok() && self.seek(SeekFrom::Start(len)).is_ok()
    }

    fn seekable(&self) -> bool {
        self.metadata().is_ok_and(|m| m.is_file())
    }
}

/// The bytes the Parquet writer produces for one row group, held until the
/// group is whole.
#[derive(Default)]
struct Spool(Vec<u8>);

impl Write for Spool {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A Parquet file of calls being written.
pub struct ParquetTrace<D: Destination> {
    dest: D,
    name: String,
    writer: SerializedFileWriter<Spool>,
    schema: Arc<SchemaDescriptor>,
    columns: Columns,
    pairing: Pairing,
    rows_per_group: usize,
    /// What the file holds: bytes, whole row groups and their rows.
    committed_bytes: u64,
    committed_groups: usize,
    committed_rows: i64,
    /// Text given to [`ParquetTrace::text`] since the last row group went
    /// out: what a failed write loses.
    pending_text: u64,
    /// The end of a line that the next text completes.
    partial: String,
    /// [`ParquetTrace::push`]'s line.
    scratch: String,
    metadata: Vec<KeyValue>,
    lost: Option<Lost>,
    /// Lines that were not events, and the first one's error.
    bad_lines: u64,
    seekable: bool,
    /// The file ends with a footer (which the next row group replaces).
    footer_written: bool,
    footer_len: u64,
    finished: bool,
}

impl<D: Destination> ParquetTrace<D> {
    /// Starts a file on `dest` (named `name` in messages).
    pub fn new(dest: D, name: &str, rows_per_group: usize) -> Result<Self, String> {
        let seekable = dest.seekable();
        let schema = Arc::new(columns::schema());
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_created_by(created_by())
            .set_max_row_group_row_count(None)
            // The footer is written again after every row group: one set
            // of statistics per column chunk, no page index.
            .set_statistics_enabled(EnabledStatistics::Chunk)
            .set_offset_index_disabled(true)
            .build();
        let writer = SerializedFileWriter::new(Spool::default(), schema.clone(), Arc::new(props))
            .map_err(|e| format!("cannot start the Parquet file {name}: {e}"))?;
        Ok(ParquetTrace {
            dest,
            name: name.to_string(),
            writer,
            schema: Arc::new(SchemaDescriptor::new(schema)),
            columns: Columns::default(),
            pairing: Pairing::default(),
            rows_per_group: rows_per_group.max(1),
            committed_bytes: 0,
            committed_groups: 0,
            committed_rows: 0,
            pending_text: 0,
            partial: String::new(),
            scratch: String::new(),
            metadata: vec![KeyValue::new(
                "osmtrace.layout".to_string(),
                LAYOUT_VERSION.to_string(),
            )],
            lost: None,
            bad_lines: 0,
            seekable,
            footer_written: false,
            footer_len: 0,
            finished: false,
        })
    }

    /// A key and value for the file's metadata (the model, the clock).
    pub fn set_metadata(&mut self, key: &str, value: &str) {
        self.metadata.retain(|kv| kv.key != key);
        self.metadata
            .push(KeyValue::new(key.to_string(), value.to_string()));
    }

    /// What could not be written, as rows and text.
    pub fn lost(&self) -> Option<Lost> {
        self.lost.clone()
    }

    /// Rows in the file.
    pub fn rows_written(&self) -> u64 {
        self.committed_rows as u64
    }

    /// The file's length: its row groups and their footer.
    pub fn bytes_in_file(&self) -> u64 {
        self.committed_bytes
            + if self.footer_written {
                self.footer_len
            } else {
                0
            }
    }

    /// jsonl text, as the plugin formats it: events, and the closing
    /// summary, which goes into the file's metadata. A line may be split
    /// across calls.
    pub fn text(&mut self, text: &str) {
        self.pending_text += text.len() as u64;
        let mut rest = text;
        while let Some(newline) = rest.find('\n') {
            let (line, after) = rest.split_at(newline);
            rest = &after[1..];
            if self.partial.is_empty() {
                self.line(line);
            } else {
                let mut whole = std::mem::take(&mut self.partial);
                whole.push_str(line);
                self.line(&whole);
            }
        }
        self.partial.push_str(rest);
    }

    fn line(&mut self, line: &str) {
        if self.finished {
            self.count_lost(1);
            return;
        }
        if line.starts_with("{\"event\":\"summary\"") {
            self.set_metadata("osmtrace.summary", line);
            return;
        }
        if line.trim().is_empty() {
            return;
        }
        // An entry only waits for its exit, which has all it has.
        let read = if line.starts_with("{\"event\":\"entry\"") {
            match self.pairing.enter(line) {
                Ok(Some(evicted)) => self.unfinished(&evicted),
                Ok(None) => Ok(()),
                Err(e) => Err(e),
            }
        } else {
            serde_json::from_str::<Line<'_>>(line).map(|event| {
                let entry = match event.event.as_ref() {
                    "exit" => self.pairing.exit(&event),
                    _ => None,
                };
                self.columns.push(&rows::row(&event, entry));
            })
        };
        if let Err(e) = read {
            if self.bad_lines == 0 {
                eprintln!(
                    "osmtrace: {}: a line of the trace is not an event ({e})",
                    self.name
                );
            }
            self.bad_lines += 1;
        }
        if self.columns.rows() >= self.rows_per_group || self.columns.bytes() >= ROW_GROUP_BYTES {
            self.write_group();
        }
    }

    /// The row of an entry whose exit never came.
    fn unfinished(&mut self, line: &str) -> Result<(), serde_json::Error> {
        let event: Line<'_> = serde_json::from_str(line)?;
        self.columns.push(&rows::row(&event, None));
        Ok(())
    }

    /// One event (from a recording): written as the plugin writes it.
    pub fn push(&mut self, event: &OwnedEvent) {
        let mut line = std::mem::take(&mut self.scratch);
        line.clear();
        let style = JsonlStyle {
            ts: true,
            dur: true,
            lean: false,
        };
        jsonl_with(&event.as_event(), &mut line, style);
        self.line(line.trim_end());
        self.scratch = line;
    }

    /// Writes the rows held as a row group, then the footer again.
    fn write_group(&mut self) {
        let rows = self.columns.rows();
        if rows == 0 {
            return;
        }
        if self.lost.is_some() {
            self.columns.clear();
            self.count_lost(rows as u64);
            return;
        }
        let encoded = (|| {
            let mut rg = self.writer.next_row_group()?;
            self.columns.write(&mut rg)?;
            rg.close()?;
            self.writer.flush()?;
            Ok::<_, parquet::errors::ParquetError>(())
        })();
        if let Err(e) = encoded {
            // Encoding into memory fails only on a bug; the file keeps
            // what it has.
            self.columns.clear();
            self.fail(e.to_string(), rows as u64);
            return;
        }
        let bytes = std::mem::take(&mut self.writer.inner_mut().0);
        let written = self.cut_footer().and_then(|()| self.dest.write_all(&bytes));
        if let Err(e) = written {
            self.fail(e.to_string(), rows as u64);
            return;
        }
        self.committed_bytes += bytes.len() as u64;
        self.committed_groups += 1;
        self.committed_rows += rows as i64;
        if self.seekable
            && let Err(e) = self.write_footer()
        {
            // No room for the footer after this group: the file ends
            // after the group before, with the footer it had.
            self.committed_bytes -= bytes.len() as u64;
            self.committed_groups -= 1;
            self.committed_rows -= rows as i64;
            self.fail(e.to_string(), rows as u64);
            return;
        }
        self.pending_text = 0;
    }

    /// Removes the footer after the last row group, if one was written.
    fn cut_footer(&mut self) -> std::io::Result<()> {
        if self.seekable && self.footer_written && !self.dest.cut(self.committed_bytes) {
            return Err(std::io::Error::other("cannot cut the file"));
        }
        self.footer_written = false;
        Ok(())
    }

    /// Ends the file with a footer for its row groups: a file on disk is
    /// readable after every row group, even when QEMU is killed.
    fn write_footer(&mut self) -> std::io::Result<()> {
        let groups: Vec<RowGroupMetaData> =
            self.writer.flushed_row_groups()[..self.committed_groups].to_vec();
        let file = FileMetaData::new(
            1,
            self.committed_rows,
            Some(created_by()),
            Some(self.metadata.clone()),
            self.schema.clone(),
            None,
        );
        let metadata = ParquetMetaData::new(file, groups);
        let mut footer = Vec::new();
        ParquetMetaDataWriter::new(&mut footer, &metadata)
            .finish()
            .map_err(std::io::Error::other)?;
        if self.committed_bytes == 0 {
            // No row group went out with the magic that opens the file.
            self.dest.write_all(b"PAR1")?;
            self.committed_bytes = 4;
        }
        self.dest.write_all(&footer)?;
        self.dest.flush()?;
        self.footer_written = true;
        self.footer_len = footer.len() as u64;
        Ok(())
    }

    fn count_lost(&mut self, rows: u64) {
        if let Some(lost) = &mut self.lost {
            lost.lines += rows;
        }
    }

    /// A write failed: the file is cut back to its whole row groups and
    /// closed with their footer; later rows are counted, not written.
    fn fail(&mut self, error: String, rows: u64) {
        self.lost = Some(Lost {
            bytes: self.pending_text,
            lines: rows,
            error: error.clone(),
        });
        let kept = if self.close_after_failure() {
            format!(
                "the file holds the {} rows written before it and stays readable",
                self.committed_rows
            )
        } else {
            "the file could not be closed and may not be readable".to_string()
        };
        eprintln!(
            "osmtrace: writing the Parquet file {} failed: {error}; {kept}, and the rest is lost (counted at the end)",
            self.name
        );
    }

    /// Cuts the file after its last whole row group and writes the footer
    /// for the groups before it again (the space the old footer and the
    /// failed group took is free again).
    fn close_after_failure(&mut self) -> bool {
        self.seekable && self.dest.cut(self.committed_bytes) && {
            self.footer_written = false;
            self.write_footer().is_ok()
        }
    }

    /// At the end of the trace: calls still waiting for their exits become
    /// unfinished rows, the last row group and the footer are written.
    pub fn finish(&mut self) {
        if self.finished {
            return;
        }
        let open: Vec<String> = self.pairing.drain().collect();
        for line in &open {
            // Entries were read once already.
            let _ = self.unfinished(line);
        }
        self.write_group();
        self.finished = true;
        if self.bad_lines > 0 {
            self.set_metadata("osmtrace.bad_lines", &self.bad_lines.to_string());
        }
        if let Some(lost) = &self.lost {
            let note = format!("{} rows lost: {}", lost.lines, lost.error);
            self.set_metadata("osmtrace.lost", &note);
            self.close_after_failure();
            return;
        }
        // The footer again, with what only the end knows (the summary).
        let closed = self.cut_footer().and_then(|()| self.write_footer());
        if let Err(e) = closed {
            self.fail(e.to_string(), 0);
        }
    }
}

fn created_by() -> String {
    format!("osmtrace {}", env!("CARGO_PKG_VERSION"))
}

#[cfg(test)]
mod tests;
