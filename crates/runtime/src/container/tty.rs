//! A foreground `run` with `terminal: true` and no console socket: the runtime takes
//! the container's pty master itself and joins it to its own stdin and stdout,
//! putting a terminal stdin in raw mode for the duration, as `runc run` does.

use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;

use nix::sys::termios::{self, SetArg, Termios};

use crate::error::{Result, io};

/// The runtime's side of a console socket pair, before the container exists.
pub struct Console {
    ours: UnixStream,
    theirs: Option<OwnedFd>,
}

impl Console {
    /// A connected pair: pass [`Console::container_end`] to create.
    pub fn new() -> Result<Console> {
        let (a, b) = UnixStream::pair().map_err(io("console socketpair"))?;
        Ok(Console {
            ours: a,
            theirs: Some(b.into()),
        })
    }

    /// The end the container's init sends its pty master over.
    pub fn container_end(&mut self) -> Option<OwnedFd> {
        self.theirs.take()
    }

    /// Whether create handed the container end to a container (it had a terminal).
    pub fn used(&self) -> bool {
        self.theirs.is_none()
    }

    /// Receives the pty master (after create).
    pub fn master(&self) -> Result<OwnedFd> {
        crate::terminal::recv_fd(self.ours.as_raw_fd())
    }
}

/// Restores the terminal's settings on drop.
pub struct RawMode {
    saved: Option<Termios>,
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(t) = &self.saved {
            let _ = termios::tcsetattr(std::io::stdin().as_fd(), SetArg::TCSANOW, t);
        }
    }
}

/// Copies the pty master to stdout and stdin to the master, in two threads (started
/// after every fork, so threads are safe here). Puts a terminal stdin in raw mode and
/// gives the pty its size. Returns the guard restoring the terminal and the output
/// thread, which ends when the container's side of the pty closes.
pub fn proxy(master: OwnedFd) -> Result<(RawMode, std::thread::JoinHandle<()>)> {
    let stdin = std::io::stdin();
    let saved = termios::tcgetattr(stdin.as_fd()).ok();
    if let Some(t) = &saved {
        let mut raw = t.clone();
        termios::cfmakeraw(&mut raw);
        let _ = termios::tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw);
        if let Some((rows, cols)) = crate::sys::window_size(stdin.as_raw_fd()) {
            let _ = crate::sys::set_window_size(master.as_raw_fd(), rows, cols);
        }
    }
    let guard = RawMode { saved };
    let mut out_side = std::fs::File::from(master.try_clone().map_err(io("dup pty master"))?);
    let mut in_side = std::fs::File::from(master);
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        let mut stdin = std::io::stdin().lock();
        while let Ok(n) = stdin.read(&mut buf) {
            if n == 0 || in_side.write_all(&buf[..n]).is_err() {
                break;
            }
        }
    });
    let out = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        let mut stdout = std::io::stdout();
        // EIO once the last slave descriptor closes: the container is gone.
        while let Ok(n) = out_side.read(&mut buf) {
            if n == 0 || stdout.write_all(&buf[..n]).is_err() {
                break;
            }
            let _ = stdout.flush();
        }
    });
    Ok((guard, out))
}
