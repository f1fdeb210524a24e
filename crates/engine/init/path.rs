//! The parts of berth-init that need no kernel: where a command is looked for, how
//! exec failures along a PATH search add up, what exit code a wait status and an
//! exec error become. Plain `core`, so the engine's unit tests compile it for the
//! host too (`crate::init::tests`).

/// PATH when the environment has none (Docker's default).
pub const DEFAULT_PATH: &[u8] = b"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// errno values the search and the messages care about (the same on every Linux
/// architecture berth-init builds for).
pub const ENOENT: i32 = 2;
/// Permission denied.
pub const EACCES: i32 = 13;
/// Not a directory.
pub const ENOTDIR: i32 = 20;

/// The value of `PATH=` among `env` entries, or [`DEFAULT_PATH`].
pub fn path_value<'a>(env: impl Iterator<Item = &'a [u8]>) -> &'a [u8] {
    for e in env {
        if let Some(v) = e.strip_prefix(b"PATH=") {
            return v;
        }
    }
    DEFAULT_PATH
}

/// The files a command `name` without a '/' may be, in PATH order: each directory
/// of `path` joined with `name` (an empty entry is the current directory, as
/// execvp reads it).
pub struct Candidates<'a> {
    name: &'a [u8],
    rest: Option<&'a [u8]>,
}

impl<'a> Candidates<'a> {
    /// The search for `name` along `path`.
    pub fn new(name: &'a [u8], path: &'a [u8]) -> Candidates<'a> {
        Candidates {
            name,
            rest: Some(path),
        }
    }

    /// Writes the next candidate into `buf`, NUL-terminated, and returns its length
    /// without the NUL; None when the PATH is done. A candidate longer than `buf`
    /// is skipped, as no exec could open it anyway.
    pub fn next_into(&mut self, buf: &mut [u8]) -> Option<usize> {
        loop {
            let rest = self.rest?;
            let (dir, more) = match rest.iter().position(|&b| b == b':') {
                Some(i) => (&rest[..i], Some(&rest[i + 1..])),
                None => (rest, None),
            };
            self.rest = more;
            let dir: &[u8] = if dir.is_empty() { b"." } else { dir };
            let slash = usize::from(!dir.ends_with(b"/"));
            let len = dir.len() + slash + self.name.len();
            if len + 1 > buf.len() {
                continue;
            }
            buf[..dir.len()].copy_from_slice(dir);
            if slash == 1 {
                buf[dir.len()] = b'/';
            }
            buf[dir.len() + slash..len].copy_from_slice(self.name);
            buf[len] = 0;
            return Some(len);
        }
    }
}

/// How the failures of the execs along a PATH search add up to the one reported,
/// as execvp does: a missing file or directory moves on; permission denied moves
/// on but is remembered; anything else ends the search with that error.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SearchErrors {
    eacces: bool,
    fatal: i32,
}

impl SearchErrors {
    /// Records a failed exec; false when the search stops here.
    pub fn failed(&mut self, errno: i32) -> bool {
        match errno {
            ENOENT | ENOTDIR => true,
            EACCES => {
                self.eacces = true;
                true
            }
            e => {
                self.fatal = e;
                false
            }
        }
    }

    /// The error the search ends with.
    pub fn errno(&self) -> i32 {
        if self.fatal != 0 {
            self.fatal
        } else if self.eacces {
            EACCES
        } else {
            ENOENT
        }
    }
}

/// The exit code for a command that could not be executed: 127 when it does not
/// exist, 126 otherwise (the shell's convention, which Docker's users know).
pub fn exec_failure_code(errno: i32) -> i32 {
    if errno == ENOENT { 127 } else { 126 }
}

/// The exit code a wait status becomes: the child's own code, or 128 plus the
/// signal that killed it.
pub fn exit_code(status: i32) -> i32 {
    let sig = status & 0x7f;
    if sig == 0 {
        (status >> 8) & 0xff
    } else {
        128 + sig
    }
}

/// strerror for the errors an exec can report.
pub fn strerror(errno: i32) -> &'static [u8] {
    match errno {
        1 => b"Operation not permitted",
        ENOENT => b"No such file or directory",
        5 => b"Input/output error",
        7 => b"Argument list too long",
        8 => b"Exec format error",
        12 => b"Cannot allocate memory",
        EACCES => b"Permission denied",
        14 => b"Bad address",
        ENOTDIR => b"Not a directory",
        21 => b"Is a directory",
        22 => b"Invalid argument",
        23 | 24 => b"Too many open files",
        26 => b"Text file busy",
        36 => b"File name too long",
        40 => b"Too many levels of symbolic links",
        _ => b"Unknown error",
    }
}
