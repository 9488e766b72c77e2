//! A minimal writer of "newc" cpio archives (the format Linux unpacks as an
//! initramfs), so building a guest needs no `cpio` binary.
//!
//! Every entry is owned by root, has mtime 0 and a fresh inode number, so the
//! same inputs always give the same bytes.

use std::io::{self, Write};

const S_IFDIR: u32 = 0o040_000;
const S_IFREG: u32 = 0o100_000;
const S_IFCHR: u32 = 0o020_000;
const S_IFLNK: u32 = 0o120_000;

/// Writes entries in order; call [`CpioWriter::finish`] to add the trailer.
pub struct CpioWriter<W: Write> {
    out: W,
    next_ino: u32,
    /// Bytes written so far, for the 4-byte alignment of names and data.
    offset: u64,
}

impl<W: Write> CpioWriter<W> {
    pub fn new(out: W) -> Self {
        CpioWriter {
            out,
            next_ino: 1,
            offset: 0,
        }
    }

    /// A directory; `path` is relative to the archive root ("usr/bin").
    pub fn dir(&mut self, path: &str, perm: u32) -> io::Result<()> {
        self.entry(path, S_IFDIR | (perm & 0o7777), 2, (0, 0), &[])
    }

    /// A regular file with the given contents.
    pub fn file(&mut self, path: &str, perm: u32, data: &[u8]) -> io::Result<()> {
        self.entry(path, S_IFREG | (perm & 0o7777), 1, (0, 0), data)
    }

    /// A character device node (no privileges needed to put one in an archive).
    pub fn char_dev(&mut self, path: &str, perm: u32, major: u32, minor: u32) -> io::Result<()> {
        self.entry(path, S_IFCHR | (perm & 0o7777), 1, (major, minor), &[])
    }

    /// A symbolic link to `target` (its data is the target's path).
    pub fn symlink(&mut self, path: &str, target: &str) -> io::Result<()> {
        self.entry(path, S_IFLNK | 0o777, 1, (0, 0), target.as_bytes())
    }

    /// Writes the "TRAILER!!!" entry and returns the underlying writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.next_ino = 0;
        self.entry("TRAILER!!!", 0, 1, (0, 0), &[])?;
        self.out.flush()?;
        Ok(self.out)
    }

    fn entry(
        &mut self,
        name: &str,
        mode: u32,
        nlink: u32,
        rdev: (u32, u32),
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
        let ino = self.next_ino;
        if ino != 0 {
            self.next_ino += 1;
        }
        let namesize = name.len() + 1; // with the NUL
        let fields: [u32; 13] = [
            ino,
            mode,
            0, // uid
            0, // gid
            nlink,
            0, // mtime
            size,
            0, // devmajor
            0, // devminor
            rdev.0,
            rdev.1,
            u32::try_from(namesize).map_err(|_| invalid("name too long"))?,
            0, // check
        ];
        let mut header = String::with_capacity(110);
        header.push_str("070701");
        for f in fields {
            header.push_str(&format!("{f:08X}"));
        }
        self.put(header.as_bytes())?;
        self.put(name.as_bytes())?;
        self.put(&[0])?;
        self.pad()?;
        self.put(data)?;
        self.pad()
    }

    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.offset += bytes.len() as u64;
        Ok(())
    }

    fn pad(&mut self) -> io::Result<()> {
        let n = (4 - (self.offset % 4) as usize) % 4;
        self.put(&[0u8; 3][..n])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_newc() {
        let mut w = CpioWriter::new(Vec::new());
        w.dir("bin", 0o755).unwrap();
        w.file("bin/x", 0o755, b"hello").unwrap();
        w.char_dev("dev/console", 0o600, 5, 1).unwrap();
        let bytes = w.finish().unwrap();
        assert_eq!(bytes.len() % 4, 0);
        // First header: magic, ino 1, directory mode 040755.
        assert_eq!(&bytes[..6], b"070701");
        assert_eq!(&bytes[6..14], b"00000001");
        assert_eq!(&bytes[14..22], b"000041ED");
        // "bin\0" ends at 110 + 4 = 114, padded to 116; next header follows.
        assert_eq!(&bytes[110..114], b"bin\0");
        assert_eq!(&bytes[116..122], b"070701");
        // File data is 4-aligned and followed by padding.
        let data_at = 116 + 110 + "bin/x\0".len();
        let data_at = data_at.div_ceil(4) * 4;
        assert_eq!(&bytes[data_at..data_at + 5], b"hello");
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains("TRAILER!!!"));
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
