//! Decoding captured calls where the log is written: the vCPUs capture
//! (as for `format=raw`) and hand their records over in rounds; the log's
//! writer thread decodes and formats them, in the order the vCPUs
//! numbered them, with the formatter the plugin would have used on the
//! vCPUs. The text is the same; the vCPUs do less.
//!
//! A round is every vCPU's records taken one buffer after the other, then
//! `R` and the number the counter had before the first: every record
//! numbered below it is in hand by then (a record takes its number under
//! its buffer's lock), so those are placed, in order, and later ones wait
//! for the next round.

use super::record::{self, decode_capture};
use super::{CHUNK, CHUNK_HEADER, END};
use crate::decode::DecodeOptions;
use crate::format::{Formatter, OwnedEvent};
use osm_model::Model;
use std::collections::BTreeMap;

/// A round's end: `R`, then the counter's value (u64 LE).
pub(super) const ROUND: u8 = b'R';

/// The writer thread's decoder.
pub struct Decoding {
    model: Model,
    options: DecodeOptions,
    decl_base: Vec<u32>,
    formatter: Formatter,
    /// Records decoded and not placed yet, by number.
    held: BTreeMap<u64, OwnedEvent>,
    /// Reads decoding asked for that no capture held (none unless the
    /// capture and the decoding disagree).
    pub misses: u64,
}

impl Decoding {
    pub fn new(model: Model, formatter: Formatter) -> Self {
        let config = formatter.config();
        let options = DecodeOptions {
            string_limit: config.string_limit,
            verbose: config.verbose,
        };
        let decl_base = if config.format == crate::format::Format::Jsonl && config.jsonl_lean {
            crate::format::decl_bases(&model)
        } else {
            Vec::new()
        };
        Decoding {
            model,
            options,
            decl_base,
            formatter,
            held: BTreeMap::new(),
            misses: 0,
        }
    }

    /// Takes a message of chunks and round or end marks; the text of the
    /// events they make certain goes into `out`.
    pub fn take(&mut self, bytes: &[u8], out: &mut String) -> Result<(), String> {
        let mut at = 0;
        while at < bytes.len() {
            match bytes[at] {
                CHUNK => {
                    let len = bytes
                        .get(at + 5..at + CHUNK_HEADER)
                        .and_then(|b| b.try_into().ok())
                        .map(u32::from_le_bytes)
                        .ok_or("a chunk cut short")? as usize;
                    let start = at + CHUNK_HEADER;
                    let records = bytes.get(start..start + len).ok_or("a chunk cut short")?;
                    self.hold(records)?;
                    at = start + len;
                }
                ROUND => {
                    let below = bytes
                        .get(at + 1..at + 9)
                        .and_then(|b| b.try_into().ok())
                        .map(u64::from_le_bytes)
                        .ok_or("a round mark cut short")?;
                    let later = self.held.split_off(&below);
                    let ready = std::mem::replace(&mut self.held, later);
                    self.place(ready, out);
                    at += 9;
                }
                END => {
                    let all = std::mem::take(&mut self.held);
                    self.place(all, out);
                    at += 1;
                }
                other => return Err(format!("{other:#04x} where a chunk should start")),
            }
        }
        Ok(())
    }

    fn hold(&mut self, records: &[u8]) -> Result<(), String> {
        let mut pos = 0;
        while pos < records.len() {
            let decoded = record::decode(records, &mut pos)?;
            let mut event = decoded.event;
            if let Some(capture) = decoded.capture {
                let misses = decode_capture(
                    &self.model,
                    &self.options,
                    &self.decl_base,
                    capture,
                    &mut event,
                )?;
                self.misses += u64::from(misses);
            }
            self.held.insert(decoded.seq, event);
        }
        Ok(())
    }

    fn place(&mut self, events: BTreeMap<u64, OwnedEvent>, out: &mut String) {
        for event in events.into_values() {
            self.formatter.event(&event.as_event(), out);
        }
    }

    /// The end of the trace: what is still held, then what the formatter
    /// ends with; returns what [`Formatter::finish`] returns.
    pub fn finish(&mut self, out: &mut String) -> Option<String> {
        let all = std::mem::take(&mut self.held);
        self.place(all, out);
        self.formatter.finish(out)
    }
}
