//! OCI lifecycle hooks: programs the config names, run at fixed points of the
//! container's life with the container's state JSON on their stdin.
//!
//! Where each kind runs (OCI runtime spec, config.md#posix-platform-hooks):
//! - `prestart` (deprecated) and `createRuntime`: by the runtime, in its own
//!   namespaces, once the container's namespaces and mounts exist, before pivot_root;
//! - `createContainer`: by the container's init, in the container's namespaces,
//!   before pivot_root;
//! - `startContainer`: by init after `start`, before the user's process execs;
//! - `poststart`: by `start` once the process runs (a failure is only a warning);
//! - `poststop`: by `delete` after the container is gone (a failure is only a
//!   warning).

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use oci_spec::runtime::{ContainerState, Hook, Hooks, Spec, State};

use crate::error::{Error, Result};
use crate::explain::step;

/// The kinds of hook, in lifecycle order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Deprecated prestart.
    Prestart,
    /// createRuntime.
    CreateRuntime,
    /// createContainer.
    CreateContainer,
    /// startContainer.
    StartContainer,
    /// poststart.
    Poststart,
    /// poststop.
    Poststop,
}

impl Kind {
    /// The spec's name of the kind.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Prestart => "prestart",
            Kind::CreateRuntime => "createRuntime",
            Kind::CreateContainer => "createContainer",
            Kind::StartContainer => "startContainer",
            Kind::Poststart => "poststart",
            Kind::Poststop => "poststop",
        }
    }

    fn of(self, h: &Hooks) -> Option<&Vec<Hook>> {
        match self {
            Kind::Prestart => h.prestart().as_ref(),
            Kind::CreateRuntime => h.create_runtime().as_ref(),
            Kind::CreateContainer => h.create_container().as_ref(),
            Kind::StartContainer => h.start_container().as_ref(),
            Kind::Poststart => h.poststart().as_ref(),
            Kind::Poststop => h.poststop().as_ref(),
        }
    }
}

/// The hooks of `kind` in a config (empty when none).
pub fn list(spec: &Spec, kind: Kind) -> &[Hook] {
    spec.hooks()
        .as_ref()
        .and_then(|h| kind.of(h))
        .map_or(&[], Vec::as_slice)
}

/// Whether the config has any hook of the given kinds.
pub fn any(spec: &Spec, kinds: &[Kind]) -> bool {
    kinds.iter().any(|k| !list(spec, *k).is_empty())
}

/// The container's state, as hooks and the seccomp agent are given it.
pub fn state(id: &str, status: ContainerState, pid: i32, bundle: &std::path::Path, spec: &Spec) -> State {
    let mut s = State::default();
    s.set_version(crate::spec::OCI_VERSION.into());
    s.set_id(id.into());
    s.set_status(status);
    s.set_pid(Some(pid));
    s.set_bundle(bundle.to_path_buf());
    s.set_annotations(Some(spec.annotations().clone().unwrap_or_default()));
    s
}

/// The state document a hook reads on stdin ([`state`] as JSON).
pub fn state_json(id: &str, status: ContainerState, pid: i32, bundle: &std::path::Path, spec: &Spec) -> String {
    // Through a JSON value, whose object keys are written in a fixed order.
    serde_json::to_value(state(id, status, pid, bundle, spec))
        .expect("a container state is plain data")
        .to_string()
}

/// Runs every hook of `kind` in order, each with `state` on stdin, stopping at the
/// first failure (non-zero exit, or its timeout passing: it is then killed).
pub fn run(spec: &Spec, kind: Kind, state: &str) -> Result<()> {
    for h in list(spec, kind) {
        step(
            || format!("{} hook {}", kind.name(), h.path().display()),
            || run_one(h, kind, state),
        )?;
    }
    Ok(())
}

/// Runs the hooks of a kind whose failure is only a warning (poststart, poststop).
/// Every hook runs: the runtime spec's lifecycle says a failing one is logged and
/// "the remaining hooks and lifecycle continue as if the hook had succeeded".
pub fn run_warn(spec: &Spec, kind: Kind, state: &str) {
    for h in list(spec, kind) {
        let r = step(
            || format!("{} hook {}", kind.name(), h.path().display()),
            || run_one(h, kind, state),
        );
        if let Err(e) = r {
            eprintln!("berth-runtime: warning: {e}");
        }
    }
}

fn run_one(h: &Hook, kind: Kind, state: &str) -> Result<()> {
    let path = h.path();
    let args = h.args().clone().unwrap_or_default();
    let mut cmd = Command::new(path);
    // args[0] is the program's own name as the hook wants to see it.
    if let Some(first) = args.first() {
        std::os::unix::process::CommandExt::arg0(&mut cmd, first);
        cmd.args(&args[1..]);
    }
    cmd.env_clear();
    for e in h.env().iter().flatten() {
        if let Some((k, v)) = e.split_once('=') {
            cmd.env(k, v);
        }
    }
    let what = format!("{} hook {}", kind.name(), path.display());
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| Error::Init(format!("{what}: cannot run: {}", crate::error::io_text(&e))))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its stdin must not make us fail.
        let _ = stdin.write_all(state.as_bytes());
    }
    let deadline = h
        .timeout()
        .filter(|t| *t > 0)
        .map(|t| Instant::now() + Duration::from_secs(t as u64));
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                if status.success() {
                    return Ok(());
                }
                return Err(Error::Init(format!("{what} failed: {status}")));
            }
            Ok(None) => {}
            Err(e) => return Err(Error::Init(format!("{what}: wait: {e}"))),
        }
        if deadline.is_some_and(|d| Instant::now() > d) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error::Init(format!(
                "{what} timed out after {}s",
                h.timeout().unwrap_or(0)
            )));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_json_is_the_oci_state_document() {
        let spec: Spec = serde_json::from_str(
            r#"{"ociVersion": "1.0.2", "annotations": {"a": "b"}}"#,
        )
        .unwrap();
        let bundle = std::path::Path::new("/b");
        let expected = serde_json::json!({
            "ociVersion": crate::spec::OCI_VERSION,
            "id": "c1",
            "status": "creating",
            "pid": 42,
            "bundle": bundle,
            "annotations": {"a": "b"},
        })
        .to_string();
        assert_eq!(state_json("c1", ContainerState::Creating, 42, bundle, &spec), expected);
        let stopped = state_json("c1", ContainerState::Stopped, 0, bundle, &Spec::default());
        assert!(stopped.contains(r#""pid":0"#) && stopped.contains(r#""annotations":{}"#), "{stopped}");
        assert!(stopped.contains(r#""status":"stopped""#), "{stopped}");
    }
}
