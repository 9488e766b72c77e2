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

use super::record::{self, Context};
use super::{CHUNK, CHUNK_HEADER, END, VERSION};
use crate::decode::{self, Arg, DecodeOptions};
use crate::format::{Event, EventKind, Formatter};
use osm_model::Model;

/// A round's end: `R`, then the counter's value (u64 LE).
pub(super) const ROUND: u8 = b'R';

/// A record not placed yet: its number, what it is written against (its
/// chunk's previous record) and its bytes.
#[derive(Clone, Copy)]
struct Held<R> {
    seq: u64,
    against: Context,
    record: R,
}

impl Held<&[u8]> {
    fn owned(self) -> Held<Vec<u8>> {
        Held {
            seq: self.seq,
            against: self.against,
            record: self.record.to_vec(),
        }
    }
}

impl Held<Vec<u8>> {
    fn borrowed(&self) -> Held<&[u8]> {
        Held {
            seq: self.seq,
            against: self.against,
            record: &self.record,
        }
    }
}

/// The writer thread's decoder.
pub struct Decoding {
    model: Model,
    options: DecodeOptions,
    decl_base: Vec<u32>,
    formatter: Formatter,
    /// Records numbered at or past the last round's mark.
    held: Vec<Held<Vec<u8>>>,
    /// The arguments and return text of the event being placed, reused.
    args: Vec<Arg>,
    ret_text: String,
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
            held: Vec::new(),
            args: Vec::new(),
            ret_text: String::new(),
            misses: 0,
        }
    }

    /// Takes a message of chunks and round or end marks; the text of the
    /// events they make certain goes into `out`.
    pub fn take(&mut self, bytes: &[u8], out: &mut String) -> Result<(), String> {
        // This message's records, until a mark places them or holds them.
        let mut records: Vec<Held<&[u8]>> = Vec::new();
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
                    let chunk = bytes.get(start..start + len).ok_or("a chunk cut short")?;
                    let (mut pos, mut context) = (0, record::Context::default());
                    while pos < chunk.len() {
                        let (begin, against) = (pos, context);
                        let seq = record::decode(chunk, &mut pos, VERSION, &mut context)?.seq;
                        records.push(Held {
                            seq,
                            against,
                            record: &chunk[begin..pos],
                        });
                    }
                    at = start + len;
                }
                ROUND => {
                    let below = bytes
                        .get(at + 1..at + 9)
                        .and_then(|b| b.try_into().ok())
                        .map(u64::from_le_bytes)
                        .ok_or("a round mark cut short")?;
                    self.place_below(below, std::mem::take(&mut records), out)?;
                    at += 9;
                }
                END => {
                    self.place_below(u64::MAX, std::mem::take(&mut records), out)?;
                    at += 1;
                }
                other => return Err(format!("{other:#04x} where a chunk should start")),
            }
        }
        self.held.extend(records.into_iter().map(Held::owned));
        Ok(())
    }

    /// Places, in order, the records held and `records` numbered below
    /// `below`; holds the others.
    fn place_below(
        &mut self,
        below: u64,
        records: Vec<Held<&[u8]>>,
        out: &mut String,
    ) -> Result<(), String> {
        let held = std::mem::take(&mut self.held);
        let mut all: Vec<Held<&[u8]>> = held.iter().map(Held::borrowed).collect();
        all.extend(records);
        all.sort_unstable_by_key(|h| h.seq);
        let ready = all.partition_point(|h| h.seq < below);
        for h in &all[..ready] {
            self.place(h.record, h.against, out)?;
        }
        self.held = all[ready..].iter().copied().map(Held::owned).collect();
        Ok(())
    }

    /// Decodes and formats one record, written against `against`.
    fn place(&mut self, bytes: &[u8], against: Context, out: &mut String) -> Result<(), String> {
        let decoded = record::decode(bytes, &mut 0, VERSION, &mut { against })?;
        let ev = decoded.event;
        let Some(capture) = decoded.capture else {
            self.formatter.event(&ev.as_event(), out);
            return Ok(());
        };
        let call = record::decode_call(
            &self.model,
            &self.options,
            &self.decl_base,
            capture,
            ev.kind == EventKind::Exit,
            &mut self.args,
            std::mem::take(&mut self.ret_text),
        )?;
        self.misses += u64::from(call.misses);
        let name = decode::call_name(call.syscall, ev.nr);
        let event = Event {
            name: &name,
            args: &self.args,
            ret: call.ret.as_ref(),
            classes: call.syscall.map_or(&[], |s| &s.classes),
            decl: call.decl,
            capture: None,
            process_ended: call.process_ended,
            ..ev.as_event()
        };
        self.formatter.event(&event, out);
        if let Some(ret) = call.ret {
            self.ret_text = ret.text;
        }
        Ok(())
    }

    /// The end of the trace: what is still held, then what the formatter
    /// ends with; returns what [`Formatter::finish`] returns.
    pub fn finish(&mut self, out: &mut String) -> Option<String> {
        if let Err(e) = self.place_below(u64::MAX, Vec::new(), out) {
            eprintln!("osmtrace: the writer could not decode the captured calls: {e}");
        }
        self.formatter.finish(out)
    }
}
