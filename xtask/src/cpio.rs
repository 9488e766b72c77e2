//! "newc" cpio archives (the format Linux unpacks as an initramfs), written
//! with the `cpio` crate, so building a guest needs no `cpio` binary.
//!
//! Every entry is owned by root, has mtime 0 and a fresh inode number, so the
//! same inputs always give the same bytes.

use cpio::newc::{Builder, ModeFileType, trailer};
use std::io::{self, Write};

/// Writes entries in order; call [`CpioWriter::finish`] to add the trailer.
pub struct CpioWriter<W: Write> {
    out: W,
    next_ino: u32,
}

impl<W: Write> CpioWriter<W> {
    pub fn new(out: W) -> Self {
        CpioWriter { out, next_ino: 1 }
    }

    /// A directory; `path` is relative to the archive root ("usr/bin").
    pub fn dir(&mut self, path: &str, perm: u32) -> io::Result<()> {
        self.entry(path, ModeFileType::Directory, perm, |b| b.nlink(2), &[])
    }

    /// A regular file with the given contents.
    pub fn file(&mut self, path: &str, perm: u32, data: &[u8]) -> io::Result<()> {
        self.entry(path, ModeFileType::Regular, perm, |b| b, data)
    }

    /// A character device node (no privileges needed to put one in an archive).
    pub fn char_dev(&mut self, path: &str, perm: u32, major: u32, minor: u32) -> io::Result<()> {
        let device = |b: Builder| b.rdev_major(major).rdev_minor(minor);
        self.entry(path, ModeFileType::Char, perm, device, &[])
    }

    /// A symbolic link to `target` (its data is the target's path).
    pub fn symlink(&mut self, path: &str, target: &str) -> io::Result<()> {
        self.entry(path, ModeFileType::Symlink, 0o777, |b| b, target.as_bytes())
    }

    /// Writes the "TRAILER!!!" entry and returns the underlying writer.
    pub fn finish(self) -> io::Result<W> {
        let mut out = trailer(self.out)?;
        out.flush()?;
        Ok(out)
    }

    /// One entry: root's, dated 0, with the next inode number.
    fn entry(
        &mut self,
        name: &str,
        kind: ModeFileType,
        perm: u32,
        more: impl FnOnce(Builder) -> Builder,
        data: &[u8],
    ) -> io::Result<()> {
        let invalid = |what: &str| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("cpio: {what}: {name:?}"),
            )
        };
        if name.is_empty() || name.contains('\0') {
            return Err(invalid("bad entry name"));
        }
        let size = u32::try_from(data.len()).map_err(|_| invalid("file larger than 4 GiB"))?;
        let builder = Builder::new(name)
            .ino(self.next_ino)
            .mode(perm & 0o7777)
            .set_mode_file_type(kind);
        self.next_ino += 1;
        let mut entry = more(builder).write(&mut self.out, size);
        entry.write_all(data)?;
        entry.finish()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cpio::NewcReader;

    /// Each entry of an archive: name, inode, mode, nlink, (uid, gid,
    /// mtime), rdev, data; read back with the crate's reader.
    type Entry = (String, u32, u32, u32, (u32, u32, u32), (u32, u32), Vec<u8>);

    fn entries(mut bytes: &[u8]) -> Vec<Entry> {
        use std::io::Read;
        let mut out = Vec::new();
        loop {
            let mut reader = NewcReader::new(bytes).unwrap();
            let e = reader.entry().clone();
            if e.is_trailer() {
                assert_eq!((e.ino(), e.mode(), e.nlink()), (0, 0, 1));
                let rest = reader.finish().unwrap();
                assert!(rest.is_empty(), "{} bytes after the trailer", rest.len());
                return out;
            }
            let mut data = Vec::new();
            reader.read_to_end(&mut data).unwrap();
            out.push((
                e.name().to_string(),
                e.ino(),
                e.mode(),
                e.nlink(),
                (e.uid(), e.gid(), e.mtime()),
                (e.rdev_major(), e.rdev_minor()),
                data,
            ));
            bytes = reader.finish().unwrap();
        }
    }

    #[test]
    fn layout_is_newc() {
        let mut w = CpioWriter::new(Vec::new());
        w.dir("bin", 0o755).unwrap();
        w.file("bin/x", 0o755, b"hello").unwrap();
        w.char_dev("dev/console", 0o600, 5, 1).unwrap();
        w.symlink("sh", "bin/x").unwrap();
        w.dir("tmp", 0o1777).unwrap();
        let bytes = w.finish().unwrap();
        assert_eq!(bytes.len() % 4, 0);
        // First header: magic, ino 1, directory mode 040755.
        assert_eq!(&bytes[..6], b"070701");
        assert_eq!(&bytes[6..14], b"00000001");
        assert!(bytes[14..22].eq_ignore_ascii_case(b"000041ED"));
        // "bin\0" ends at 110 + 4 = 114, padded to 116; next header follows.
        assert_eq!(&bytes[110..114], b"bin\0");
        assert_eq!(&bytes[116..122], b"070701");
        // File data is 4-aligned and followed by padding.
        let data_at = 116 + 110 + "bin/x\0".len();
        let data_at = data_at.div_ceil(4) * 4;
        assert_eq!(&bytes[data_at..data_at + 5], b"hello");

        let root = (0, 0, 0);
        let e = |name: &str, ino, mode, nlink, rdev, data: &[u8]| {
            (
                name.to_string(),
                ino,
                mode,
                nlink,
                root,
                rdev,
                data.to_vec(),
            )
        };
        assert_eq!(
            entries(&bytes),
            [
                e("bin", 1, 0o040_755, 2, (0, 0), b""),
                e("bin/x", 2, 0o100_755, 1, (0, 0), b"hello"),
                e("dev/console", 3, 0o020_600, 1, (5, 1), b""),
                e("sh", 4, 0o120_777, 1, (0, 0), b"bin/x"),
                e("tmp", 5, 0o041_777, 2, (0, 0), b""),
            ]
        );
        // A name the kernel could not unpack is refused.
        let mut w = CpioWriter::new(Vec::new());
        assert!(w.file("", 0o644, b"").is_err());
        assert!(w.file("a\0b", 0o644, b"").is_err());
    }

    /// If a `cpio` binary is installed, it must list what we wrote.
    #[test]
    fn cpio_tool_reads_it() {
        use std::process::{Command, Stdio};
        let mut w = CpioWriter::new(Vec::new());
        w.dir("etc", 0o755).unwrap();
        w.file("etc/a b", 0o644, b"12345678").unwrap();
        w.file("empty", 0o600, b"").unwrap();
        w.symlink("link", "etc/a b").unwrap();
        let bytes = w.finish().unwrap();
        let Ok(mut child) = Command::new("cpio")
            .args(["-t", "--quiet"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
        else {
            return; // no cpio: nothing to compare with
        };
        child.stdin.take().unwrap().write_all(&bytes).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "etc\netc/a b\nempty\nlink\n"
        );
    }
}
