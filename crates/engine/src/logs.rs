//! Docker's json-file log format: one JSON object per line of container output,
//! `{"log":"text\n","stream":"stdout","time":"<RFC 3339, nanoseconds>"}`, in
//! `<container dir>/<id>-json.log`.

use std::fs::File;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Result, io};

/// Longest line kept whole; longer output is split into several entries, as
/// Docker's log copier does.
const MAX_LINE: usize = 16 * 1024;

/// One entry of a json-file log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// The text, with its newline when the line was complete.
    pub log: String,
    /// "stdout" or "stderr".
    pub stream: String,
    /// When the monitor read it: RFC 3339 with up to nine fractional digits.
    pub time: String,
}

/// The log file of container `id` in `dir`.
pub fn path(dir: &Path, id: &str) -> PathBuf {
    dir.join(format!("{id}-json.log"))
}

/// The current time as Go's RFC3339Nano prints it (trailing zeros trimmed).
pub fn now_nano() -> String {
    go_nano(&berth_runtime::state::now_rfc3339())
}

/// Trims the fraction of an RFC 3339 time as Go's RFC3339Nano layout does.
pub fn go_nano(t: &str) -> String {
    match t.split_once('.') {
        Some((head, frac)) => {
            let digits = frac.trim_end_matches('Z').trim_end_matches('0');
            if digits.is_empty() {
                format!("{head}Z")
            } else {
                format!("{head}.{digits}Z")
            }
        }
        None => t.to_string(),
    }
}

/// The files of a log, oldest first: `<log>.<n>` ... `<log>.1`, then `<log>`.
pub fn files(path: &Path) -> Vec<PathBuf> {
    let mut v = Vec::new();
    let mut n = 1;
    loop {
        let p = rotated(path, n);
        if !p.exists() {
            break;
        }
        v.push(p);
        n += 1;
    }
    v.reverse();
    v.push(path.to_path_buf());
    v
}

fn rotated(path: &Path, n: u32) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{n}"));
    PathBuf::from(s)
}

/// Writes a container's output as json-file entries, a line at a time per stream,
/// rotating the file when it reaches its size limit.
pub struct Writer {
    path: PathBuf,
    file: File,
    size: u64,
    max_size: u64,
    max_file: u32,
    partial: [Vec<u8>; 2],
}

impl Writer {
    /// Opens (appending, creating) the log at `path`; past `max_size` bytes (0: no
    /// limit) it is rotated, keeping `max_file` files in all.
    pub fn open(path: &Path, max_size: u64, max_file: u32) -> Result<Writer> {
        let file = File::options()
            .create(true)
            .append(true)
            .open(path)
            .map_err(io(format!("open log {}", path.display())))?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(Writer {
            path: path.to_path_buf(),
            file,
            size,
            max_size,
            max_file: max_file.max(1),
            partial: [Vec::new(), Vec::new()],
        })
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        if self.max_file > 1 {
            let _ = std::fs::remove_file(rotated(&self.path, self.max_file - 1));
            for n in (1..self.max_file - 1).rev() {
                let _ = std::fs::rename(rotated(&self.path, n), rotated(&self.path, n + 1));
            }
            std::fs::rename(&self.path, rotated(&self.path, 1))?;
        }
        self.file = File::options()
            .create(true)
            .write(true)
            .truncate(true)
            .open(&self.path)?;
        self.size = 0;
        Ok(())
    }

    fn entry(&mut self, stream: usize, text: &[u8]) -> std::io::Result<()> {
        let e = Entry {
            log: String::from_utf8_lossy(text).into_owned(),
            stream: if stream == 0 { "stdout" } else { "stderr" }.into(),
            time: now_nano(),
        };
        let mut line = serde_json::to_vec(&e).expect("log entry serialises");
        line.push(b'\n');
        self.file.write_all(&line)?;
        self.size += line.len() as u64;
        if self.max_size > 0 && self.size >= self.max_size {
            self.rotate()?;
        }
        Ok(())
    }

    /// Adds output read from `stream` (0 stdout, 1 stderr); complete lines are
    /// written, the rest waits for more.
    pub fn write(&mut self, stream: usize, data: &[u8]) -> std::io::Result<()> {
        let mut buf = std::mem::take(&mut self.partial[stream]);
        buf.extend_from_slice(data);
        let mut start = 0;
        while let Some(n) = buf[start..].iter().position(|b| *b == b'\n') {
            self.entry(stream, &buf[start..start + n + 1])?;
            start += n + 1;
        }
        while buf.len() - start >= MAX_LINE {
            self.entry(stream, &buf[start..start + MAX_LINE])?;
            start += MAX_LINE;
        }
        buf.drain(..start);
        self.partial[stream] = buf;
        Ok(())
    }

    /// Writes what is left of unterminated lines (at the end of the output).
    pub fn flush(&mut self) -> std::io::Result<()> {
        for s in 0..2 {
            let rest = std::mem::take(&mut self.partial[s]);
            if !rest.is_empty() {
                self.entry(s, &rest)?;
            }
        }
        Ok(())
    }
}

/// An RFC 3339 time as seconds since the epoch, fraction included.
pub fn time_secs(t: &str) -> Option<f64> {
    let whole = berth_image::time::parse_rfc3339(t)? as f64;
    let frac = t
        .split_once('.')
        .map(|(_, f)| f.trim_end_matches('Z'))
        .filter(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
        .map_or(0.0, |f| format!("0.{f}").parse().unwrap_or(0.0));
    Some(whole + frac)
}

/// Parses `logs --since/--until` as Docker does: a Unix timestamp, a Go duration
/// before `now` (`10m`, `1h30m`, `1.5s`), or an RFC 3339 time. Seconds since the epoch.
pub fn parse_since(s: &str, now: f64) -> Option<f64> {
    if let Ok(ts) = s.parse::<f64>() {
        return Some(ts);
    }
    if let Some(t) = time_secs(s) {
        return Some(t);
    }
    // A Go duration: numbers with units, in sequence.
    let mut total = 0.0;
    let mut rest = s;
    while !rest.is_empty() {
        let n_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let n: f64 = rest[..n_end].parse().ok()?;
        rest = &rest[n_end..];
        let u_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let mult = match &rest[..u_end] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += n * mult;
        rest = &rest[u_end..];
    }
    Some(now - total)
}

/// Reads entries from `path` starting at byte `offset`; returns them and the offset
/// after the last complete line.
pub fn read_from(path: &Path, offset: u64) -> Result<(Vec<Entry>, u64)> {
    use std::io::Seek;
    let mut f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), offset)),
        Err(e) => return Err(io(format!("open log {}", path.display()))(e)),
    };
    f.seek(std::io::SeekFrom::Start(offset))
        .map_err(io("seek log"))?;
    let mut r = std::io::BufReader::new(f);
    let mut out = Vec::new();
    let mut pos = offset;
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = r
            .read_until(b'\n', &mut line)
            .map_err(io(format!("read log {}", path.display())))?;
        if n == 0 || line.last() != Some(&b'\n') {
            break;
        }
        pos += n as u64;
        if let Ok(e) = serde_json::from_slice::<Entry>(&line) {
            out.push(e);
        }
    }
    Ok((out, pos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_split_and_partials_kept() {
        let d = std::env::temp_dir().join(format!("berth-engine-logs-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let p = d.join("x-json.log");
        let mut w = Writer::open(&p, 0, 1).unwrap();
        w.write(0, b"hel").unwrap();
        w.write(1, b"oops\n").unwrap();
        w.write(0, b"lo\nwor").unwrap();
        w.write(0, b"ld").unwrap();
        w.flush().unwrap();
        let (e, off) = read_from(&p, 0).unwrap();
        let got: Vec<(&str, &str)> = e
            .iter()
            .map(|e| (e.stream.as_str(), e.log.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("stderr", "oops\n"),
                ("stdout", "hello\n"),
                ("stdout", "world")
            ]
        );
        assert_eq!(off, std::fs::metadata(&p).unwrap().len());
        assert!(e[0].time.ends_with('Z') && e[0].time.len() > 20);
        let (more, _) = read_from(&p, off).unwrap();
        assert!(more.is_empty());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn rotation_keeps_max_file_files() {
        let d = std::env::temp_dir().join(format!("berth-engine-rotate-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let p = d.join("y-json.log");
        let mut w = Writer::open(&p, 200, 3).unwrap();
        for i in 0..20 {
            w.write(0, format!("line {i}\n").as_bytes()).unwrap();
        }
        let fs = files(&p);
        assert_eq!(fs.len(), 3, "{fs:?}");
        assert!(fs.iter().all(|f| std::fs::metadata(f).unwrap().len() < 300));
        let mut all = Vec::new();
        for f in &fs {
            all.extend(read_from(f, 0).unwrap().0);
        }
        // The newest lines survive, in order.
        assert_eq!(all.last().unwrap().log, "line 19\n");
        let n: Vec<usize> = all
            .iter()
            .map(|e| e.log[5..].trim().parse().unwrap())
            .collect();
        assert!(n.windows(2).all(|w| w[1] == w[0] + 1), "{n:?}");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn since_forms() {
        assert_eq!(parse_since("1700000000", 0.0), Some(1_700_000_000.0));
        assert_eq!(parse_since("1h30m", 10_000.0), Some(10_000.0 - 5400.0));
        assert_eq!(parse_since("1.5s", 10.0), Some(8.5));
        let t = parse_since("2026-01-01T00:00:00.5Z", 0.0).unwrap();
        assert!(
            (t - (berth_image::time::parse_rfc3339("2026-01-01T00:00:00Z").unwrap() as f64 + 0.5))
                .abs()
                < 1e-6
        );
        assert_eq!(parse_since("yesterday", 0.0), None);
    }

    #[test]
    fn go_nano_trims_zeros() {
        assert_eq!(
            go_nano("2026-01-01T00:00:00.120000000Z"),
            "2026-01-01T00:00:00.12Z"
        );
        assert_eq!(
            go_nano("2026-01-01T00:00:00.000000000Z"),
            "2026-01-01T00:00:00Z"
        );
    }
}
