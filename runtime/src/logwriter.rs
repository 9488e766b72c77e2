//! The `log=` file, written by a thread of its own.
//!
//! Trace text is formatted on the vCPU thread that saw the call, into a
//! large buffer; a full buffer goes to the writer thread, which does the
//! `write(2)`. Copying a megabyte into the page cache costs the vCPU
//! thread about as much as formatting it did (measured on the pipe
//! benchmark: about 120 ns per traced call), and nothing about the guest
//! has to wait for it.
//!
//! Nothing is lost: the channel to the writer is bounded, so a disk slower
//! than the guest makes the vCPU wait for a free buffer instead of
//! dropping text, and [`TraceSink::flush`] returns only when the writer
//! has written everything handed to it. A write that fails is reported
//! once, with the file's name, on stderr.

use crate::tracer::TraceSink;
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

/// Bytes of trace held before a buffer goes to the writer.
pub const LOG_BUFFER: usize = 1 << 20;

/// Full buffers the writer may be behind by before a vCPU waits.
const QUEUED_BUFFERS: usize = 4;

enum Message {
    Write(String),
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
}

impl LogWriter {
    /// Creates (or truncates) `path`.
    pub fn create(path: &Path) -> std::io::Result<Self> {
        Self::with_capacity(File::create(path)?, path, LOG_BUFFER)
    }

    /// Writes to `file`, named `path` in error messages.
    pub fn with_capacity(file: File, path: &Path, capacity: usize) -> std::io::Result<Self> {
        let (to_writer, from_vcpus) = sync_channel(QUEUED_BUFFERS);
        let (to_reuse, written) = sync_channel(QUEUED_BUFFERS);
        let path = path.to_path_buf();
        let writer = std::thread::Builder::new()
            .name("osmtrace-log".into())
            .spawn(move || write_all(file, &path, &from_vcpus, &to_reuse))?;
        Ok(LogWriter {
            buffer: String::with_capacity(capacity),
            capacity,
            to_writer: Some(to_writer),
            written,
            writer: Some(writer),
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

/// The writer thread: writes each buffer in order until the channel
/// closes. After a failed write it stops writing (the file would have a
/// hole) but keeps answering, so that no vCPU waits forever.
fn write_all(
    mut file: File,
    path: &Path,
    from_vcpus: &Receiver<Message>,
    to_reuse: &SyncSender<String>,
) {
    let mut failed = false;
    for message in from_vcpus {
        match message {
            Message::Write(mut buffer) => {
                if !failed && let Err(e) = file.write_all(buffer.as_bytes()) {
                    failed = true;
                    eprintln!(
                        "osmtrace: writing the log {} failed: {e}; the rest of the trace is lost",
                        path.display()
                    );
                }
                buffer.clear();
                // Full when the vCPUs have enough buffers; this one is
                // dropped then.
                let _ = to_reuse.try_send(buffer);
            }
            Message::Flush(done) => {
                let _ = done.send(());
            }
        }
    }
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
    }
}
