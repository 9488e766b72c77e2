//! Finding a kernel's BTF in the file a guest boots: a raw BTF blob, an ELF
//! file's `.BTF` section, a flat image (arm64 `Image`, riscv64's EFI image)
//! that carries the blob as it is, or a compressed payload inside a boot
//! image (x86 `bzImage`, whose vmlinux is xz-compressed).

use std::io::Read;

/// BTF's header: magic 0xeb9f, version 1, flags, header length (24), then
/// type and string section offsets and lengths (`include/uapi/linux/btf.h`).
const HEADER: usize = 24;

/// Decompressed bytes read from one payload before giving up on it: more
/// than any kernel's, so a payload that is not one cannot run away.
const PAYLOAD_LIMIT: usize = 1 << 30;

/// Payloads of each kind tried before giving up: the magic bytes of a
/// compressed stream also occur by chance inside other data.
const CANDIDATES: usize = 16;

/// The BTF found in a file, and where, for messages.
#[derive(Debug)]
pub struct Found {
    pub btf: Vec<u8>,
    pub place: String,
}

/// The length of the BTF blob that starts `data`, if a valid header does
/// (either byte order, as BTF is written in the target's).
pub fn blob_len(data: &[u8]) -> Option<usize> {
    let header = data.get(..HEADER)?;
    let little = match header[..4] {
        [0x9f, 0xeb, 1, _] => true,
        [0xeb, 0x9f, 1, _] => false,
        _ => return None,
    };
    let word = |at: usize| {
        let bytes: [u8; 4] = header[at..at + 4].try_into().expect("4 bytes");
        let value = if little {
            u32::from_le_bytes(bytes)
        } else {
            u32::from_be_bytes(bytes)
        };
        value as usize
    };
    let hdr_len = word(4);
    if !(HEADER..=256).contains(&hdr_len) {
        return None;
    }
    let types_end = word(8).checked_add(word(12))?;
    let strings_end = word(16).checked_add(word(20))?;
    let len = hdr_len.checked_add(types_end.max(strings_end))?;
    (word(20) > 0 && len < 1 << 28).then_some(len)
}

fn find_blob(data: &[u8], from: usize) -> Option<usize> {
    let start = from.min(data.len());
    data[start..]
        .windows(4)
        .enumerate()
        .filter(|(_, w)| matches!(w, [0x9f, 0xeb, 1, 0] | [0xeb, 0x9f, 1, 0]))
        .map(|(i, _)| start + i)
        .find(|&at| data.len() - at < HEADER || blob_len(&data[at..]).is_some())
}

/// The BTF in `data` (the file's bytes), or what was tried.
pub fn find_btf(data: &[u8]) -> Result<Found, Vec<String>> {
    let mut tried = Vec::new();
    if let Some(len) = blob_len(data) {
        return Ok(Found {
            btf: data[..len.min(data.len())].to_vec(),
            place: "a raw BTF file".into(),
        });
    }
    if data.starts_with(b"\x7fELF") {
        match object::File::parse(data) {
            Ok(elf) => {
                use object::{Object, ObjectSection};
                if let Some(section) = elf.section_by_name(".BTF") {
                    match section.data() {
                        Ok(btf) if blob_len(btf).is_some() => {
                            return Ok(Found {
                                btf: btf.to_vec(),
                                place: "the ELF file's .BTF section".into(),
                            });
                        }
                        _ => tried.push("an unreadable .BTF section in the ELF file".into()),
                    }
                } else {
                    tried.push("an ELF file without a .BTF section".into());
                }
            }
            Err(e) => tried.push(format!("an ELF header that does not parse ({e})")),
        }
    }
    if let Some(at) = find_blob(data, 0)
        && let Some(len) = blob_len(&data[at..])
        && at + len <= data.len()
    {
        return Ok(Found {
            btf: data[at..at + len].to_vec(),
            place: format!("a BTF blob at offset {at}"),
        });
    }
    tried.push("no BTF blob among the file's bytes".into());
    for kind in Compression::ALL {
        for at in payload_starts(kind, data) {
            match scan_payload(kind, &data[at..]) {
                Ok(Some(btf)) => {
                    return Ok(Found {
                        btf,
                        place: format!("the {} payload at offset {at}", kind.name()),
                    });
                }
                Ok(None) => tried.push(format!(
                    "the {} payload at offset {at}: no BTF in it",
                    kind.name()
                )),
                // Magic bytes by chance, most of the time.
                Err(_) => {}
            }
        }
    }
    Err(tried)
}

/// The ELF file inside a boot image's compressed payload (x86 `bzImage`'s
/// vmlinux), decompressed whole; `None` when no payload holds one.
pub fn unpack_elf(data: &[u8]) -> Option<Vec<u8>> {
    Compression::ALL.into_iter().find_map(|kind| {
        payload_starts(kind, data).find_map(|at| {
            let mut reader = kind.reader(&data[at..]).ok()?;
            let mut head = [0u8; 4];
            reader.read_exact(&mut head).ok()?;
            if head != *b"\x7fELF" {
                return None;
            }
            let mut elf = head.to_vec();
            reader
                .take(PAYLOAD_LIMIT as u64)
                .read_to_end(&mut elf)
                .ok()?;
            Some(elf)
        })
    })
}

/// Where streams of `kind` may start in `data`: the first few places its
/// magic bytes occur.
fn payload_starts(kind: Compression, data: &[u8]) -> impl Iterator<Item = usize> + '_ {
    data.windows(kind.magic().len())
        .enumerate()
        .filter(move |(_, w)| *w == kind.magic())
        .map(|(i, _)| i)
        .take(CANDIDATES)
}

#[derive(Clone, Copy, Debug)]
enum Compression {
    Xz,
    Gzip,
    Zstd,
}

impl Compression {
    const ALL: [Compression; 3] = [Compression::Xz, Compression::Gzip, Compression::Zstd];

    fn magic(self) -> &'static [u8] {
        match self {
            Compression::Xz => b"\xfd7zXZ\x00",
            Compression::Gzip => b"\x1f\x8b\x08",
            Compression::Zstd => b"\x28\xb5\x2f\xfd",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Compression::Xz => "xz",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }

    fn reader<'a>(self, data: &'a [u8]) -> std::io::Result<Box<dyn Read + 'a>> {
        Ok(match self {
            Compression::Xz => Box::new(liblzma::read::XzDecoder::new(data)),
            Compression::Gzip => Box::new(flate2::read::GzDecoder::new(data)),
            Compression::Zstd => Box::new(
                ruzstd::decoding::StreamingDecoder::new(data)
                    .map_err(|e| std::io::Error::other(e.to_string()))?,
            ),
        })
    }
}

/// Decompresses a payload until a whole BTF blob has come out of it.
/// `Err` when the stream is not one at all; `Ok(None)` when it ends (or
/// grows past [`PAYLOAD_LIMIT`]) without BTF.
fn scan_payload(kind: Compression, data: &[u8]) -> std::io::Result<Option<Vec<u8>>> {
    let mut reader = kind.reader(data)?;
    let mut out = Vec::new();
    let mut chunk = vec![0u8; 1 << 20];
    let mut searched = 0;
    let mut blob: Option<usize> = None;
    loop {
        if let Some(at) = blob
            && let Some(len) = blob_len(&out[at..])
            && out.len() >= at + len
        {
            return Ok(Some(out[at..at + len].to_vec()));
        }
        let n = match reader.read(&mut chunk) {
            Ok(0) => return Ok(None),
            Ok(n) => n,
            // Garbage after the BTF does not spoil it; garbage before
            // means this was no payload.
            Err(e) if out.is_empty() => return Err(e),
            Err(_) => return Ok(None),
        };
        out.extend_from_slice(&chunk[..n]);
        if blob.is_none() {
            blob = find_blob(&out, searched);
            searched = out.len().saturating_sub(HEADER);
        }
        if out.len() > PAYLOAD_LIMIT {
            return Ok(None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal valid BTF blob: header, no types, one empty string.
    fn blob() -> Vec<u8> {
        let mut b = vec![0x9f, 0xeb, 1, 0];
        for word in [24u32, 0, 0, 0, 1] {
            b.extend_from_slice(&word.to_le_bytes());
        }
        b.push(0);
        b
    }

    #[test]
    fn validates_headers_and_finds_embedded_blobs() {
        let b = blob();
        assert_eq!(blob_len(&b), Some(25));
        assert_eq!(blob_len(&b[..10]), None);
        let mut bad = b.clone();
        bad[4] = 8;
        assert_eq!(blob_len(&bad), None);
        let mut image = vec![0x9f, 0xeb, 1, 0, 0xff, 0xff];
        image.extend_from_slice(&b);
        image.extend_from_slice(b"trailer");
        let found = find_btf(&image).expect("embedded blob");
        assert_eq!(
            (found.btf, found.place.as_str()),
            (b, "a BTF blob at offset 6")
        );
    }

    #[test]
    fn decompresses_payloads_after_a_boot_stub() {
        use std::io::Write;
        let mut vmlinux = vec![0x55; 3000];
        vmlinux.extend_from_slice(&blob());
        vmlinux.extend_from_slice(&[0xaa; 100]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&vmlinux).unwrap();
        let mut image = b"boot stub \x1f\x8b\x08 not a stream".to_vec();
        let at = image.len();
        image.extend_from_slice(&gz.finish().unwrap());
        let found = find_btf(&image).expect("gzip payload");
        assert_eq!(found.btf, blob());
        assert_eq!(found.place, format!("the gzip payload at offset {at}"));
        let tried = find_btf(b"nothing here at all").unwrap_err();
        assert_eq!(
            tried,
            vec!["no BTF blob among the file's bytes".to_string()]
        );
    }

    #[test]
    fn unpacks_the_elf_payload_of_a_boot_image() {
        use std::io::Write;
        let mut elf = b"\x7fELF".to_vec();
        elf.extend_from_slice(&[7; 5000]);
        let mut not_elf = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        not_elf
            .write_all(b"a compressed stream that is no ELF")
            .unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&elf).unwrap();
        let mut image = b"boot stub \x1f\x8b\x08 not a stream".to_vec();
        image.extend_from_slice(&not_elf.finish().unwrap());
        image.extend_from_slice(&gz.finish().unwrap());
        assert_eq!(unpack_elf(&image), Some(elf));
        assert_eq!(unpack_elf(b"boot stub without payload"), None);
    }
}
