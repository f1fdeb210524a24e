//! `berth-runtime`: runc's command line over the berth-runtime library, so that
//! podman, containerd and Docker can use it in runc's place.

use std::io::Write;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};
use berth_runtime::container::OciState;
#[cfg(test)]
use berth_runtime::container::exit_code;
use berth_runtime::{CreateOptions, ExecOptions, Runtime, explain, spec};
use clap::{Parser, Subcommand};
use oci_spec::runtime::{LinuxResources, Process};

/// `--version` in runc's shape ("NAME version X", then "spec: Y"): engines parse it
/// (Docker's `info` splits the first line at "version"; podman shows it as is).
fn version_text() -> &'static str {
    let text = format!("version {}\nspec: {}", env!("CARGO_PKG_VERSION"), spec::OCI_VERSION);
    Box::leak(text.into_boxed_str())
}

#[derive(Parser)]
#[command(
    name = "berth-runtime",
    version = version_text(),
    about = "berth's OCI runtime: runs containers from bundles, with runc's command line"
)]
struct Cli {
    /// Root directory for container state
    #[arg(long, global = true, env = "BERTH_RUNTIME_ROOT")]
    root: Option<PathBuf>,
    /// Log file (errors are written there too, as runc's --log)
    #[arg(long, global = true)]
    log: Option<PathBuf>,
    /// Log format: text or json
    #[arg(long = "log-format", global = true, default_value = "text")]
    log_format: String,
    /// Debug logging: the trace of kernel steps (as --explain) into --log or stderr
    #[arg(long, global = true)]
    debug: bool,
    /// cgroupsPath is slice:prefix:name (systemd style), mapped onto cgroupfs
    #[arg(long = "systemd-cgroup", global = true)]
    systemd_cgroup: bool,
    /// Accepted for runc compatibility; rootless mode is detected
    #[arg(long = "rootless", id = "global_rootless", hide = true)]
    rootless: Option<String>,
    /// Accepted for runc compatibility
    #[arg(long, hide = true)]
    criu: Option<String>,
    /// Print every kernel step with its time (the live anatomy of a container)
    #[arg(long, global = true)]
    explain: bool,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(clap::Args, Clone)]
struct CreateArgs {
    /// Bundle directory
    #[arg(short, long, default_value = ".")]
    bundle: PathBuf,
    /// File to write the container's pid to
    #[arg(long = "pid-file")]
    pid_file: Option<PathBuf>,
    /// Unix socket to receive the pty master
    #[arg(long = "console-socket")]
    console_socket: Option<PathBuf>,
    /// Use MS_MOVE + chroot instead of pivot_root
    #[arg(long = "no-pivot")]
    no_pivot: bool,
    /// Do not create a session keyring
    #[arg(long = "no-new-keyring")]
    no_new_keyring: bool,
    /// Pass this many extra descriptors (from 3) to the container
    #[arg(long = "preserve-fds", default_value_t = 0)]
    preserve_fds: u32,
    /// Container id
    id: String,
}

#[derive(Subcommand)]
enum Cmd {
    /// Create a container (its process waits for `start`)
    Create(CreateArgs),
    /// Start a created container
    Start { id: String },
    /// Create and start a container, and wait for it unless --detach
    Run {
        #[command(flatten)]
        c: CreateArgs,
        /// Detach from the container's process
        #[arg(short, long)]
        detach: bool,
        /// Keep the container after it exits
        #[arg(long)]
        keep: bool,
    },
    /// Print the container's state (OCI state JSON)
    State { id: String },
    /// Send a signal to the container's init (default SIGTERM)
    Kill {
        /// Send to every process of the container
        #[arg(short, long)]
        all: bool,
        id: String,
        signal: Option<String>,
    },
    /// Delete a container
    Delete {
        /// Kill a running container first
        #[arg(short, long)]
        force: bool,
        id: String,
    },
    /// List containers
    List {
        /// table or json
        #[arg(short, long, default_value = "table")]
        format: String,
        /// Only ids
        #[arg(short, long)]
        quiet: bool,
    },
    /// Show the container's processes
    Ps {
        /// table or json
        #[arg(short, long, default_value = "table")]
        format: String,
        id: String,
        /// Options for ps(1)
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        ps_args: Vec<String>,
    },
    /// Run a process in a running container
    Exec(ExecArgs),
    /// Freeze all processes of a container
    Pause { id: String },
    /// Thaw a paused container
    Resume { id: String },
    /// Change a container's resource limits
    Update(UpdateArgs),
    /// Print resource statistics
    Events {
        /// One statistics event, then exit
        #[arg(long)]
        stats: bool,
        /// Interval between events
        #[arg(long, default_value = "5s")]
        interval: String,
        id: String,
    },
    /// Print the runtime's features (OCI features JSON)
    Features,
    /// Write a default config.json
    Spec {
        /// Bundle directory
        #[arg(short, long)]
        bundle: Option<PathBuf>,
        /// A config for an unprivileged user (user namespace, no network namespace)
        #[arg(long)]
        rootless: bool,
    },
}

#[derive(clap::Args)]
struct ExecArgs {
    /// JSON file with the process to run
    #[arg(short, long)]
    process: Option<PathBuf>,
    /// Allocate a terminal
    #[arg(short, long)]
    tty: bool,
    /// Detach
    #[arg(short, long)]
    detach: bool,
    /// File to write the process's pid to
    #[arg(long = "pid-file")]
    pid_file: Option<PathBuf>,
    /// Unix socket to receive the pty master
    #[arg(long = "console-socket")]
    console_socket: Option<PathBuf>,
    /// Environment variables (KEY=VALUE)
    #[arg(short, long)]
    env: Vec<String>,
    /// Working directory in the container
    #[arg(long)]
    cwd: Option<PathBuf>,
    /// uid[:gid]
    #[arg(short, long)]
    user: Option<String>,
    /// Additional gids
    #[arg(short = 'g', long = "additional-gids")]
    additional_gids: Vec<u32>,
    /// Add a capability
    #[arg(short, long)]
    cap: Vec<String>,
    /// Set no_new_privs
    #[arg(long = "no-new-privs")]
    no_new_privs: bool,
    /// Pass this many extra descriptors (from 3)
    #[arg(long = "preserve-fds", default_value_t = 0)]
    preserve_fds: u32,
    /// Accepted for runc compatibility
    #[arg(long = "process-label", hide = true)]
    process_label: Option<String>,
    /// Accepted for runc compatibility
    #[arg(long, hide = true)]
    apparmor: Option<String>,
    id: String,
    /// Command and arguments
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

#[derive(clap::Args)]
struct UpdateArgs {
    /// JSON file with LinuxResources ("-" for stdin)
    #[arg(short, long)]
    resources: Option<PathBuf>,
    #[arg(long = "blkio-weight")]
    blkio_weight: Option<u16>,
    #[arg(long = "cpu-period")]
    cpu_period: Option<u64>,
    #[arg(long = "cpu-quota")]
    cpu_quota: Option<i64>,
    #[arg(long = "cpu-share")]
    cpu_share: Option<u64>,
    #[arg(long = "cpu-rt-period")]
    cpu_rt_period: Option<u64>,
    #[arg(long = "cpu-rt-runtime")]
    cpu_rt_runtime: Option<i64>,
    #[arg(long = "cpuset-cpus")]
    cpuset_cpus: Option<String>,
    #[arg(long = "cpuset-mems")]
    cpuset_mems: Option<String>,
    #[arg(long)]
    memory: Option<String>,
    #[arg(long = "memory-reservation")]
    memory_reservation: Option<String>,
    #[arg(long = "memory-swap")]
    memory_swap: Option<String>,
    #[arg(long = "pids-limit")]
    pids_limit: Option<i64>,
    /// Accepted for runc compatibility (kernel memory limits are gone)
    #[arg(long = "kernel-memory", hide = true)]
    kernel_memory: Option<String>,
    id: String,
}

fn default_root() -> PathBuf {
    if nix::unistd::geteuid().is_root() {
        PathBuf::from("/run/berth-runtime")
    } else {
        let base = std::env::var_os("XDG_RUNTIME_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir);
        base.join("berth-runtime")
    }
}

fn main() -> ExitCode {
    explain::start_clock();
    let cli = Cli::parse();
    if cli.explain {
        // A duplicate of stderr, close-on-exec, that the forked processes share.
        match nix::fcntl::fcntl(std::io::stderr(), nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(3)) {
            // SAFETY: F_DUPFD_CLOEXEC returned a new descriptor that we own.
            Ok(fd) => explain::enable(unsafe { OwnedFd::from_raw_fd(fd) }),
            Err(e) => eprintln!("berth-runtime: --explain unavailable: {e}"),
        }
    } else if cli.debug {
        // --debug: the same step trace, into the log file when there is one (engines
        // such as containerd read it from there), else to stderr.
        let out = match &cli.log {
            Some(p) => std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .ok()
                .map(OwnedFd::from),
            None => nix::fcntl::fcntl(std::io::stderr(), nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(3))
                .ok()
                // SAFETY: F_DUPFD_CLOEXEC returned a new descriptor that we own.
                .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }),
        };
        match out {
            Some(fd) if cli.log.is_some() && cli.log_format == "json" => explain::enable_json(fd),
            Some(fd) => explain::enable(fd),
            None => {}
        }
    }
    let log = cli.log.clone();
    let json = cli.log_format == "json";
    match run(cli) {
        Ok(code) => ExitCode::from(code as u8),
        Err(e) => {
            let msg = error_text(&e);
            eprintln!("berth-runtime: {msg}");
            if let Some(path) = log {
                log_error(&path, json, &msg);
            }
            ExitCode::from(1)
        }
    }
}

/// The error and its causes, leaving out a cause whose words the message already
/// says (library errors spell out their io cause: "mkdir x: permission denied").
fn error_text(e: &anyhow::Error) -> String {
    let mut msg = e.to_string();
    for cause in e.chain().skip(1) {
        let text = cause.to_string();
        let bare = text.split(" (os error").next().unwrap_or(&text).to_lowercase();
        if !msg.to_lowercase().contains(&bare) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
    }
    msg
}

fn log_error(path: &Path, json: bool, msg: &str) {
    let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(path) else {
        return;
    };
    let time = berth_runtime::state::now_rfc3339();
    let line = if json {
        serde_json::json!({"level": "error", "msg": msg, "time": time}).to_string()
    } else {
        format!("time={time:?} level=error msg={msg:?}")
    };
    let _ = writeln!(f, "{line}");
}

fn print_json_indented<T: serde::Serialize>(v: &T) -> Result<()> {
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"  ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    v.serialize(&mut ser)?;
    out.push(b'\n');
    std::io::stdout().write_all(&out)?;
    Ok(())
}

fn create_options(c: &CreateArgs) -> CreateOptions {
    CreateOptions {
        id: c.id.clone(),
        bundle: c.bundle.clone(),
        pid_file: c.pid_file.clone(),
        console_socket: c.console_socket.clone(),
        no_pivot: c.no_pivot,
        no_new_keyring: c.no_new_keyring,
        preserve_fds: c.preserve_fds,
    }
}

fn run(cli: Cli) -> Result<i32> {
    let root = cli.root.clone().unwrap_or_else(default_root);
    if let Cmd::Spec { bundle, rootless } = &cli.cmd {
        return write_spec(bundle.as_deref(), *rootless).map(|_| 0);
    }
    if let Cmd::Features = &cli.cmd {
        print_json_indented(&features())?;
        return Ok(0);
    }
    let rt = Runtime::new(&root, cli.systemd_cgroup)?;
    match cli.cmd {
        Cmd::Create(c) => {
            rt.create(&create_options(&c))?;
            Ok(0)
        }
        Cmd::Start { id } => {
            rt.start(&id)?;
            Ok(0)
        }
        Cmd::Run { c, detach, keep } => {
            let o = create_options(&c);
            if !detach {
                berth_runtime::container::prepare_foreground();
            }
            // A foreground run with a terminal and no console socket proxies the
            // container's pty itself.
            let mut console = None;
            if !detach && o.console_socket.is_none() {
                console = Some(berth_runtime::container::Console::new()?);
            }
            let pid = rt.create_with_console(&o, console.as_mut())?;
            let mut tty = None;
            if let Some(c) = console.as_ref().filter(|c| c.used()) {
                match c.master().and_then(berth_runtime::container::proxy) {
                    Ok(t) => tty = Some(t),
                    Err(e) => {
                        let _ = rt.delete(&o.id, true);
                        return Err(e.into());
                    }
                }
            }
            if let Err(e) = rt.start(&o.id) {
                let _ = rt.delete(&o.id, true);
                return Err(e.into());
            }
            if detach {
                return Ok(0);
            }
            let code = berth_runtime::container::wait_foreground(pid);
            if let Some((restore, output)) = tty {
                let _ = output.join();
                drop(restore);
            }
            if !keep {
                rt.delete(&o.id, true)?;
            }
            Ok(code)
        }
        Cmd::State { id } => {
            print_json_indented(&rt.state(&id)?)?;
            Ok(0)
        }
        Cmd::Kill { all, id, signal } => {
            let sig = berth_runtime::container::parse_signal(signal.as_deref().unwrap_or("SIGTERM"))?;
            rt.kill(&id, sig, all)?;
            Ok(0)
        }
        Cmd::Delete { force, id } => {
            rt.delete(&id, force)?;
            Ok(0)
        }
        Cmd::List { format, quiet } => {
            let list = rt.list()?;
            if quiet {
                for s in &list {
                    println!("{}", s.id);
                }
            } else if format == "json" {
                println!("{}", serde_json::to_string(&list)?);
            } else {
                print_table(&list);
            }
            Ok(0)
        }
        Cmd::Ps { format, id, ps_args } => {
            let pids = rt.pids(&id)?;
            if format == "json" {
                println!("{}", serde_json::to_string(&pids)?);
                return Ok(0);
            }
            let args = if ps_args.is_empty() { vec!["-ef".to_string()] } else { ps_args };
            let out = std::process::Command::new("ps")
                .args(&args)
                .output()
                .context("cannot run ps")?;
            let text = String::from_utf8_lossy(&out.stdout);
            let mut lines = text.lines();
            let header = lines.next().unwrap_or_default();
            let col = header
                .split_whitespace()
                .position(|h| h == "PID")
                .ok_or_else(|| anyhow!("ps output has no PID column"))?;
            println!("{header}");
            for l in lines {
                if let Some(p) = l.split_whitespace().nth(col).and_then(|p| p.parse::<i32>().ok())
                    && pids.contains(&p)
                {
                    println!("{l}");
                }
            }
            Ok(0)
        }
        Cmd::Exec(e) => exec(&rt, e),
        Cmd::Pause { id } => {
            rt.pause(&id)?;
            Ok(0)
        }
        Cmd::Resume { id } => {
            rt.resume(&id)?;
            Ok(0)
        }
        Cmd::Update(u) => {
            let r = update_resources(&u)?;
            rt.update(&u.id, &r)?;
            Ok(0)
        }
        Cmd::Events { stats, interval, id } => {
            let every = parse_duration(&interval)?;
            let mut first = true;
            loop {
                match rt.stats_event(&id) {
                    Ok(ev) => println!("{ev}"),
                    // The stream ends when the container does (an error only if it
                    // was not running to begin with).
                    Err(berth_runtime::Error::WrongState(_)) if !first => return Ok(0),
                    Err(e) => return Err(e.into()),
                }
                if stats {
                    return Ok(0);
                }
                first = false;
                std::thread::sleep(every);
            }
        }
        Cmd::Spec { .. } | Cmd::Features => unreachable!("handled above"),
    }
}

fn print_table(list: &[OciState]) {
    let rows: Vec<[String; 6]> = std::iter::once([
        "ID".to_string(),
        "PID".into(),
        "STATUS".into(),
        "BUNDLE".into(),
        "CREATED".into(),
        "OWNER".into(),
    ])
    .chain(list.iter().map(|s| {
        [
            s.id.clone(),
            s.pid.to_string(),
            s.status.to_string(),
            s.bundle.display().to_string(),
            s.created.clone(),
            s.owner.clone(),
        ]
    }))
    .collect();
    let mut widths = [0usize; 6];
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.len());
        }
    }
    for r in &rows {
        let mut line = String::new();
        for (i, c) in r.iter().enumerate() {
            if i == 5 {
                line.push_str(c);
            } else {
                line.push_str(&format!("{c:<w$}   ", w = widths[i]));
            }
        }
        println!("{}", line.trim_end());
    }
}

fn write_spec(bundle: Option<&Path>, rootless: bool) -> Result<()> {
    let dir = bundle.map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
    let path = dir.join("config.json");
    if path.exists() {
        bail!("File {} exists. Remove it first", path.display());
    }
    let v = spec::default_config(rootless);
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"\t");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    serde::Serialize::serialize(&v, &mut ser)?;
    std::fs::write(&path, out).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

fn exec(rt: &Runtime, e: ExecArgs) -> Result<i32> {
    let process: Process = match &e.process {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read process file {}", p.display()))?;
            serde_json::from_str(&text)
                .with_context(|| format!("{} is not a valid OCI process", p.display()))?
        }
        None => {
            if e.command.is_empty() {
                bail!("exec needs a command, or --process FILE");
            }
            let mut p = rt.config_process(&e.id)?;
            p.set_args(Some(e.command.clone()));
            p.set_terminal(Some(e.tty));
            p.set_console_size(None);
            let mut env = p.env().clone().unwrap_or_default();
            env.extend(e.env.iter().cloned());
            p.set_env(Some(env));
            if let Some(cwd) = &e.cwd {
                p.set_cwd(cwd.clone());
            }
            if let Some(u) = &e.user {
                let (uid, gid) = match u.split_once(':') {
                    Some((a, b)) => (a.parse()?, b.parse()?),
                    None => (u.parse()?, 0),
                };
                let user = p.user_mut();
                user.set_uid(uid);
                user.set_gid(gid);
            }
            if !e.additional_gids.is_empty() {
                p.user_mut().set_additional_gids(Some(e.additional_gids.clone()));
            }
            if e.no_new_privs {
                p.set_no_new_privileges(Some(true));
            }
            if !e.cap.is_empty() {
                let mut caps = p.capabilities().clone().unwrap_or_default();
                let add: Vec<oci_spec::runtime::Capability> = e
                    .cap
                    .iter()
                    .map(|c| {
                        let n = c.to_ascii_uppercase();
                        let n = n.strip_prefix("CAP_").unwrap_or(&n).to_string();
                        n.parse().map_err(|_| anyhow!("unknown capability {c}"))
                    })
                    .collect::<Result<_>>()?;
                for set in [
                    caps.bounding().clone(),
                    caps.effective().clone(),
                    caps.permitted().clone(),
                ]
                .iter()
                .enumerate()
                {
                    let mut s = set.1.clone().unwrap_or_default();
                    s.extend(add.iter().copied());
                    match set.0 {
                        0 => caps.set_bounding(Some(s)),
                        1 => caps.set_effective(Some(s)),
                        _ => caps.set_permitted(Some(s)),
                    };
                }
                p.set_capabilities(Some(caps));
            }
            p
        }
    };
    let o = ExecOptions {
        pid_file: e.pid_file,
        console_socket: e.console_socket,
        preserve_fds: e.preserve_fds,
        detach: e.detach,
    };
    let r = rt.exec(&e.id, &process, &o)?;
    Ok(if e.detach { 0 } else { r })
}

/// Parses runc's size values: bytes, or with k/m/g (binary) suffix; -1 = unlimited.
fn parse_size(s: &str) -> Result<i64> {
    let t = s.trim().to_ascii_lowercase();
    if t == "-1" {
        return Ok(-1);
    }
    let (num, mul) = match t.trim_end_matches('b').chars().last() {
        Some('k') => (&t[..t.find('k').unwrap()], 1i64 << 10),
        Some('m') => (&t[..t.find('m').unwrap()], 1 << 20),
        Some('g') => (&t[..t.find('g').unwrap()], 1 << 30),
        _ => (t.trim_end_matches('b'), 1),
    };
    let n: i64 = num
        .parse()
        .map_err(|_| anyhow!("invalid size {s:?}: a number of bytes, optionally with k, m or g"))?;
    Ok(n * mul)
}

fn parse_duration(s: &str) -> Result<std::time::Duration> {
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(s.len()));
    let n: f64 = num.parse().map_err(|_| anyhow!("invalid interval {s:?}"))?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1e3,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => bail!("invalid interval {s:?}: use s, ms, m or h"),
    };
    Ok(std::time::Duration::from_secs_f64(secs))
}

fn update_resources(u: &UpdateArgs) -> Result<LinuxResources> {
    if let Some(p) = &u.resources {
        let text = if p == Path::new("-") {
            std::io::read_to_string(std::io::stdin())?
        } else {
            std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?
        };
        return serde_json::from_str(&text).context("invalid resources JSON");
    }
    let mut r = LinuxResources::default();
    let mut mem = oci_spec::runtime::LinuxMemory::default();
    let mut mem_set = false;
    if let Some(m) = &u.memory {
        mem.set_limit(Some(parse_size(m)?));
        mem_set = true;
    }
    if let Some(m) = &u.memory_reservation {
        mem.set_reservation(Some(parse_size(m)?));
        mem_set = true;
    }
    if let Some(m) = &u.memory_swap {
        mem.set_swap(Some(parse_size(m)?));
        mem_set = true;
    }
    if mem_set {
        r.set_memory(Some(mem));
    }
    let mut cpu = oci_spec::runtime::LinuxCpu::default();
    let mut cpu_set = false;
    if let Some(v) = u.cpu_share {
        cpu.set_shares(Some(v));
        cpu_set = true;
    }
    if let Some(v) = u.cpu_quota {
        cpu.set_quota(Some(v));
        cpu_set = true;
    }
    if let Some(v) = u.cpu_period {
        cpu.set_period(Some(v));
        cpu_set = true;
    }
    if let Some(v) = u.cpu_rt_period {
        cpu.set_realtime_period(Some(v));
        cpu_set = true;
    }
    if let Some(v) = u.cpu_rt_runtime {
        cpu.set_realtime_runtime(Some(v));
        cpu_set = true;
    }
    if let Some(v) = &u.cpuset_cpus {
        cpu.set_cpus(Some(v.clone()));
        cpu_set = true;
    }
    if let Some(v) = &u.cpuset_mems {
        cpu.set_mems(Some(v.clone()));
        cpu_set = true;
    }
    if cpu_set {
        r.set_cpu(Some(cpu));
    }
    if let Some(v) = u.pids_limit {
        let mut p = oci_spec::runtime::LinuxPids::default();
        p.set_limit(v);
        r.set_pids(Some(p));
    }
    if let Some(w) = u.blkio_weight {
        let mut b = oci_spec::runtime::LinuxBlockIo::default();
        b.set_weight(Some(w));
        r.set_block_io(Some(b));
    }
    Ok(r)
}

fn features() -> serde_json::Value {
    serde_json::json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": spec::OCI_VERSION,
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "mountOptions": ["async", "atime", "bind", "defaults", "dev", "diratime", "dirsync",
            "exec", "iversion", "lazytime", "loud", "mand", "noatime", "nodev", "nodiratime",
            "noexec", "noiversion", "nolazytime", "nomand", "norelatime", "nostrictatime",
            "nosuid", "nosymfollow", "private", "rbind", "rdev", "relatime", "remount", "ro",
            "rprivate", "rshared", "rslave", "runbindable", "rw", "shared", "silent", "slave",
            "strictatime", "suid", "symfollow", "sync", "unbindable"],
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"],
            "capabilities": berth_runtime::capabilities::all_names(),
            "cgroup": {"v1": true, "v2": true, "systemd": false, "systemdUser": false, "rdma": false},
            "seccomp": {
                "enabled": true,
                "actions": ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
                    "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"],
                "operators": ["SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT",
                    "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"],
                "archs": ["SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32"],
                "knownFlags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_LOG"],
                "supportedFlags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_LOG"]
            },
            "apparmor": {"enabled": false},
            "selinux": {"enabled": false},
            "intelRdt": {"enabled": false},
            "mountExtensions": {"idmap": {"enabled": false}}
        },
        "annotations": {"org.berth.runtime.version": env!("CARGO_PKG_VERSION")}
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations() {
        assert_eq!(parse_size("64m").unwrap(), 64 << 20);
        assert_eq!(parse_size("1024").unwrap(), 1024);
        assert_eq!(parse_size("2G").unwrap(), 2 << 30);
        assert_eq!(parse_size("-1").unwrap(), -1);
        assert!(parse_size("4x").is_err());
        assert_eq!(parse_duration("5s").unwrap().as_secs(), 5);
        assert_eq!(parse_duration("250ms").unwrap().as_millis(), 250);
        assert!(parse_duration("3y").is_err());
    }

    #[test]
    fn exit_code_of_signal_is_128_plus() {
        use nix::sys::wait::WaitStatus;
        let p = nix::unistd::Pid::from_raw(1);
        assert_eq!(exit_code(WaitStatus::Signaled(p, nix::sys::signal::SIGKILL, false)), Some(137));
        assert_eq!(exit_code(WaitStatus::Exited(p, 7)), Some(7));
    }
}
