//! The live sensor's EVE file: size-based rotation and reopen on SIGHUP.
//!
//! Rotation happens between lines (the EVE writer hands over one whole line
//! per `write`), so no event is ever split across files: past `max_size`,
//! `eve.json` becomes `eve.json.1`, `.1` becomes `.2`, ... and the oldest
//! beyond `keep` is removed. `reopen` (set by SIGHUP) makes the next write
//! reopen the path in append mode, so logrotate's move-then-HUP works too.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// A rotating, reopenable append-only file.
pub struct RotatingFile {
    path: PathBuf,
    out: BufWriter<File>,
    size: u64,
    /// Rotate once the file would exceed this many bytes (0: never).
    max_size: u64,
    /// Rotated files kept beside the current one.
    keep: usize,
    /// Set by SIGHUP: reopen the path before the next write.
    pub reopen: Arc<AtomicBool>,
    /// Rotations done (for /metrics).
    pub rotations: Arc<AtomicU64>,
}

fn open_append(path: &Path) -> io::Result<(BufWriter<File>, u64)> {
    let f = OpenOptions::new().create(true).append(true).open(path)?;
    let size = f.metadata()?.len();
    Ok((BufWriter::with_capacity(1 << 16, f), size))
}

impl RotatingFile {
    /// Opens (appending to) `path`.
    ///
    /// # Errors
    /// The file cannot be created or opened.
    pub fn open(path: &Path, max_size: u64, keep: usize) -> io::Result<Self> {
        let (out, size) = open_append(path)?;
        Ok(RotatingFile {
            path: path.to_path_buf(),
            out,
            size,
            max_size,
            keep,
            reopen: Arc::new(AtomicBool::new(false)),
            rotations: Arc::new(AtomicU64::new(0)),
        })
    }

    fn rotated(&self, n: usize) -> PathBuf {
        let mut p = self.path.clone().into_os_string();
        p.push(format!(".{n}"));
        PathBuf::from(p)
    }

    fn rotate(&mut self) -> io::Result<()> {
        self.out.flush()?;
        if self.keep == 0 {
            std::fs::remove_file(&self.path).or_else(ignore_missing)?;
        } else {
            std::fs::remove_file(self.rotated(self.keep)).or_else(ignore_missing)?;
            for n in (1..self.keep).rev() {
                std::fs::rename(self.rotated(n), self.rotated(n + 1)).or_else(ignore_missing)?;
            }
            std::fs::rename(&self.path, self.rotated(1))?;
        }
        let (out, size) = open_append(&self.path)?;
        self.out = out;
        self.size = size;
        self.rotations.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

fn ignore_missing(e: io::Error) -> io::Result<()> {
    if e.kind() == io::ErrorKind::NotFound {
        Ok(())
    } else {
        Err(e)
    }
}

impl Write for RotatingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.reopen.swap(false, Ordering::Relaxed) {
            self.out.flush()?;
            let (out, size) = open_append(&self.path)?;
            self.out = out;
            self.size = size;
        }
        if self.max_size > 0 && self.size > 0 && self.size + buf.len() as u64 > self.max_size {
            self.rotate()?;
        }
        self.out.write_all(buf)?;
        self.size += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_between_lines_and_keeps_n() {
        let dir = std::env::temp_dir().join(format!("vigil-rot-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("eve.json");
        let mut f = RotatingFile::open(&p, 100, 2).unwrap();
        for i in 0..30 {
            f.write_all(format!("{{\"line\":{i:04}}}\n").as_bytes())
                .unwrap();
        }
        f.flush().unwrap();
        // 14-byte lines, 7 per 100-byte file: 0-6, 7-13, 14-20, 21-27, 28-29
        let cur = std::fs::read_to_string(&p).unwrap();
        let one = std::fs::read_to_string(dir.join("eve.json.1")).unwrap();
        let two = std::fs::read_to_string(dir.join("eve.json.2")).unwrap();
        assert!(!dir.join("eve.json.3").exists());
        assert!(cur.len() <= 100 && one.len() <= 100 && two.len() <= 100);
        assert!(cur.ends_with("{\"line\":0029}\n"), "{cur}");
        let all = two + &one + &cur;
        let lines: Vec<&str> = all.lines().collect();
        // the newest 16 lines (two rotated files and the current one), in
        // order, none split
        assert_eq!(lines.len(), 16);
        assert_eq!(lines[0], "{\"line\":0014}");
        assert_eq!(f.rotations.load(Ordering::Relaxed), 4);
        // reopen after an external move (logrotate)
        std::fs::rename(&p, dir.join("moved")).unwrap();
        f.reopen.store(true, Ordering::Relaxed);
        f.write_all(b"{\"after\":1}\n").unwrap();
        f.flush().unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "{\"after\":1}\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
