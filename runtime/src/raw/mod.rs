//! `format=raw`: the trace as the vCPUs capture it, decoded later. A
//! call's halves are stored as the registers and guest memory that
//! decoding them reads ([`capture`]), not as text; `cargo xtask
//! trace-view` decodes them with the model the file carries, into any
//! other format, exactly as the plugin would have written it directly.
//! The layout is in docs/raw-format.md.
//!
//! Each vCPU appends its records to a buffer of its own, numbered from
//! one counter; a full buffer goes to the log's writer as a chunk, so the
//! file holds each vCPU's records in order and the reader merges them by
//! number ([`RawReader`]).

pub mod capture;
mod decoding;
mod reader;
pub mod record;

pub use decoding::Decoding;
pub use reader::{RawReader, is_raw};

use crate::decode::DecodeOptions;
use crate::format::{Event, Timestamps};
use crate::vcpu_lock::VcpuLock;
use crossbeam_utils::CachePadded;
use flate2::Compression;
use flate2::write::GzEncoder;
use osm_model::Model;
use std::io::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// The file's first bytes.
pub const MAGIC: &[u8; 13] = b"OSMTRACE-RAW\n";

/// The layout's version. A reader refuses later ones and reads versions 1
/// to 3 too (3 without the exit of a call whose process ended; 1 and 2
/// with numbers in full, 1 also without the same-identity flag).
pub const VERSION: u32 = 5;

/// A chunk of one vCPU's records: `C`, the vCPU's slot (u32 LE), the
/// records' length (u32 LE), the records.
const CHUNK: u8 = b'C';

/// The trace's end, written when the plugin finished it (a file without
/// one was cut short).
const END: u8 = b'E';

const CHUNK_HEADER: usize = 9;

/// A vCPU's buffer goes to the writer once it holds this much.
const CHUNK_BYTES: usize = 256 << 10;

/// The file's header: the layout's version, the decoding options, the
/// clock, and the model (its JSON, gzip-compressed), so that the file
/// decodes without the spec it was recorded with.
pub fn header(model: &Model, options: &DecodeOptions, clock: Timestamps) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&(options.string_limit as u32).to_le_bytes());
    out.push(u8::from(options.verbose));
    out.push(match clock {
        Timestamps::None => 0,
        Timestamps::Wall => 1,
        Timestamps::Virtual => 2,
    });
    let json = serde_json::to_vec(model).expect("a model serialises");
    let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
    gz.write_all(&json).expect("writing to memory");
    let gz = gz.finish().expect("writing to memory");
    out.extend_from_slice(&(gz.len() as u32).to_le_bytes());
    out.extend_from_slice(&gz);
    out
}

/// One vCPU slot's chunk in the making: its records so far (after room
/// for the chunk's header) and what the next is written against.
#[derive(Default)]
struct Buffer {
    records: Vec<u8>,
    context: record::Context,
    /// Exits reported through this slot: counted under its lock, not in
    /// one counter every vCPU writes.
    exits: u64,
    /// The next record's number when this is the only buffer: numbered
    /// under its lock, without the shared counter's atomic add.
    next: u64,
}

/// The vCPUs' buffers of records, on their way to the file, or in
/// rounds to a writer that decodes them ([`Decoding`]).
pub struct RawOut {
    next: CachePadded<AtomicU64>,
    buffers: Box<[CachePadded<VcpuLock<Buffer>>]>,
    /// `Some` when buffers go in rounds; held while one is taken.
    rounds: Option<Mutex<()>>,
    bytes: AtomicU64,
}

impl RawOut {
    /// Buffers for `slots` vCPU slots, each written as it fills (a raw
    /// file), or with `rounds`, all of them each time one fills.
    pub fn new(slots: usize, rounds: bool) -> Self {
        RawOut {
            next: CachePadded::new(AtomicU64::new(0)),
            buffers: (0..slots.max(1))
                .map(|_| CachePadded::new(VcpuLock::new(Buffer::default())))
                .collect(),
            rounds: rounds.then(|| Mutex::new(())),
            bytes: AtomicU64::new(0),
        }
    }

    /// Appends `event` to slot `slot`'s buffer; a full buffer goes to
    /// `write` as a chunk, still under the slot's lock, so that a slot's
    /// chunks reach the file in order.
    pub fn push(
        &self,
        slot: usize,
        event: &Event<'_>,
        reported_exit: bool,
        write: impl FnOnce(Vec<u8>),
    ) {
        let mut guard = self.buffers[slot % self.buffers.len()].lock();
        let buffer = &mut *guard;
        if buffer.records.is_empty() {
            buffer.records.reserve(CHUNK_BYTES + (CHUNK_BYTES >> 2));
            buffer.records.extend_from_slice(&[0; CHUNK_HEADER]);
            buffer.context = record::Context::default();
        }
        // Taken under the slot's lock: a slot's records are in order.
        let seq = if self.buffers.len() == 1 {
            buffer.next += 1;
            buffer.next - 1
        } else {
            self.next.fetch_add(1, Ordering::Relaxed)
        };
        record::encode(event, seq, &mut buffer.records, &mut buffer.context);
        buffer.exits += u64::from(reported_exit);
        if buffer.records.len() < CHUNK_BYTES {
            return;
        }
        if self.rounds.is_none() {
            write(self.seal(slot, std::mem::take(&mut buffer.records)));
            return;
        }
        // A round locks every buffer, this one too.
        drop(guard);
        self.round(write, false);
    }

    /// Every buffer's records, then the counter's value before the first
    /// (see [`decoding`]), and with `end` the trace's end.
    fn round(&self, write: impl FnOnce(Vec<u8>), end: bool) {
        let _round = self
            .rounds
            .as_ref()
            .map(|r| r.lock().unwrap_or_else(|e| e.into_inner()));
        let mut below = self.next.load(Ordering::Relaxed);
        let mut message = Vec::new();
        for slot in 0..self.buffers.len() {
            let mut buffer = self.buffers[slot].lock();
            if self.buffers.len() == 1 {
                below = buffer.next;
            }
            if !buffer.records.is_empty() {
                let chunk = self.seal(slot, std::mem::take(&mut buffer.records));
                if message.is_empty() {
                    message = chunk;
                } else {
                    message.extend_from_slice(&chunk);
                }
            }
        }
        message.push(decoding::ROUND);
        message.extend_from_slice(&below.to_le_bytes());
        if end {
            message.push(END);
        }
        write(message);
    }

    /// Every buffer's records, as chunks, and the trace's end.
    pub fn finish(&self, mut write: impl FnMut(Vec<u8>)) {
        if self.rounds.is_some() {
            return self.round(write, true);
        }
        for slot in 0..self.buffers.len() {
            let mut buffer = self.buffers[slot].lock();
            if !buffer.records.is_empty() {
                write(self.seal(slot, std::mem::take(&mut buffer.records)));
            }
        }
        self.bytes.fetch_add(1, Ordering::Relaxed);
        write(vec![END]);
    }

    fn seal(&self, slot: usize, mut chunk: Vec<u8>) -> Vec<u8> {
        let len = (chunk.len() - CHUNK_HEADER) as u32;
        chunk[0] = CHUNK;
        chunk[1..5].copy_from_slice(&(slot as u32).to_le_bytes());
        chunk[5..9].copy_from_slice(&len.to_le_bytes());
        self.bytes.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        chunk
    }

    /// Exits reported so far.
    pub fn exits(&self) -> u64 {
        self.buffers.iter().map(|b| b.lock().exits).sum()
    }

    /// Bytes of chunks handed to the writer so far.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{EventKind, OwnedEvent};
    use crate::logwriter::LogWriter;
    use crate::tracer::TraceSink;

    /// Event `i` of three vCPUs and its vCPU's slot: slot 2 makes one
    /// event in three, so its buffer fills later than the others.
    fn numbered(i: u64) -> (usize, OwnedEvent) {
        let slot = if i.is_multiple_of(3) {
            2
        } else {
            (i % 2) as usize
        };
        let event = OwnedEvent {
            kind: EventKind::Exited,
            vcpu: slot as u32,
            nr: i,
            name: format!("event {i}"),
            ts: Some(i * 1000),
            ..OwnedEvent::default()
        };
        (slot, event)
    }

    /// Events of three vCPUs, many chunks each, written in the order the
    /// chunks fill: read back in the order they were numbered, the file's
    /// end found, and a file cut inside a chunk read up to its last whole
    /// chunk.
    #[test]
    fn chunks_of_several_vcpus_merge_in_order() {
        let dir = std::env::temp_dir().join(format!("osmtrace-raw-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.raw");
        let model = crate::testutil::model();
        let mut sink = LogWriter::create(&path).unwrap();
        sink.write_bytes(header(&model, &DecodeOptions::default(), Timestamps::Wall));
        let out = RawOut::new(3, false);
        let sink = Mutex::new(sink);
        let n = 60_000u64;
        for i in 0..n {
            let (slot, event) = numbered(i);
            out.push(slot, &event.as_event(), false, |chunk| {
                sink.lock().unwrap().write_bytes(chunk)
            });
        }
        out.finish(|chunk| sink.lock().unwrap().write_bytes(chunk));
        let mut sink = sink.into_inner().unwrap();
        sink.flush();
        drop(sink);
        let mut reader = RawReader::open(&path).unwrap();
        assert!(!reader.cut_short);
        assert_eq!(reader.options, DecodeOptions::default());
        assert_eq!(reader.clock, Timestamps::Wall);
        assert_eq!(reader.model, model);
        let mut next = 0;
        let read = reader
            .events(&[], |event| {
                assert_eq!((event.nr, event.ts), (next, Some(next * 1000)));
                assert_eq!(event.name, format!("event {next}"));
                next += 1;
                Ok(())
            })
            .unwrap();
        assert_eq!((read, next), (n, n));
        assert!(
            reader.chunks.iter().all(|c| c.len() > 1),
            "{:?}",
            reader.chunks
        );

        // Cut in the middle of the last chunk: the whole ones are read.
        let len = std::fs::metadata(&path).unwrap().len();
        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        file.set_len(len - 100).unwrap();
        let mut reader = RawReader::open(&path).unwrap();
        assert!(reader.cut_short);
        let read = reader.events(&[], |_| Ok(())).unwrap();
        assert!(read > 0 && read < n, "{read}");

        std::fs::write(&path, b"{\"event\":\"entry\"}\n").unwrap();
        let e = RawReader::open(&path).err().unwrap();
        assert!(e.contains("not a raw trace"), "{e}");
        let mut newer = header(&model, &DecodeOptions::default(), Timestamps::Wall);
        newer[MAGIC.len()] = 9;
        std::fs::write(&path, newer).unwrap();
        let e = RawReader::open(&path).err().unwrap();
        assert!(e.contains("version 9"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// In rounds, to a writer that decodes: the events of three vCPUs come
    /// out in the order they were numbered, each round placing only what
    /// no later round can precede.
    #[test]
    fn rounds_place_events_in_order() {
        rounds_of(3);
    }

    /// One vCPU's records are numbered under its buffer's lock, without
    /// the shared counter; rounds still place them in order.
    #[test]
    fn rounds_of_one_buffer_place_events_in_order() {
        rounds_of(1);
    }

    fn rounds_of(buffers: usize) {
        let model = crate::testutil::model();
        let formatter = crate::format::Formatter::new(crate::format::Format::Jsonl);
        let mut decoding = Decoding::new(model, formatter);
        let out = RawOut::new(buffers, true);
        let mut text = String::new();
        let mut rounds = 0;
        let n = 200_000u64;
        for i in 0..n {
            let (slot, event) = numbered(i);
            out.push(slot, &event.as_event(), false, |round| {
                rounds += 1;
                decoding.take(&round, &mut text).unwrap();
            });
        }
        assert!(rounds > 2, "{rounds} rounds");
        // Each round placed what it could, not everything at the end.
        assert!(
            text.lines().count() as u64 > n / 2,
            "{} placed",
            text.lines().count()
        );
        out.finish(|round| decoding.take(&round, &mut text).unwrap());
        decoding.finish(&mut text);
        let numbers: Vec<u64> = text
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                v["nr"].as_u64().unwrap()
            })
            .collect();
        assert_eq!(numbers, (0..n).collect::<Vec<_>>());
    }
}
