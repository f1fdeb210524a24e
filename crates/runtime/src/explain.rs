//! `--explain`: a live trace of every kernel step the runtime takes.
//!
//! Each step is printed as it completes, with the time since the command started and
//! the time the step itself took. The trace crosses `fork`: the start instant and the
//! output descriptor are plain process memory, so the container's init keeps
//! appending to the same trace until `execve` closes the descriptor (it is
//! `O_CLOEXEC`). This makes the trace both the classic explanation of how a container
//! is made and a start-up profiler.

use std::fmt::Write as _;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::time::Instant;

static ENABLED: AtomicBool = AtomicBool::new(false);
static OUT_FD: AtomicI32 = AtomicI32::new(-1);
static START: OnceLock<Instant> = OnceLock::new();
static ROLE: OnceLock<&'static str> = OnceLock::new();
static ROLE_OVERRIDE: AtomicI32 = AtomicI32::new(0);
static JSON: AtomicBool = AtomicBool::new(false);

const ROLES: [&str; 4] = ["runtime", "stage-1", "init", "exec"];

/// Marks the start of the command; times in the trace are relative to it.
pub fn start_clock() {
    let _ = START.get_or_init(Instant::now);
}

/// Turns the trace on, writing to `out` (usually a duplicate of stderr).
pub fn enable(out: OwnedFd) {
    start_clock();
    let _ = ROLE.set(ROLES[0]);
    let fd = out.as_raw_fd();
    std::mem::forget(out);
    OUT_FD.store(fd, Ordering::SeqCst);
    ENABLED.store(true, Ordering::SeqCst);
}

/// Writes the trace as JSON log lines (`{"level":"debug","msg":...}`), for a
/// `--log-format json` log file that engines parse.
pub fn enable_json(out: OwnedFd) {
    JSON.store(true, Ordering::SeqCst);
    enable(out);
}

/// Whether `--explain` is on.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Names the process that emits the following lines: 0 runtime, 1 stage-1,
/// 2 container init, 3 exec'd process. Called right after a fork.
pub fn set_role(role: usize) {
    ROLE_OVERRIDE.store(role.min(ROLES.len() - 1) as i32, Ordering::SeqCst);
}

/// The descriptor the trace writes to, so that the fd-closing step can spare it
/// until exec (it is close-on-exec).
pub fn out_fd() -> Option<i32> {
    let fd = OUT_FD.load(Ordering::Relaxed);
    (fd >= 0).then_some(fd)
}

fn elapsed_ms() -> f64 {
    START.get().map(|s| s.elapsed().as_secs_f64() * 1e3).unwrap_or(0.0)
}

fn emit(line: &str) {
    let fd = OUT_FD.load(Ordering::Relaxed);
    if fd < 0 {
        return;
    }
    let bytes = line.as_bytes();
    let mut off = 0;
    while off < bytes.len() {
        // SAFETY: fd is the descriptor handed to `enable` and never closed by us;
        // the buffer is valid for its length.
        let n = unsafe { libc::write(fd, bytes[off..].as_ptr().cast(), bytes.len() - off) };
        if n <= 0 {
            return;
        }
        off += n as usize;
    }
}

fn line(at: f64, took: Option<f64>, what: &str, outcome: Option<&str>) -> String {
    let role = ROLES[ROLE_OVERRIDE.load(Ordering::Relaxed) as usize];
    let mut s = String::with_capacity(96);
    let _ = write!(s, "{at:9.3} ms ");
    match took {
        Some(t) => {
            let _ = write!(s, "{t:8.3} ms ");
        }
        None => s.push_str("            "),
    }
    let _ = write!(s, "{role:<8} {what}");
    if let Some(o) = outcome {
        let _ = write!(s, " -> {o}");
    }
    s.push('\n');
    if JSON.load(Ordering::Relaxed) {
        let msg = s.trim_end().to_string();
        return serde_json::json!({"level": "debug", "msg": msg}).to_string() + "\n";
    }
    s
}

/// Runs `f` as one traced kernel step described by `what`. With the trace off this is
/// just `f()`: the description is never built.
pub fn step<T, E: std::fmt::Display>(
    what: impl FnOnce() -> String,
    f: impl FnOnce() -> Result<T, E>,
) -> Result<T, E> {
    if !enabled() {
        return f();
    }
    let t0 = elapsed_ms();
    let r = f();
    let t1 = elapsed_ms();
    let what = what();
    match &r {
        Ok(_) => emit(&line(t1, Some(t1 - t0), &what, None)),
        Err(e) => emit(&line(t1, Some(t1 - t0), &what, Some(&format!("failed: {e}")))),
    }
    r
}

/// The current trace time, to pass to [`since`] (for steps such as fork that return
/// twice, where only one side must print).
pub fn mark() -> f64 {
    if enabled() { elapsed_ms() } else { 0.0 }
}

/// Prints a step that started at `started` (from [`mark`]) and ends now.
pub fn since(started: f64, what: impl FnOnce() -> String) {
    if enabled() {
        let now = elapsed_ms();
        emit(&line(now, Some(now - started), &what(), None));
    }
}

/// Records a point in time without a duration (for example "exec /bin/sh" just before
/// the exec, which never returns on success).
pub fn note(what: impl FnOnce() -> String) {
    if enabled() {
        emit(&line(elapsed_ms(), None, &what(), None));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_has_times_role_and_outcome() {
        let l = line(1.5, Some(0.25), "mount proc on /proc", Some("failed: EPERM"));
        assert!(l.starts_with("    1.500 ms    0.250 ms "), "{l}");
        assert!(l.contains("mount proc on /proc -> failed: EPERM"), "{l}");
        assert!(l.ends_with('\n'));
    }

    #[test]
    fn step_without_trace_does_not_build_description() {
        let r: Result<u8, String> = step(|| panic!("description built"), || Ok(7));
        assert_eq!(r.unwrap(), 7);
    }
}
