//! The `log=` file, written by a thread of its own.
//!
//! Trace text is formatted on the vCPU thread that saw the call, into a
//! large buffer; a full buffer goes to the writer thread, which does the
//! `write(2)`. Copying a megabyte into the page cache costs the vCPU
//! thread about as much as formatting it did, and nothing about the guest
//! has to wait for it.
//!
//! Nothing is lost while the file takes it: the channel to the writer is
//! bounded, so a disk slower than the guest makes the vCPU wait for a free
//! buffer instead of dropping text, and [`TraceSink::flush`] returns only
//! when the writer has written everything handed to it. A write that fails
//! (a full disk, a pipe whose reader went away) is reported once on
//! stderr; the file is cut back to its last whole line and what follows is
//! counted as lost ([`TraceSink::lost`]).
//!
//! With `format=parquet` the writer thread turns the text (jsonl) into the
//! table's rows instead ([`LogWriter::parquet`]).

use crate::health::Lost;
use crate::parquet_trace::ParquetTrace;
use crate::raw::Decoding;
use crate::tracer::{TableWritten, TraceSink};
use std::fs::File;
use std::io::{ErrorKind, Write};
use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// Bytes of trace held before a buffer goes to the writer.
pub const LOG_BUFFER: usize = 1 << 20;

/// Full buffers the writer may be behind by before a vCPU waits.
const QUEUED_BUFFERS: usize = 4;

enum Message {
    Write(String),
    /// A binary trace's chunk, written whole or not at all; or for a
    /// writer that decodes, a round of captured records.
    Bytes(Vec<u8>),
    /// The end of a decoded trace: answered with what the formatter ends
    /// with and the text's bytes so far.
    Finish(SyncSender<Option<(Option<String>, u64)>>),
    /// Answered when everything sent before it is written.
    Flush(SyncSender<()>),
}

/// A file written by a thread of its own, through buffers of `capacity`
/// bytes.
pub struct LogWriter {
    /// Text is formatted straight into it ([`TraceSink::buffer`]).
    buffer: String,
    capacity: usize,
    /// `None` once dropped, which ends the writer thread.
    to_writer: Option<SyncSender<Message>>,
    /// Buffers the writer is done with, for reuse.
    written: Receiver<String>,
    writer: Option<JoinHandle<()>>,
    /// What the writer could not write, as of its last flush.
    lost: Arc<Mutex<Option<Lost>>>,
    /// A table's figures, as of the last flush.
    table: Arc<Mutex<Option<TableWritten>>>,
    /// The writer thread decodes captured calls.
    decodes: bool,
}

impl LogWriter {
    /// Creates (or truncates) `path`.
    pub fn create(path: &Path) -> std::io::Result<Self> {
        Self::with_capacity(File::create(path)?, path, LOG_BUFFER)
    }

    /// Creates (or truncates) `path`, whose writer thread decodes the
    /// vCPUs' captured calls and formats them ([`Decoding`]).
    pub fn decoding(path: &Path, decoding: Decoding) -> std::io::Result<Self> {
        let writer = Self::text_writer(File::create(path)?, path);
        Self::spawn(Decoder::new(decoding, writer), LOG_BUFFER)
    }

    /// Creates (or truncates) `path` for `format=parquet`: the writer
    /// thread turns the jsonl text it gets into the table's rows; with
    /// `decoding`, it decodes the captured calls into that text first.
    pub fn parquet(
        path: &Path,
        rows_per_group: usize,
        metadata: &[(&str, &str)],
        decoding: Option<Decoding>,
    ) -> std::io::Result<Self> {
        let mut trace = ParquetTrace::new(
            File::create(path)?,
            &path.display().to_string(),
            rows_per_group,
        )
        .map_err(std::io::Error::other)?;
        for (key, value) in metadata {
            trace.set_metadata(key, value);
        }
        match decoding {
            Some(decoding) => Self::spawn(Decoder::new(decoding, trace), LOG_BUFFER),
            None => Self::spawn(trace, LOG_BUFFER),
        }
    }

    /// Writes to `file`, named `path` in error messages.
    pub fn with_capacity(file: File, path: &Path, capacity: usize) -> std::io::Result<Self> {
        Self::spawn(Self::text_writer(file, path), capacity)
    }

    fn text_writer(file: File, path: &Path) -> impl Output + 'static {
        Writer {
            file,
            path: path.to_path_buf(),
            truncate: |file: &mut File, len| file.set_len(len).is_ok(),
            written: 0,
            line_end: 0,
            lost: None,
        }
    }

    fn spawn(mut output: impl Output + 'static, capacity: usize) -> std::io::Result<Self> {
        let decodes = output.decodes();
        let (to_writer, from_vcpus) = sync_channel(QUEUED_BUFFERS);
        let (to_reuse, written) = sync_channel(QUEUED_BUFFERS);
        let lost = Arc::new(Mutex::new(None));
        let table = Arc::new(Mutex::new(None));
        let shared = (Arc::clone(&lost), Arc::clone(&table));
        let writer = std::thread::Builder::new()
            .name("osmtrace-log".into())
            .spawn(move || run(&mut output, &from_vcpus, &to_reuse, &shared.0, &shared.1))?;
        Ok(LogWriter {
            buffer: String::with_capacity(capacity),
            capacity,
            to_writer: Some(to_writer),
            written,
            writer: Some(writer),
            lost,
            table,
            decodes,
        })
    }

    /// Hands the buffer to the writer and takes a written one (or a new
    /// one) in its place.
    fn hand_over(&mut self) {
        if self.buffer.is_empty() {
            return;
        }
        let next = self
            .written
            .try_recv()
            .unwrap_or_else(|_| String::with_capacity(self.capacity));
        let full = std::mem::replace(&mut self.buffer, next);
        if let Some(to_writer) = &self.to_writer {
            // Fails only when the writer thread is gone (it panicked); the
            // text has nowhere to go then.
            let _ = to_writer.send(Message::Write(full));
        }
    }
}

impl TraceSink for LogWriter {
    fn write(&mut self, text: &str) {
        self.buffer.push_str(text);
        self.appended();
    }

    fn buffer(&mut self) -> Option<&mut String> {
        Some(&mut self.buffer)
    }

    fn write_bytes(&mut self, bytes: Vec<u8>) {
        self.hand_over();
        if let Some(to_writer) = &self.to_writer {
            let _ = to_writer.send(Message::Bytes(bytes));
        }
    }

    fn takes_bytes(&self) -> bool {
        true
    }

    fn decodes(&self) -> bool {
        self.decodes
    }

    fn finish_format(&mut self) -> Option<(Option<String>, u64)> {
        if !self.decodes {
            return None;
        }
        self.hand_over();
        let (done, wait) = sync_channel(1);
        self.to_writer.as_ref()?.send(Message::Finish(done)).ok()?;
        wait.recv().ok().flatten()
    }

    fn appended(&mut self) {
        if self.buffer.len() >= self.capacity {
            self.hand_over();
        }
    }

    fn flush(&mut self) {
        self.hand_over();
        let Some(to_writer) = &self.to_writer else {
            return;
        };
        let (done, wait) = sync_channel(1);
        if to_writer.send(Message::Flush(done)).is_ok() {
            let _ = wait.recv();
        }
    }

    fn lost(&self) -> Option<Lost> {
        self.lost.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn table(&self) -> Option<TableWritten> {
        *self.table.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for LogWriter {
    fn drop(&mut self) {
        self.hand_over();
        // Closing the channel ends the writer once it has written the rest.
        self.to_writer = None;
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

/// What the writer thread does with the text.
trait Output: Send {
    fn write(&mut self, text: &str);
    /// A binary trace's chunk.
    fn write_bytes(&mut self, bytes: &[u8]);
    /// The end of the trace: what could not be written.
    fn flush(&mut self) -> Option<Lost>;
    /// A table's figures (after [`Output::flush`]).
    fn table(&self) -> Option<TableWritten> {
        None
    }
    /// Whether [`Output::write_bytes`] takes captured calls to decode.
    fn decodes(&self) -> bool {
        false
    }
    /// The end of a decoded trace (see [`Message::Finish`]).
    fn finish_format(&mut self) -> Option<(Option<String>, u64)> {
        None
    }
}

/// Decodes the captured calls it is given into text for `inner`.
struct Decoder<O> {
    decoding: Decoding,
    inner: O,
    text: String,
    /// Bytes of text given to `inner`.
    bytes: u64,
    /// The records could not be read (a bug): reported once.
    failed: bool,
}

impl<O: Output> Decoder<O> {
    fn new(decoding: Decoding, inner: O) -> Self {
        Decoder {
            decoding,
            inner,
            text: String::new(),
            bytes: 0,
            failed: false,
        }
    }

    fn write_text(&mut self) {
        if !self.text.is_empty() {
            self.bytes += self.text.len() as u64;
            self.inner.write(&self.text);
            self.text.clear();
        }
    }
}

impl<O: Output> Output for Decoder<O> {
    fn write(&mut self, text: &str) {
        self.bytes += text.len() as u64;
        self.inner.write(text);
    }

    fn write_bytes(&mut self, bytes: &[u8]) {
        if let Err(e) = self.decoding.take(bytes, &mut self.text)
            && !std::mem::replace(&mut self.failed, true)
        {
            eprintln!("osmtrace: the writer could not decode the captured calls: {e}");
        }
        self.write_text();
    }

    fn flush(&mut self) -> Option<Lost> {
        self.inner.flush()
    }

    fn table(&self) -> Option<TableWritten> {
        self.inner.table()
    }

    fn decodes(&self) -> bool {
        true
    }

    fn finish_format(&mut self) -> Option<(Option<String>, u64)> {
        let report = self.decoding.finish(&mut self.text);
        self.write_text();
        if self.decoding.misses > 0 {
            eprintln!(
                "osmtrace: {} memory reads of the decoding were not captured (a bug: please report it)",
                self.decoding.misses
            );
        }
        Some((report, self.bytes))
    }
}

/// Writes each buffer in order until the channel closes. After a failed
/// write the output stops writing (the file would have a hole) but this
/// keeps answering, so that no vCPU waits forever.
fn run(
    output: &mut dyn Output,
    from_vcpus: &Receiver<Message>,
    to_reuse: &SyncSender<String>,
    shared: &Mutex<Option<Lost>>,
    table: &Mutex<Option<TableWritten>>,
) {
    for message in from_vcpus {
        match message {
            Message::Write(mut buffer) => {
                output.write(&buffer);
                buffer.clear();
                // Full when the vCPUs have enough buffers; this one is
                // dropped then.
                let _ = to_reuse.try_send(buffer);
            }
            Message::Bytes(bytes) => output.write_bytes(&bytes),
            Message::Finish(done) => {
                let _ = done.send(output.finish_format());
            }
            Message::Flush(done) => {
                *shared.lock().unwrap_or_else(|e| e.into_inner()) = output.flush();
                *table.lock().unwrap_or_else(|e| e.into_inner()) = output.table();
                let _ = done.send(());
            }
        }
    }
}

impl Output for ParquetTrace<File> {
    fn write(&mut self, text: &str) {
        self.text(text);
    }

    /// A table is made of text (jsonl) only.
    fn write_bytes(&mut self, _bytes: &[u8]) {}

    fn flush(&mut self) -> Option<Lost> {
        self.finish();
        self.lost()
    }

    fn table(&self) -> Option<TableWritten> {
        Some(TableWritten {
            bytes: self.bytes_in_file(),
            rows: self.rows_written(),
        })
    }
}

impl<T: FnMut(&mut File, u64) -> bool + Send> Output for Writer<File, T> {
    fn write(&mut self, text: &str) {
        Writer::write(self, text.as_bytes());
    }

    fn write_bytes(&mut self, bytes: &[u8]) {
        Writer::write(self, bytes);
        // A chunk is whole: a failure later cuts the file back to here.
        if self.lost.is_none() {
            self.line_end = self.written;
        }
    }

    fn flush(&mut self) -> Option<Lost> {
        self.lost.clone()
    }
}

/// The text log's side of the writer thread: where the file stands and
/// what was lost.
struct Writer<W, T> {
    file: W,
    path: std::path::PathBuf,
    /// Cuts the file to a length; false where it cannot be (a pipe).
    truncate: T,
    /// Bytes in the file.
    written: u64,
    /// Bytes in the file up to the end of its last whole line.
    line_end: u64,
    lost: Option<Lost>,
}

impl<W: Write, T: FnMut(&mut W, u64) -> bool> Writer<W, T> {
    fn write(&mut self, bytes: &[u8]) {
        if let Some(lost) = &mut self.lost {
            lost.bytes += bytes.len() as u64;
            lost.lines += lines(bytes);
            return;
        }
        let mut done = 0;
        let error = loop {
            if done == bytes.len() {
                break None;
            }
            match self.file.write(&bytes[done..]) {
                Ok(0) => break Some(std::io::Error::from(ErrorKind::WriteZero)),
                Ok(n) => done += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => break Some(e),
            }
        };
        if let Some(newline) = memchr::memrchr(b'\n', &bytes[..done]) {
            self.line_end = self.written + newline as u64 + 1;
        }
        self.written += done as u64;
        let Some(error) = error else { return };
        // The trace ends on its last whole line, for whatever reads it.
        let partial = if (self.truncate)(&mut self.file, self.line_end) {
            self.written - self.line_end
        } else {
            0
        };
        let rest = &bytes[done..];
        self.lost = Some(Lost {
            bytes: partial + rest.len() as u64,
            lines: lines(rest),
            error: error.to_string(),
        });
        let kept = if partial > 0 || self.written == self.line_end {
            format!(
                "the trace ends at its last whole line (byte {})",
                self.line_end
            )
        } else {
            format!("{} bytes went out before it", self.written)
        };
        eprintln!(
            "osmtrace: writing the log {} failed: {error}; {kept}, and the rest is lost (counted at the end)",
            self.path.display(),
        );
    }
}

fn lines(bytes: &[u8]) -> u64 {
    memchr::memchr_iter(b'\n', bytes).count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn temp_path(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("osmtrace-logwriter-{}-{name}", std::process::id()))
    }

    #[test]
    fn writes_everything_in_order_across_many_buffers() {
        let path = temp_path("order");
        let mut expected = String::new();
        {
            // A tiny buffer, so that the text crosses dozens of them and
            // the queue to the writer fills up.
            let mut log =
                LogWriter::with_capacity(File::create(&path).unwrap(), &path, 64).unwrap();
            for i in 0..5000 {
                let line = format!("line {i}\n");
                log.write(&line);
                expected.push_str(&line);
            }
            log.flush();
            assert_eq!(std::fs::read_to_string(&path).unwrap(), expected);
            log.write("after the flush\n");
            expected.push_str("after the flush\n");
        }
        // Dropping writes what is left.
        assert_eq!(std::fs::read_to_string(&path).unwrap(), expected);
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn text_formatted_into_the_buffer_is_written_like_written_text() {
        let path = temp_path("buffer");
        let mut expected = String::new();
        {
            let mut log =
                LogWriter::with_capacity(File::create(&path).unwrap(), &path, 64).unwrap();
            for i in 0..2000 {
                let line = format!("line {i}\n");
                if i % 3 == 0 {
                    log.write(&line);
                } else {
                    log.buffer().unwrap().push_str(&line);
                    log.appended();
                }
                expected.push_str(&line);
            }
        }
        assert_eq!(std::fs::read_to_string(&path).unwrap(), expected);
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn flush_waits_for_the_writer() {
        let path = temp_path("flush");
        let mut log = LogWriter::create(&path).unwrap();
        log.write("held in the buffer\n");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "");
        log.flush();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "held in the buffer\n"
        );
        drop(log);
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn a_failing_file_neither_blocks_nor_panics() {
        // /dev/full fails every write with ENOSPC.
        let Ok(file) = File::options().write(true).open("/dev/full") else {
            return;
        };
        let mut log = LogWriter::with_capacity(file, Path::new("/dev/full"), 16).unwrap();
        for _ in 0..100 {
            log.write("more than sixteen bytes\n");
        }
        log.flush();
        let lost = log.lost().expect("counted as lost");
        assert_eq!((lost.bytes, lost.lines), (2400, 100));
        assert!(lost.error.contains("No space left"), "{}", lost.error);
    }

    /// A file that takes `room` bytes, then fails like a full disk.
    struct SmallDisk {
        data: Vec<u8>,
        room: usize,
    }

    impl Write for SmallDisk {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let n = buf.len().min(self.room - self.data.len());
            if n == 0 {
                return Err(std::io::Error::from(ErrorKind::StorageFull));
            }
            self.data.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_full_disk_leaves_the_trace_on_its_last_whole_line_and_counts_the_rest() {
        let mut writer = Writer {
            file: SmallDisk {
                data: Vec::new(),
                room: 25,
            },
            path: PathBuf::from("small"),
            truncate: |disk: &mut SmallDisk, len| {
                disk.data.truncate(len as usize);
                true
            },
            written: 0,
            line_end: 0,
            lost: None,
        };
        writer.write(b"line one\n");
        writer.write(b"line two\nline three\n");
        writer.write(b"line four\n");
        assert_eq!(writer.file.data, b"line one\nline two\n");
        let lost = writer.lost.clone().unwrap();
        // "line three\n" (of which 7 bytes had been written) and "line four\n".
        assert_eq!((lost.bytes, lost.lines), (21, 2));
    }
}
