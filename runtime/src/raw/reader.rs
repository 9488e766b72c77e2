//! Reads a `format=raw` file back: its header and model, then every
//! vCPU's chunks merged into one order by the records' numbers, each call
//! decoded from its capture with the file's model and options.

use super::record::{self, Context, decode_capture};
use super::{CHUNK, CHUNK_HEADER, END, MAGIC, VERSION};
use crate::decode::DecodeOptions;
use crate::format::{OwnedEvent, Timestamps};
use flate2::read::GzDecoder;
use osm_model::Model;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// A raw trace being read.
pub struct RawReader {
    file: File,
    name: String,
    pub model: Model,
    pub options: DecodeOptions,
    pub clock: Timestamps,
    /// The file's layout version.
    version: u32,
    /// Per vCPU slot, where its chunks' records are: (offset, length).
    pub(super) chunks: Vec<Vec<(u64, u32)>>,
    /// The file has no end mark: the plugin did not finish it (QEMU was
    /// killed), or its last chunk is cut short.
    pub cut_short: bool,
    /// Reads decoding asked for that no capture held.
    pub misses: u64,
}

/// Whether `start` (a file's first bytes) is a raw trace's.
pub fn is_raw(start: &[u8]) -> bool {
    start.starts_with(MAGIC)
}

fn read_u32(file: &mut File) -> std::io::Result<u32> {
    let mut b = [0u8; 4];
    file.read_exact(&mut b)?;
    Ok(u32::from_le_bytes(b))
}

impl RawReader {
    pub fn open(path: &Path) -> Result<Self, String> {
        let name = path.display().to_string();
        let mut file = File::open(path).map_err(|e| format!("cannot read {name}: {e}"))?;
        let bad = |what: &str| format!("{name}: {what}");
        let mut magic = [0u8; MAGIC.len()];
        if file.read_exact(&mut magic).is_err() || &magic != MAGIC {
            return Err(bad("not a raw trace (record one with format=raw,log=FILE)"));
        }
        let short = |_| bad("the header is cut short");
        let version = read_u32(&mut file).map_err(short)?;
        if !(1..=VERSION).contains(&version) {
            return Err(bad(&format!(
                "raw trace version {version}; this osmtrace reads versions 1 to {VERSION}"
            )));
        }
        let string_limit = read_u32(&mut file).map_err(short)? as usize;
        let mut flags = [0u8; 2];
        file.read_exact(&mut flags).map_err(short)?;
        let clock = match flags[1] {
            0 => Timestamps::None,
            1 => Timestamps::Wall,
            _ => Timestamps::Virtual,
        };
        let len = read_u32(&mut file).map_err(short)?;
        let mut json = Vec::new();
        GzDecoder::new((&mut file).take(u64::from(len)))
            .read_to_end(&mut json)
            .map_err(|e| bad(&format!("its model does not read: {e}")))?;
        let model: Model = serde_json::from_slice(&json)
            .map_err(|e| bad(&format!("its model does not read: {e}")))?;
        let mut reader = RawReader {
            file,
            name,
            model,
            options: DecodeOptions {
                string_limit,
                verbose: flags[0] != 0,
            },
            clock,
            version,
            chunks: Vec::new(),
            cut_short: true,
            misses: 0,
        };
        reader.index()?;
        Ok(reader)
    }

    /// Finds every chunk; stops at the end mark or at a chunk cut short.
    fn index(&mut self) -> Result<(), String> {
        let end = self
            .file
            .metadata()
            .map_err(|e| format!("{}: {e}", self.name))?
            .len();
        let mut at = self
            .file
            .stream_position()
            .map_err(|e| format!("{}: {e}", self.name))?;
        loop {
            let mut head = [0u8; CHUNK_HEADER];
            let got =
                read_full(&mut self.file, &mut head).map_err(|e| format!("{}: {e}", self.name))?;
            match head[0] {
                _ if got == 0 => break,
                END if got >= 1 => {
                    self.cut_short = false;
                    break;
                }
                CHUNK if got == CHUNK_HEADER => {
                    let slot = u32::from_le_bytes(head[1..5].try_into().unwrap()) as usize;
                    let len = u32::from_le_bytes(head[5..9].try_into().unwrap());
                    let records = at + CHUNK_HEADER as u64;
                    if records + u64::from(len) > end {
                        break;
                    }
                    if slot >= 4096 {
                        return Err(format!(
                            "{}: a chunk of vCPU slot {slot}: not a raw trace's",
                            self.name
                        ));
                    }
                    if self.chunks.len() <= slot {
                        self.chunks.resize(slot + 1, Vec::new());
                    }
                    self.chunks[slot].push((records, len));
                    at = records + u64::from(len);
                    self.file
                        .seek(SeekFrom::Start(at))
                        .map_err(|e| format!("{}: {e}", self.name))?;
                }
                CHUNK => break,
                other => {
                    return Err(format!(
                        "{}: byte {at}: {other:#04x} where a chunk should start",
                        self.name
                    ));
                }
            }
        }
        Ok(())
    }

    /// Every event in the order the plugin numbered them, decoded; with
    /// `decl_base` (lean jsonl's), calls carry their declaration number.
    pub fn events(
        &mut self,
        decl_base: &[u32],
        mut each: impl FnMut(OwnedEvent) -> Result<(), String>,
    ) -> Result<u64, String> {
        let mut slots: Vec<Slot> = (0..self.chunks.len()).map(|_| Slot::default()).collect();
        let mut heap = BinaryHeap::new();
        for (i, slot) in slots.iter_mut().enumerate() {
            if let Some(seq) =
                slot.peek(&mut self.file, &self.chunks[i], self.version, &self.name)?
            {
                heap.push(Reverse((seq, i)));
            }
        }
        let mut count = 0;
        while let Some(Reverse((_, i))) = heap.pop() {
            let slot = &mut slots[i];
            let mut pos = slot.pos;
            let decoded = record::decode(&slot.bytes, &mut pos, self.version, &mut slot.context)
                .map_err(|e| format!("{}: a record of vCPU slot {i}: {e}", self.name))?;
            let mut event = decoded.event;
            if let Some(capture) = decoded.capture {
                let misses =
                    decode_capture(&self.model, &self.options, decl_base, capture, &mut event)
                        .map_err(|e| {
                            format!(
                                "{}: call {} ({:?}) of vCPU slot {i}: {e}",
                                self.name, event.nr, event.kind
                            )
                        })?;
                self.misses += u64::from(misses);
            }
            slot.pos = pos;
            if let Some(seq) =
                slot.peek(&mut self.file, &self.chunks[i], self.version, &self.name)?
            {
                heap.push(Reverse((seq, i)));
            }
            count += 1;
            each(event)?;
        }
        Ok(count)
    }
}

/// Reads as much of `buf` as the file has.
fn read_full(file: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match file.read(&mut buf[got..])? {
            0 => break,
            n => got += n,
        }
    }
    Ok(got)
}

/// One vCPU slot's place in its chunks.
#[derive(Default)]
struct Slot {
    bytes: Vec<u8>,
    pos: usize,
    /// What the next record is written against (version 3).
    context: Context,
    next_chunk: usize,
}

impl Slot {
    /// The number of the slot's next record, loading its next chunk when
    /// this one is used up; `None` after its last.
    fn peek(
        &mut self,
        file: &mut File,
        chunks: &[(u64, u32)],
        version: u32,
        name: &str,
    ) -> Result<Option<u64>, String> {
        while self.pos >= self.bytes.len() {
            let Some(&(at, len)) = chunks.get(self.next_chunk) else {
                return Ok(None);
            };
            self.next_chunk += 1;
            self.bytes.resize(len as usize, 0);
            file.seek(SeekFrom::Start(at))
                .and_then(|_| file.read_exact(&mut self.bytes))
                .map_err(|e| format!("{name}: {e}"))?;
            self.pos = 0;
            self.context = Context::default();
        }
        record::peek_seq(&self.bytes, self.pos, version, &self.context)
            .map(Some)
            .ok_or_else(|| format!("{name}: a record's number cut short"))
    }
}

impl RawReader {
    /// The declaration numbers `config`'s output needs: lean jsonl's.
    pub fn decl_base_for(&self, config: &crate::format::OutputConfig) -> Vec<u32> {
        if config.format == crate::format::Format::Jsonl && config.jsonl_lean {
            crate::format::decl_bases(&self.model)
        } else {
            Vec::new()
        }
    }
}
