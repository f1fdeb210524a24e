//! Compiling a config's LinuxSeccomp into BPF with libseccomp. Loading is
//! [`super::program`]'s: libseccomp is only the compiler.
//!
//! The rules follow runc, so that a profile behaves the same under both runtimes:
//! a syscall name this libseccomp or kernel does not know is skipped (profiles list
//! syscalls of newer kernels); a rule whose action is the default action is skipped
//! (libseccomp refuses it, and it would change nothing); the conditions of one rule
//! are ANDed, except that when two conditions test the same argument each becomes a
//! rule of its own (libseccomp cannot AND two tests of one argument, and runc ORs
//! them).

use libseccomp::{ScmpAction, ScmpArgCompare, ScmpFilterContext, ScmpSyscall};
use oci_spec::runtime::{LinuxSeccomp, LinuxSyscall};

use super::{Error, names};

/// Syscall arguments a rule can test: six on every architecture.
const MAX_ARGS: usize = 6;

/// Syscalls the container's init makes between loading a filter and the seccomp
/// agent getting the listener fd.
const NEEDED_AFTER_LOAD: [&str; 2] = ["write", "sendmsg"];

/// Above this many rules libseccomp's binary-tree layout makes the filter faster to
/// run, as runc chooses (libseccomp 2.5 misbehaves with the tree and no rules).
const TREE_THRESHOLD: usize = 32;

/// A filter in libseccomp's rule database, ready to be turned into BPF.
pub struct Filter {
    ctx: ScmpFilterContext,
    notify: bool,
}

impl std::fmt::Debug for Filter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Filter")
            .field("notify", &self.notify)
            .finish()
    }
}

/// Compiles `seccomp` into a filter without loading it. Fails on what the config
/// gets wrong (an errnoRet on an action without one, an argument index above 5,
/// SCMP_ACT_NOTIFY as the default action or without a listenerPath) and on what
/// libseccomp refuses, naming the syscall and the rule.
pub fn compile(seccomp: &LinuxSeccomp) -> Result<Filter, Error> {
    let default = names::action(
        seccomp.default_action(),
        seccomp.default_errno_ret(),
        "the default action",
    )?;
    if default == ScmpAction::Notify {
        // The container's init writes to its parent after loading the filter: with
        // every syscall notified it would wait for an agent that never gets the fd.
        return Err(Error::Config(
            "SCMP_ACT_NOTIFY cannot be the default action".into(),
        ));
    }
    let mut ctx = ScmpFilterContext::new(default).map_err(lib("create the filter"))?;
    for &a in seccomp.architectures().iter().flatten() {
        let token = names::arch(a);
        // The native architecture is always in a new filter; adding it twice fails.
        if !ctx
            .is_arch_present(token)
            .map_err(lib(format!("check architecture {a}")))?
        {
            ctx.add_arch(token)
                .map_err(lib(format!("add architecture {a}")))?;
        }
    }

    let rules = seccomp.syscalls().as_deref().unwrap_or_default();
    if rules.len() > TREE_THRESHOLD {
        // An optimisation only: older libseccomp lacks it and the filter still works.
        let _ = ctx.set_ctl_optimize(2);
    }

    let mut notify = false;
    for rule in rules {
        notify |= add_rule(&mut ctx, rule, default)?;
    }
    if notify && seccomp.listener_path().is_none() {
        return Err(Error::Config(
            "a rule uses SCMP_ACT_NOTIFY but listenerPath is not set".into(),
        ));
    }
    Ok(Filter { ctx, notify })
}

impl Filter {
    /// Whether a rule uses SCMP_ACT_NOTIFY, so that loading yields a listener fd.
    pub fn uses_notify(&self) -> bool {
        self.notify
    }

    /// The filter as classic BPF: `struct sock_filter` records of 8 bytes each, in
    /// native byte order, as the kernel takes them.
    pub fn to_bpf(&self) -> Result<Vec<u8>, Error> {
        use std::io::{Read, Seek};
        let fd = rustix::fs::memfd_create("berth-seccomp-bpf", rustix::fs::MemfdFlags::CLOEXEC)
            .map_err(|e| Error::Sys {
                what: "create a memfd for the bpf export".into(),
                errno: nix::errno::Errno::from_raw(e.raw_os_error()),
            })?;
        self.ctx
            .export_bpf(&fd)
            .map_err(lib("export the filter as bpf"))?;
        let mut file = std::fs::File::from(fd);
        let mut out = Vec::new();
        file.rewind()
            .and_then(|_| file.read_to_end(&mut out))
            .map_err(|e| Error::Io {
                what: "read the exported bpf".into(),
                source: e,
            })?;
        Ok(out)
    }
}

/// Adds one LinuxSyscall entry; returns whether it uses SCMP_ACT_NOTIFY.
fn add_rule(
    ctx: &mut ScmpFilterContext,
    rule: &LinuxSyscall,
    default: ScmpAction,
) -> Result<bool, Error> {
    let Some(first) = rule.names().first() else {
        return Err(Error::Config(format!(
            "a rule with action {} names no syscall",
            rule.action()
        )));
    };
    let what = format!("syscall {first}");
    let action = names::action(rule.action(), rule.errno_ret(), &what)?;
    let args = rule.args().as_deref().unwrap_or_default();
    let mut conditions = Vec::with_capacity(args.len());
    let mut seen = [false; MAX_ARGS];
    let mut same_arg_twice = false;
    for a in args {
        if a.index() >= MAX_ARGS {
            return Err(Error::Config(format!(
                "argument index {} of {what} is out of range (0 to 5)",
                a.index()
            )));
        }
        same_arg_twice |= std::mem::replace(&mut seen[a.index()], true);
        let (op, datum) = names::compare(a.op(), a.value(), a.value_two());
        conditions.push(ScmpArgCompare::new(a.index() as u32, op, datum));
    }
    // Skipped after the checks above, so that a malformed rule is still reported.
    if action == default {
        return Ok(false);
    }
    let notify = action == ScmpAction::Notify;
    let mut added_any = false;
    for name in rule.names() {
        if name.is_empty() {
            return Err(Error::Config(format!(
                "an empty syscall name in a rule with action {}",
                rule.action()
            )));
        }
        // The init hands the listener fd to the runtime after loading the filter
        // (sendmsg) and reports over its channel (write): notifying either would wait
        // for an agent that has no fd yet. runc refuses write for the same reason.
        if notify && NEEDED_AFTER_LOAD.contains(&name.as_str()) {
            return Err(Error::Config(format!(
                "SCMP_ACT_NOTIFY cannot be used for syscall {name}: the container's init \
                 needs it to hand over the listener fd"
            )));
        }
        let Ok(nr) = ScmpSyscall::from_name(name) else {
            // Unknown to this libseccomp: a newer syscall. runc skips it too.
            continue;
        };
        let added = if conditions.is_empty() {
            ctx.add_rule(action, nr)
        } else if same_arg_twice {
            conditions
                .iter()
                .try_for_each(|c| ctx.add_rule_conditional(action, nr, &[*c]).map(drop))
                .map(|()| &mut *ctx)
        } else {
            ctx.add_rule_conditional(action, nr, &conditions)
        };
        added.map_err(|e| Error::Libseccomp {
            what: format!(
                "add rule {} for syscall {name} with {} argument condition(s)",
                rule.action(),
                conditions.len()
            ),
            source: e,
        })?;
        added_any = true;
    }
    Ok(notify && added_any)
}

/// Wraps a libseccomp error with what was attempted.
fn lib(what: impl Into<String>) -> impl FnOnce(libseccomp::error::SeccompError) -> Error {
    let what = what.into();
    move |source| Error::Libseccomp { what, source }
}
