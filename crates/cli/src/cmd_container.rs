//! Container commands with docker's flags, output and exit codes: run, create,
//! start, stop, kill, rm, ps, logs, exec, inspect, wait (also under `container`),
//! and the hidden `__monitor` that `run` and `start` re-execute berth as.

use std::io::Write;
use std::os::fd::AsFd;
use std::path::Path;

use berth_engine::exec::ExecOptions;
use berth_engine::options::{CreateOptions, parse_cpus, parse_memory};
use berth_engine::record::{Container, Status, ZERO_TIME};
use berth_engine::{Engine, logs};
use berth_network::DEFAULT_NETWORK;
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use crate::template::{inspect_template, print_docs, print_rows, tabwrite};
use crate::units::{human_duration, now_secs, since};
use crate::{CmdResult, Fail};

/// A failure of `run`/`create`/`start -a` in docker's words: `berth: Error response
/// from daemon: ...`, with 125 (or 126/127 when the command cannot run).
fn run_fail(e: berth_engine::Error) -> Fail {
    let code = e.run_exit_code();
    let text = e.to_string();
    let text = text.trim_end_matches('.');
    // Docker ends the sentence, and points at the help for its own (125) failures.
    let help = if code == 125 {
        "\nSee 'berth run --help'."
    } else {
        ""
    };
    Fail {
        code: code as u8,
        message: format!("berth: Error response from daemon: {text}.{help}"),
    }
}

/// The container commands, flattened into berth's top level.
#[derive(Subcommand)]
pub enum ContainerCmds {
    /// Create and run a new container from an image
    Run(RunArgs),
    /// Create a new container
    Create(CreateArgs),
    /// Start one or more stopped containers
    Start(StartArgs),
    /// Stop one or more running containers
    Stop(StopArgs),
    /// Kill one or more running containers
    Kill(KillArgs),
    /// Remove one or more containers
    Rm(RmArgs),
    /// List containers
    Ps(PsArgs),
    /// Fetch the logs of a container
    Logs(LogsArgs),
    /// Execute a command in a running container
    Exec(ExecArgs),
    /// Block until one or more containers stop, then print their exit codes
    Wait(WaitArgs),
    /// Pause all processes within one or more containers
    Pause(NamesArgs),
    /// Unpause all processes within one or more containers
    Unpause(NamesArgs),
    /// Rename a container
    Rename(RenameArgs),
    /// Restart one or more containers
    Restart(StopArgs),
    /// Display the running processes of a container
    Top(TopArgs),
    /// Display a live stream of container(s) resource usage statistics
    Stats(StatsArgs),
    /// Inspect changes to files or directories on a container's filesystem
    Diff(OneArg),
    /// Export a container's filesystem as a tar archive
    Export(ExportArgs),
    /// List port mappings or a specific mapping for the container
    Port(PortArgs),
    /// Copy files/folders between a container and the local filesystem
    Cp(CpArgs),
    /// Update configuration of one or more containers
    Update(UpdateArgs),
    /// Create a new image from a container's changes
    Commit(CommitArgs),
    /// Attach local standard input, output, and error streams to a running container
    Attach(AttachArgs),
    /// Return low-level information on Docker objects
    Inspect(crate::cmd_inspect::ObjectInspectArgs),
    /// Manage containers
    Container {
        #[command(subcommand)]
        cmd: ContainerSub,
    },
    /// Manage volumes
    Volume {
        #[command(subcommand)]
        cmd: crate::cmd_volume::VolumeCmd,
    },
    /// Manage networks
    Network {
        #[command(subcommand)]
        cmd: crate::cmd_network::NetworkCmd,
    },
    /// Runs a container's monitor (internal)
    #[command(name = "__monitor", hide = true)]
    Monitor(MonitorArgs),
}

/// `berth container ...`.
#[derive(Subcommand)]
pub enum ContainerSub {
    /// Create and run a new container from an image
    Run(RunArgs),
    /// Create a new container
    Create(CreateArgs),
    /// Start one or more stopped containers
    Start(StartArgs),
    /// Stop one or more running containers
    Stop(StopArgs),
    /// Kill one or more running containers
    Kill(KillArgs),
    /// Remove one or more containers
    #[command(alias = "remove")]
    Rm(RmArgs),
    /// List containers
    #[command(alias = "ps", alias = "list")]
    Ls(PsArgs),
    /// Fetch the logs of a container
    Logs(LogsArgs),
    /// Execute a command in a running container
    Exec(ExecArgs),
    /// Block until one or more containers stop, then print their exit codes
    Wait(WaitArgs),
    /// Display detailed information on one or more containers
    Inspect(InspectArgs),
    /// Pause all processes within one or more containers
    Pause(NamesArgs),
    /// Unpause all processes within one or more containers
    Unpause(NamesArgs),
    /// Rename a container
    Rename(RenameArgs),
    /// Restart one or more containers
    Restart(StopArgs),
    /// Display the running processes of a container
    Top(TopArgs),
    /// Display a live stream of container(s) resource usage statistics
    Stats(StatsArgs),
    /// Remove all stopped containers
    Prune(PruneArgs),
    /// Inspect changes to files or directories on a container's filesystem
    Diff(OneArg),
    /// Export a container's filesystem as a tar archive
    Export(ExportArgs),
    /// List port mappings or a specific mapping for the container
    Port(PortArgs),
    /// Copy files/folders between a container and the local filesystem
    Cp(CpArgs),
    /// Update configuration of one or more containers
    Update(UpdateArgs),
    /// Create a new image from a container's changes
    Commit(CommitArgs),
    /// Attach local standard input, output, and error streams to a running container
    Attach(AttachArgs),
}

/// Flags shared by `create` and `run` (`-h` is the hostname, as in docker).
#[derive(Args, Clone)]
#[command(disable_help_flag = true)]
pub struct CreateArgs {
    /// Print help
    #[arg(long, action = clap::ArgAction::Help)]
    help: Option<bool>,
    /// Assign a name to the container
    #[arg(long)]
    name: Option<String>,
    /// Set environment variables
    #[arg(short, long = "env")]
    env: Vec<String>,
    /// Working directory inside the container
    #[arg(short, long)]
    workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short, long)]
    user: Option<String>,
    /// Overwrite the default ENTRYPOINT of the image
    #[arg(long)]
    entrypoint: Option<String>,
    /// Container host name
    #[arg(long, short = 'h')]
    hostname: Option<String>,
    /// Bind mount a volume
    #[arg(short, long = "volume")]
    volume: Vec<String>,
    /// Memory limit
    #[arg(short, long)]
    memory: Option<String>,
    /// Tune container pids limit (set -1 for unlimited)
    #[arg(long, allow_hyphen_values = true)]
    pids_limit: Option<i64>,
    /// Number of CPUs
    #[arg(long)]
    cpus: Option<String>,
    /// Connect a container to a network (none, host, bridge or a network's name)
    #[arg(long, alias = "net", default_value = DEFAULT_NETWORK)]
    network: String,
    /// Publish a container's port(s) to the host
    #[arg(short = 'p', long = "publish")]
    publish: Vec<String>,
    /// Publish all exposed ports to random ports
    #[arg(short = 'P', long = "publish-all")]
    publish_all: bool,
    /// Expose a port or a range of ports
    #[arg(long)]
    expose: Vec<String>,
    /// IPv4 address (e.g., 172.30.100.104)
    #[arg(long)]
    ip: Option<String>,
    /// Container MAC address (e.g., 92:d0:c6:0a:29:33)
    #[arg(long)]
    mac_address: Option<String>,
    /// Set custom DNS servers
    #[arg(long)]
    dns: Vec<String>,
    /// Set custom DNS search domains
    #[arg(long)]
    dns_search: Vec<String>,
    /// Set DNS options
    #[arg(long = "dns-option", alias = "dns-opt")]
    dns_option: Vec<String>,
    /// Add network-scoped alias for the container
    #[arg(long = "network-alias", alias = "net-alias")]
    network_alias: Vec<String>,
    /// Automatically remove the container and its associated anonymous volumes when it exits
    #[arg(long)]
    rm: bool,
    /// Set meta data on a container
    #[arg(short, long = "label")]
    label: Vec<String>,
    /// Signal to stop the container
    #[arg(long)]
    stop_signal: Option<String>,
    /// Timeout (in seconds) to stop a container
    #[arg(long)]
    stop_timeout: Option<u32>,
    /// Keep STDIN open even if not attached
    #[arg(short, long)]
    interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short, long)]
    tty: bool,
    /// Read in a file of environment variables
    #[arg(long)]
    env_file: Vec<String>,
    /// Mount the container's root filesystem as read only
    #[arg(long)]
    read_only: bool,
    /// Mount a tmpfs directory
    #[arg(long)]
    tmpfs: Vec<String>,
    /// Size of /dev/shm
    #[arg(long)]
    shm_size: Option<String>,
    /// Add Linux capabilities
    #[arg(long)]
    cap_add: Vec<String>,
    /// Drop Linux capabilities
    #[arg(long)]
    cap_drop: Vec<String>,
    /// Security Options (no-new-privileges, seccomp=unconfined|PROFILE.json)
    #[arg(long)]
    security_opt: Vec<String>,
    /// Ulimit options
    #[arg(long)]
    ulimit: Vec<String>,
    /// Add a custom host-to-IP mapping (host:ip)
    #[arg(long)]
    add_host: Vec<String>,
    /// Restart policy to apply when a container exits (no, always, unless-stopped, on-failure[:N])
    #[arg(long, default_value = "no")]
    restart: String,
    /// Log driver options (max-size, max-file)
    #[arg(long)]
    log_opt: Vec<String>,
    /// Swap limit equal to memory plus swap: '-1' to enable unlimited swap
    #[arg(long, allow_hyphen_values = true)]
    memory_swap: Option<String>,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long)]
    cpu_shares: Option<u64>,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(long)]
    cpuset_cpus: Option<String>,
    /// Sysctl options
    #[arg(long)]
    sysctl: Vec<String>,
    /// PID namespace to use (host or container:NAME)
    #[arg(long, default_value = "")]
    pid: String,
    /// IPC mode to use (private, shareable, host or container:NAME)
    #[arg(long, default_value = "")]
    ipc: String,
    /// UTS namespace to use (host)
    #[arg(long, default_value = "")]
    uts: String,
    /// Cgroup namespace to use (host or private)
    #[arg(long, default_value = "")]
    cgroupns: String,
    /// Parent cgroup for the container (default /berth)
    #[arg(long, env = "BERTH_CGROUP_PARENT")]
    cgroup_parent: Option<String>,
    /// Attach a filesystem mount to the container (type=bind|volume|tmpfs,source=,target=)
    #[arg(long)]
    mount: Vec<String>,
    /// Add a host device to the container
    #[arg(long)]
    device: Vec<String>,
    /// Give extended privileges to this container
    #[arg(long)]
    privileged: bool,
    /// Run an init inside the container that forwards signals and reaps processes
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true",
        value_parser = clap::builder::BoolishValueParser::new())]
    init: Option<bool>,
    /// Command to run to check health
    #[arg(long)]
    health_cmd: Option<String>,
    /// Time between running the check (ms|s|m|h)
    #[arg(long)]
    health_interval: Option<String>,
    /// Maximum time to allow one check to run (ms|s|m|h)
    #[arg(long)]
    health_timeout: Option<String>,
    /// Consecutive failures needed to report unhealthy
    #[arg(long)]
    health_retries: Option<u32>,
    /// Start period for the container to initialize before starting health-retries countdown (ms|s|m|h)
    #[arg(long)]
    health_start_period: Option<String>,
    /// Disable any container-specified HEALTHCHECK
    #[arg(long)]
    no_healthcheck: bool,
    /// The image
    image: String,
    /// The command and its arguments
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

impl CreateArgs {
    fn options(&self) -> Result<CreateOptions, Fail> {
        let bad = |e: berth_engine::Error| Fail {
            code: 125,
            message: format!("{e}\nSee 'berth run --help'."),
        };
        let memory = match &self.memory {
            Some(m) => parse_memory(m).map_err(|e| match e {
                berth_engine::Error::InvalidArgument(ref t) if t.starts_with("Minimum") => {
                    run_fail(e)
                }
                e => bad(e),
            })?,
            None => 0,
        };
        let nano_cpus = match &self.cpus {
            Some(c) => parse_cpus(c).map_err(|e| match e {
                berth_engine::Error::InvalidArgument(ref t) if t.starts_with("range") => {
                    run_fail(e)
                }
                e => bad(e),
            })?,
            None => 0,
        };
        let mut given: Vec<String> = Vec::new();
        for f in &self.env_file {
            let text = std::fs::read_to_string(f).map_err(|e| Fail {
                code: 125,
                message: format!("berth: open {f}: {}", e.kind().to_string().to_lowercase()),
            })?;
            for line in text.lines() {
                let l = line.trim_start();
                if !l.is_empty() && !l.starts_with('#') {
                    given.push(l.to_string());
                }
            }
        }
        given.extend(self.env.iter().cloned());
        let env = given
            .iter()
            .filter_map(|e| {
                if e.contains('=') {
                    Some(e.clone())
                } else {
                    std::env::var(e).ok().map(|v| format!("{e}={v}"))
                }
            })
            .collect();
        if let Some(s) = &self.stop_signal {
            berth_engine::stop::parse_signal(s).map_err(run_fail)?;
        }
        let shm_size = match &self.shm_size {
            Some(v) => berth_engine::options::parse_ram(v).filter(|n| *n > 0).ok_or_else(|| Fail {
                code: 125,
                message: format!("invalid argument \"{v}\" for \"--shm-size\" flag: invalid size: '{v}'\nSee 'berth run --help'."),
            })?,
            None => 0,
        };
        let ulimits = self
            .ulimit
            .iter()
            .map(|u| berth_engine::options::parse_ulimit(u))
            .collect::<Result<Vec<_>, _>>()
            .map_err(bad)?;
        for h in &self.add_host {
            berth_engine::options::parse_extra_host(h).map_err(bad)?;
        }
        let memory_swap = match self.memory_swap.as_deref() {
            None => 0,
            Some("-1") => -1,
            Some(v) => berth_engine::options::parse_ram(v).ok_or_else(|| Fail {
                code: 125,
                message: format!("invalid argument \"{v}\" for \"--memory-swap\" flag: invalid size: '{v}'\nSee 'berth run --help'."),
            })?,
        };
        if let Some(m) = &self.mac_address
            && berth_network::parse_mac(m).is_err()
        {
            return Err(Fail {
                code: 125,
                message: format!("berth: {m} is not a valid mac address.\nSee 'berth run --help'."),
            });
        }
        let restart =
            berth_engine::record::RestartPolicy::parse(&self.restart).map_err(run_fail)?;
        let mut log_max_size = berth_engine::options::DEFAULT_LOG_MAX_SIZE;
        let mut log_max_file = berth_engine::options::DEFAULT_LOG_MAX_FILE;
        for o in &self.log_opt {
            berth_engine::options::parse_log_opt(o, &mut log_max_size, &mut log_max_file)
                .map_err(run_fail)?;
        }
        let mut no_new_privileges = false;
        let mut seccomp = String::new();
        for o in &self.security_opt {
            let (k, v) = o.split_once(['=', ':']).unwrap_or((o.as_str(), ""));
            match (k, v) {
                ("no-new-privileges", "" | "true") => no_new_privileges = true,
                ("no-new-privileges", "false") => no_new_privileges = false,
                ("seccomp", "unconfined") => seccomp = "unconfined".into(),
                ("seccomp", file) if !file.is_empty() => {
                    seccomp = std::fs::read_to_string(file).map_err(|e| Fail {
                        code: 125,
                        message: format!("berth: opening seccomp profile ({file}) failed: {e}"),
                    })?;
                }
                _ => {
                    return Err(Fail {
                        code: 125,
                        message: format!(
                            "berth: Error response from daemon: invalid --security-opt: {o:?}"
                        ),
                    });
                }
            }
        }
        Ok(CreateOptions {
            image: self.image.clone(),
            cmd: self.command.clone(),
            name: self.name.clone(),
            env,
            workdir: self.workdir.clone(),
            user: self.user.clone(),
            entrypoint: self.entrypoint.clone(),
            hostname: self.hostname.clone(),
            volumes: self.volume.clone(),
            memory,
            pids_limit: self.pids_limit.filter(|p| *p > 0).unwrap_or(0),
            nano_cpus,
            network: self.network.clone(),
            publish: self.publish.clone(),
            publish_all: self.publish_all,
            expose: self.expose.clone(),
            ip: self.ip.clone(),
            dns: self.dns.clone(),
            dns_search: self.dns_search.clone(),
            dns_options: self.dns_option.clone(),
            network_aliases: self.network_alias.clone(),
            mac_address: self.mac_address.clone(),
            auto_remove: self.rm,
            labels: self.label.clone(),
            stop_signal: self.stop_signal.clone(),
            stop_timeout: self.stop_timeout,
            interactive: self.interactive,
            tty: self.tty,
            read_only: self.read_only,
            tmpfs: self.tmpfs.clone(),
            shm_size,
            cap_add: self.cap_add.clone(),
            cap_drop: self.cap_drop.clone(),
            no_new_privileges,
            seccomp,
            ulimits,
            extra_hosts: self.add_host.clone(),
            restart,
            log_max_size,
            log_max_file,
            memory_swap,
            cpu_shares: self.cpu_shares.unwrap_or(0),
            cpuset_cpus: self.cpuset_cpus.clone().unwrap_or_default(),
            sysctls: self.sysctl.clone(),
            pid_mode: self.pid.clone(),
            ipc_mode: self.ipc.clone(),
            uts_mode: self.uts.clone(),
            cgroupns_mode: self.cgroupns.clone(),
            cgroup_parent: self.cgroup_parent.clone(),
            mounts: self.mount.clone(),
            devices: self.device.clone(),
            privileged: self.privileged,
            init: self.init,
            health: self.health()?,
        })
    }

    fn health(&self) -> Result<Option<berth_engine::health::Healthcheck>, Fail> {
        let dur = |v: &Option<String>, flag: &str| -> Result<u64, Fail> {
            match v {
                None => Ok(0),
                Some(s) => berth_engine::health::parse_duration(s).ok_or_else(|| Fail {
                    code: 125,
                    message: format!("invalid argument \"{s}\" for \"--{flag}\" flag: time: invalid duration \"{s}\"\nSee 'berth run --help'."),
                }),
            }
        };
        if self.no_healthcheck {
            if self.health_cmd.is_some() {
                return Err(Fail {
                    code: 125,
                    message: "berth: --no-healthcheck conflicts with --health-* options".into(),
                });
            }
            return Ok(Some(berth_engine::health::Healthcheck {
                test: vec!["NONE".into()],
                ..Default::default()
            }));
        }
        let h = berth_engine::health::Healthcheck {
            test: self
                .health_cmd
                .iter()
                .flat_map(|c| ["CMD-SHELL".to_string(), c.clone()])
                .collect(),
            interval: dur(&self.health_interval, "health-interval")?,
            timeout: dur(&self.health_timeout, "health-timeout")?,
            retries: self.health_retries.unwrap_or(0),
            start_period: dur(&self.health_start_period, "health-start-period")?,
        };
        Ok((h != Default::default()).then_some(h))
    }
}

/// `run`'s flags.
#[derive(Args)]
#[command(disable_help_flag = true)]
pub struct RunArgs {
    /// Run container in background and print container ID
    #[arg(short, long)]
    detach: bool,
    #[command(flatten)]
    create: CreateArgs,
}

/// `start`'s arguments.
#[derive(Args)]
pub struct StartArgs {
    /// Attach STDOUT/STDERR and forward signals
    #[arg(short, long)]
    attach: bool,
    /// Attach container's STDIN
    #[arg(short, long)]
    interactive: bool,
    /// The containers
    #[arg(required = true)]
    containers: Vec<String>,
}

/// `stop`'s flags.
#[derive(Args)]
pub struct StopArgs {
    /// Seconds to wait before killing the container
    #[arg(short, long, alias = "timeout")]
    time: Option<u32>,
    /// The containers
    #[arg(required = true)]
    containers: Vec<String>,
}

/// `kill`'s flags.
#[derive(Args)]
pub struct KillArgs {
    /// Signal to send to the container
    #[arg(short, long, default_value = "KILL")]
    signal: String,
    /// The containers
    #[arg(required = true)]
    containers: Vec<String>,
}

/// `rm`'s flags.
#[derive(Args)]
pub struct RmArgs {
    /// Force the removal of a running container (uses SIGKILL)
    #[arg(short, long)]
    force: bool,
    /// Remove anonymous volumes associated with the container
    #[arg(short, long)]
    volumes: bool,
    /// The containers
    #[arg(required = true)]
    containers: Vec<String>,
}

/// `ps`'s flags.
#[derive(Args)]
pub struct PsArgs {
    /// Show all containers (default shows just running)
    #[arg(short, long)]
    all: bool,
    /// Only display container IDs
    #[arg(short, long)]
    quiet: bool,
    /// Don't truncate output
    #[arg(long)]
    no_trunc: bool,
    /// Show n last created containers (includes all states)
    #[arg(short = 'n', long, default_value_t = -1, allow_hyphen_values = true)]
    last: i64,
    /// Show the latest created container (includes all states)
    #[arg(short, long)]
    latest: bool,
    /// Format output using a custom template
    #[arg(long)]
    format: Option<String>,
    /// Filter output based on conditions provided (id, name, label, status, ancestor, exited)
    #[arg(short, long)]
    filter: Vec<String>,
    /// Display total file sizes
    #[arg(short, long)]
    size: bool,
}

/// `logs`'s flags.
#[derive(Args)]
pub struct LogsArgs {
    /// Follow log output
    #[arg(short, long)]
    follow: bool,
    /// Number of lines to show from the end of the logs
    #[arg(short = 'n', long, default_value = "all")]
    tail: String,
    /// Show timestamps
    #[arg(short, long)]
    timestamps: bool,
    /// Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)
    #[arg(long)]
    since: Option<String>,
    /// Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)
    #[arg(long)]
    until: Option<String>,
    /// The container
    container: String,
}

/// `exec`'s flags.
#[derive(Args)]
pub struct ExecArgs {
    /// Detached mode: run command in the background
    #[arg(short, long)]
    detach: bool,
    /// Keep STDIN open even if not attached
    #[arg(short, long)]
    interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short, long)]
    tty: bool,
    /// Set environment variables
    #[arg(short, long = "env")]
    env: Vec<String>,
    /// Username or UID (format: "<name|uid>[:<group|gid>]")
    #[arg(short, long)]
    user: Option<String>,
    /// Working directory inside the container
    #[arg(short, long)]
    workdir: Option<String>,
    /// The container
    container: String,
    /// The command and its arguments
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

/// Arguments of commands that take container names only.
#[derive(Args)]
pub struct NamesArgs {
    /// The containers
    #[arg(required = true)]
    containers: Vec<String>,
}

/// `rename`'s arguments.
#[derive(Args)]
pub struct RenameArgs {
    /// The container
    container: String,
    /// Its new name
    new_name: String,
}

/// `top`'s arguments.
#[derive(Args)]
pub struct TopArgs {
    /// The container
    container: String,
    /// Options for ps (default -ef)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    ps_options: Vec<String>,
}

/// `stats`'s flags.
#[derive(Args)]
pub struct StatsArgs {
    /// Show all containers (default shows just running)
    #[arg(short, long)]
    all: bool,
    /// Disable streaming stats and only pull the first result
    #[arg(long)]
    no_stream: bool,
    /// Do not truncate output
    #[arg(long)]
    no_trunc: bool,
    /// The containers (all running ones when none is given)
    containers: Vec<String>,
}

/// A single container argument.
#[derive(Args)]
pub struct OneArg {
    /// The container
    container: String,
}

/// `port CONTAINER [PRIVATE_PORT[/PROTO]]`.
#[derive(Args)]
pub struct PortArgs {
    /// The container
    container: String,
    /// A container port, with /tcp or /udp
    private_port: Option<String>,
}

/// `port`: the ports a running container publishes, in Docker's words.
fn port(eng: &Engine, a: PortArgs) -> CmdResult {
    let c = eng.find(&a.container)?;
    let ports = c.state.endpoint.map(|e| e.ports).unwrap_or_default();
    let Some(want) = a.private_port else {
        for p in &ports {
            println!("{p}");
        }
        return Ok(());
    };
    let (num, proto) = want.split_once('/').unwrap_or((want.as_str(), "tcp"));
    let bad = || Fail::usage(format!("invalid port ({want}): must be PORT[/PROTO]"));
    let num: u16 = num.parse().map_err(|_| bad())?;
    let found: Vec<_> = ports
        .iter()
        .filter(|p| p.container_port == num && p.protocol.as_str() == proto)
        .collect();
    if found.is_empty() {
        return Err(Fail {
            code: 1,
            message: format!(
                "Error: No public port '{num}/{proto}' published for {}",
                c.name
            ),
        });
    }
    for p in found {
        println!(
            "{}:{}",
            p.host_ip.unwrap_or(std::net::Ipv4Addr::UNSPECIFIED),
            p.host_port
        );
    }
    Ok(())
}

/// `cp`'s arguments: `CONTAINER:SRC DEST` or `SRC CONTAINER:DEST`.
#[derive(Args)]
pub struct CpArgs {
    /// Source
    src: String,
    /// Destination
    dst: String,
}

/// `update`'s flags.
#[derive(Args)]
pub struct UpdateArgs {
    /// Memory limit
    #[arg(short, long)]
    memory: Option<String>,
    /// Swap limit equal to memory plus swap: -1 to enable unlimited swap
    #[arg(long, allow_hyphen_values = true)]
    memory_swap: Option<String>,
    /// Number of CPUs
    #[arg(long)]
    cpus: Option<String>,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long)]
    cpu_shares: Option<u64>,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(long)]
    cpuset_cpus: Option<String>,
    /// Tune container pids limit (set -1 for unlimited)
    #[arg(long, allow_hyphen_values = true)]
    pids_limit: Option<i64>,
    /// Restart policy to apply when a container exits
    #[arg(long)]
    restart: Option<String>,
    /// The containers
    #[arg(required = true)]
    containers: Vec<String>,
}

/// `attach`'s flags.
#[derive(Args)]
pub struct AttachArgs {
    /// Do not attach STDIN
    #[arg(long)]
    no_stdin: bool,
    /// Override the key sequence for detaching a container
    #[arg(long, default_value = "ctrl-p,ctrl-q")]
    detach_keys: String,
    /// The container
    container: String,
}

/// `commit`'s flags.
#[derive(Args)]
pub struct CommitArgs {
    /// Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")
    #[arg(short, long)]
    author: Option<String>,
    /// Commit message
    #[arg(short, long)]
    message: Option<String>,
    /// Apply Dockerfile instruction to the created image
    #[arg(short, long)]
    change: Vec<String>,
    /// Pause container during commit
    #[arg(short, long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pause: bool,
    /// The container
    container: String,
    /// REPOSITORY[:TAG]
    reference: Option<String>,
}

/// `export`'s flags.
#[derive(Args)]
pub struct ExportArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short, long)]
    output: Option<std::path::PathBuf>,
    /// The container
    container: String,
}

/// `container prune`'s flags.
#[derive(Args)]
pub struct PruneArgs {
    /// Do not prompt for confirmation
    #[arg(short, long)]
    force: bool,
}

/// `wait`'s arguments.
#[derive(Args)]
pub struct WaitArgs {
    /// The containers
    #[arg(required = true)]
    containers: Vec<String>,
}

/// `container inspect`'s flags.
#[derive(Args)]
pub struct InspectArgs {
    /// Format output using a custom template
    #[arg(short, long)]
    format: Option<String>,
    /// The containers
    #[arg(required = true)]
    containers: Vec<String>,
}

/// The hidden monitor's arguments.
#[derive(Args)]
pub struct MonitorArgs {
    /// Container ID
    id: String,
    /// Descriptor to report on
    #[arg(long)]
    sync_fd: i32,
    /// Descriptors of an attached run: "OUT,ERR[,IN]"
    #[arg(long)]
    attach: Option<String>,
}

/// Runs a container command against the root and state directories.
pub fn dispatch(root: &Path, state: &Path, cmd: ContainerCmds) -> CmdResult {
    let eng = crate::open_engine(root, state)?;
    match cmd {
        ContainerCmds::Volume { cmd } => crate::cmd_volume::dispatch(&eng, cmd),
        ContainerCmds::Network { cmd } => crate::cmd_network::dispatch(&eng, cmd),
        ContainerCmds::Run(a)
        | ContainerCmds::Container {
            cmd: ContainerSub::Run(a),
        } => run(&eng, a),
        ContainerCmds::Create(a)
        | ContainerCmds::Container {
            cmd: ContainerSub::Create(a),
        } => create(&eng, a),
        ContainerCmds::Start(a)
        | ContainerCmds::Container {
            cmd: ContainerSub::Start(a),
        } => start(&eng, a),
        ContainerCmds::Stop(a)
        | ContainerCmds::Container {
            cmd: ContainerSub::Stop(a),
        } => stop(&eng, a),
        ContainerCmds::Kill(a)
        | ContainerCmds::Container {
            cmd: ContainerSub::Kill(a),
        } => kill(&eng, a),
        ContainerCmds::Rm(a)
        | ContainerCmds::Container {
            cmd: ContainerSub::Rm(a),
        } => rm(&eng, a),
        ContainerCmds::Ps(a)
        | ContainerCmds::Container {
            cmd: ContainerSub::Ls(a),
        } => ps(&eng, a),
        ContainerCmds::Logs(a)
        | ContainerCmds::Container {
            cmd: ContainerSub::Logs(a),
        } => logs_cmd(&eng, a),
        ContainerCmds::Exec(a)
        | ContainerCmds::Container {
            cmd: ContainerSub::Exec(a),
        } => exec(&eng, a),
        ContainerCmds::Wait(a)
        | ContainerCmds::Container {
            cmd: ContainerSub::Wait(a),
        } => wait(&eng, a),
        ContainerCmds::Inspect(a) => crate::cmd_inspect::inspect_any(&eng, a),
        ContainerCmds::Container {
            cmd: ContainerSub::Inspect(a),
        } => inspect(&eng, a),
        ContainerCmds::Pause(a)
        | ContainerCmds::Container {
            cmd: ContainerSub::Pause(a),
        } => each(&a.containers, |n| {
            eng.pause(n)?;
            println!("{n}");
            Ok(())
        }),
        ContainerCmds::Unpause(a)
        | ContainerCmds::Container {
            cmd: ContainerSub::Unpause(a),
        } => each(&a.containers, |n| {
            eng.unpause(n)?;
            println!("{n}");
            Ok(())
        }),
        ContainerCmds::Rename(a)
        | ContainerCmds::Container {
            cmd: ContainerSub::Rename(a),
        } => {
            eng.rename(&a.container, &a.new_name)?;
            Ok(())
        }
        ContainerCmds::Restart(a)
        | ContainerCmds::Container {
            cmd: ContainerSub::Restart(a),
        } => each(&a.containers, |n| {
            eng.restart(n, a.time)?;
            println!("{n}");
            Ok(())
        }),
        ContainerCmds::Top(a)
        | ContainerCmds::Container {
            cmd: ContainerSub::Top(a),
        } => top(&eng, a),
        ContainerCmds::Stats(a)
        | ContainerCmds::Container {
            cmd: ContainerSub::Stats(a),
        } => stats(&eng, a),
        ContainerCmds::Container {
            cmd: ContainerSub::Prune(a),
        } => prune(&eng, a),
        ContainerCmds::Diff(a)
        | ContainerCmds::Container {
            cmd: ContainerSub::Diff(a),
        } => {
            for ch in eng.changes(&a.container)? {
                println!("{} {}", ch.kind, ch.path);
            }
            Ok(())
        }
        ContainerCmds::Port(a)
        | ContainerCmds::Container {
            cmd: ContainerSub::Port(a),
        } => port(&eng, a),
        ContainerCmds::Export(a)
        | ContainerCmds::Container {
            cmd: ContainerSub::Export(a),
        } => export(&eng, a),
        ContainerCmds::Update(a)
        | ContainerCmds::Container {
            cmd: ContainerSub::Update(a),
        } => update(&eng, a),
        ContainerCmds::Attach(a)
        | ContainerCmds::Container {
            cmd: ContainerSub::Attach(a),
        } => attach(&eng, a),
        ContainerCmds::Commit(a)
        | ContainerCmds::Container {
            cmd: ContainerSub::Commit(a),
        } => {
            let id = eng.commit(
                &a.container,
                &berth_engine::commit::CommitOptions {
                    reference: a.reference,
                    message: a.message,
                    author: a.author,
                    pause: a.pause,
                    changes: a.change,
                },
            )?;
            println!("{id}");
            Ok(())
        }
        ContainerCmds::Cp(a)
        | ContainerCmds::Container {
            cmd: ContainerSub::Cp(a),
        } => {
            // A container path is NAME:PATH; a host path with a colon needs a / or . first.
            let split = |s: &str| -> Option<(String, String)> {
                if s.starts_with('/') || s.starts_with('.') {
                    return None;
                }
                let (c, p) = s.split_once(':')?;
                Some((c.to_string(), p.to_string()))
            };
            match (split(&a.src), split(&a.dst)) {
                (Some((c, p)), None) => Ok(eng.copy_out(&c, &p, std::path::Path::new(&a.dst))?),
                (None, Some((c, p))) => Ok(eng.copy_in(&c, std::path::Path::new(&a.src), &p)?),
                (Some(_), Some(_)) => {
                    Err(Fail::usage("copying between containers is not supported"))
                }
                (None, None) => Err(Fail::usage("must specify at least one container source")),
            }
        }
        ContainerCmds::Monitor(a) => {
            let attach: Vec<i32> = a
                .attach
                .as_deref()
                .map(|s| s.split(',').filter_map(|n| n.parse().ok()).collect())
                .unwrap_or_default();
            berth_engine::monitor::run(&eng, &a.id, a.sync_fd, &attach);
            Ok(())
        }
    }
}

/// Runs `f` on each name, printing docker's per-container error and failing with 1
/// at the end if any failed.
fn each(names: &[String], mut f: impl FnMut(&str) -> Result<(), Fail>) -> CmdResult {
    let mut failed = false;
    for n in names {
        if let Err(e) = f(n) {
            eprintln!("{}", e.message);
            failed = true;
        }
    }
    crate::fail_if(failed)
}

fn missing_image_hint(e: &berth_engine::Error) {
    if let berth_engine::Error::NoSuchImage(name) = e {
        eprintln!("Unable to find image '{name}' locally");
    }
}

fn create_container(eng: &Engine, a: &CreateArgs) -> Result<Container, Fail> {
    let o = a.options()?;
    eng.create(&o).map_err(|e| {
        missing_image_hint(&e);
        run_fail(e)
    })
}

fn create(eng: &Engine, a: CreateArgs) -> CmdResult {
    let c = create_container(eng, &a)?;
    println!("{}", c.id);
    Ok(())
}

/// Puts the terminal on stdin in raw mode while attached to a container's pty, and
/// restores it on drop.
struct RawMode {
    saved: Option<nix::sys::termios::Termios>,
}

impl RawMode {
    fn enter() -> RawMode {
        use nix::sys::termios;
        let stdin = std::io::stdin();
        let saved = termios::tcgetattr(stdin.as_fd()).ok();
        if let Some(t) = &saved {
            let mut raw = t.clone();
            termios::cfmakeraw(&mut raw);
            let _ = termios::tcsetattr(stdin.as_fd(), termios::SetArg::TCSANOW, &raw);
        }
        RawMode { saved }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(t) = &self.saved {
            let _ = nix::sys::termios::tcsetattr(
                std::io::stdin().as_fd(),
                nix::sys::termios::SetArg::TCSANOW,
                t,
            );
        }
    }
}

fn run(eng: &Engine, a: RunArgs) -> CmdResult {
    if a.create.tty && a.create.interactive && !a.detach && !crate::is_tty(0) {
        return Err(Fail {
            code: 1,
            message: "the input device is not a TTY".into(),
        });
    }
    let c = create_container(eng, &a.create)?;
    let cleanup = |e: berth_engine::Error| {
        if a.create.rm {
            let _ = eng.remove(&c.id, true, true);
        }
        run_fail(e)
    };
    if a.detach {
        eng.start(&c.id, None).map_err(cleanup)?;
        println!("{}", c.id);
        return Ok(());
    }
    let raw = a.create.tty && a.create.interactive && crate::is_tty(0);
    run_attached(eng, &c.id, a.create.interactive, raw, cleanup)
}

fn start(eng: &Engine, a: StartArgs) -> CmdResult {
    if a.attach || a.interactive {
        if a.containers.len() > 1 {
            return Err(Fail::usage(
                "you cannot start and attach multiple containers at once",
            ));
        }
        return attach_start(eng, &a.containers[0], a.interactive);
    }
    each(&a.containers, |n| {
        eng.start(n, None).map_err(|e| match e {
            e @ berth_engine::Error::Start { .. } => Fail {
                code: e.run_exit_code() as u8,
                message: format!("Error response from daemon: {e}"),
            },
            e => Fail::from(e),
        })?;
        println!("{n}");
        Ok(())
    })
    .map_err(|f| Fail { code: 1, ..f })
}

/// `start -a`: starts a container attached to this terminal, as a foreground run.
fn attach_start(eng: &Engine, name: &str, interactive: bool) -> CmdResult {
    let c = eng.find(name)?;
    if c.state.status == Status::Running {
        return Err(Fail::user(format!(
            "container {} is already running; berth attaches to a container only as it starts",
            c.id
        )));
    }
    let raw = c.config.tty && interactive && crate::is_tty(0);
    run_attached(eng, &c.id, interactive, raw, |e| Fail {
        code: 1,
        message: format!("Error response from daemon: {e}"),
    })
}

/// The foreground part of `run` and `start -a`: starts container `id` with this
/// process's stdout and stderr (stdin too when `interactive`, the terminal raw while
/// it runs when `raw`), forwards signals to it and exits with its exit code;
/// `start_fail` words a failure to start.
fn run_attached(
    eng: &Engine,
    id: &str,
    interactive: bool,
    raw: bool,
    start_fail: impl FnOnce(berth_engine::Error) -> Fail,
) -> CmdResult {
    let (out, err, input) = (std::io::stdout(), std::io::stderr(), std::io::stdin());
    let attach = berth_engine::monitor::Attach {
        stdin: interactive.then(|| input.as_fd()),
        stdout: out.as_fd(),
        stderr: err.as_fd(),
    };
    let raw = raw.then(RawMode::enter);
    let (_, handle) = match eng.start(id, Some(attach)) {
        Ok(v) => v,
        Err(e) => {
            // The terminal back first, then whatever `start_fail` cleans up.
            drop(raw);
            return Err(start_fail(e));
        }
    };
    eng.proxy_signals(id);
    let code = wait_reported(eng, id, handle);
    drop(raw);
    crate::exit_with(code?)
}

/// The exit code a monitor reports, or the record's when the monitor vanished.
fn wait_reported(
    eng: &Engine,
    id: &str,
    handle: Option<berth_engine::monitor::Handle>,
) -> Result<i32, Fail> {
    let reported = handle.and_then(|mut h| {
        loop {
            match h.next_report() {
                Some(berth_engine::monitor::Report::Exited { code }) => break Some(code),
                Some(_) => continue,
                None => break None,
            }
        }
    });
    match reported {
        Some(code) => Ok(code),
        // The monitor went away without a word (killed): the record tells.
        None => eng.wait(id).map_err(|e| Fail {
            code: 125,
            message: format!(
                "berth: the monitor of container {id} ended without reporting its exit: {e}"
            ),
        }),
    }
}

fn stop(eng: &Engine, a: StopArgs) -> CmdResult {
    each(&a.containers, |n| {
        eng.stop(n, a.time)?;
        println!("{n}");
        Ok(())
    })
}

fn kill(eng: &Engine, a: KillArgs) -> CmdResult {
    let sig = berth_engine::stop::parse_signal(&a.signal)?;
    each(&a.containers, |n| {
        eng.kill(n, sig)?;
        println!("{n}");
        Ok(())
    })
}

fn rm(eng: &Engine, a: RmArgs) -> CmdResult {
    each(&a.containers, |n| {
        eng.remove(n, a.force, a.volumes)?;
        println!("{n}");
        Ok(())
    })
}

fn wait(eng: &Engine, a: WaitArgs) -> CmdResult {
    each(&a.containers, |n| {
        let code = eng.wait(n)?;
        println!("{code}");
        Ok(())
    })
}

fn secs(t: &str) -> i64 {
    berth_image::time::parse_rfc3339(t).unwrap_or(0)
}

/// Docker's STATUS column: `Up 3 seconds`, `Exited (0) 5 seconds ago`, `Created`.
pub fn status_text(c: &Container) -> String {
    match c.state.status {
        Status::Running if c.state.paused => {
            format!(
                "Up {} (Paused)",
                human_duration(now_secs() - secs(&c.state.started_at))
            )
        }
        Status::Running => {
            let up = format!(
                "Up {}",
                human_duration(now_secs() - secs(&c.state.started_at))
            );
            match c.state.health.as_ref().map(|h| h.status.as_str()) {
                Some("starting") => format!("{up} (health: starting)"),
                Some(h) => format!("{up} ({h})"),
                None => up,
            }
        }
        Status::Exited => format!(
            "Exited ({}) {} ago",
            c.state.exit_code,
            human_duration(now_secs() - secs(&c.state.finished_at))
        ),
        Status::Created => "Created".into(),
        Status::Removing => "Removal In Progress".into(),
        Status::Dead => "Dead".into(),
        Status::Restarting => format!(
            "Restarting ({}) {} ago",
            c.state.exit_code,
            human_duration(now_secs() - secs(&c.state.finished_at))
        ),
    }
}

/// Go's strconv.Quote for the command column.
fn go_quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// Docker's Ellipsis: at most `max` characters, the last one `…` when cut.
fn ellipsis(s: &str, max: usize) -> String {
    let n = s.chars().count();
    if n <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}

/// The size of a container's own files, and of them with its image's (Docker's
/// SizeRw and SizeRootFs).
pub fn sizes(eng: &Engine, c: &Container) -> (u64, u64) {
    let own = eng.container_size(c);
    let image = eng
        .store()
        .resolve(&c.image_id)
        .and_then(|id| eng.store().image(&id))
        .map_or(0, |i| i.size);
    (own, own + image)
}

/// Docker's SIZE column: the container's own files, and with the image's.
fn size_text(eng: &Engine, c: &Container) -> String {
    let (own, all) = sizes(eng, c);
    format!(
        "{} (virtual {})",
        crate::units::human_size(own),
        crate::units::human_size(all)
    )
}

fn ps_row(c: &Container, no_trunc: bool) -> Value {
    let mut command = c.path.clone();
    for a in &c.args {
        command.push(' ');
        command.push_str(a);
    }
    let (id, command) = if no_trunc {
        (c.id.clone(), go_quote(&command))
    } else {
        (c.id[..12].to_string(), go_quote(&ellipsis(&command, 20)))
    };
    let image = if c.image.starts_with("sha256:") && !no_trunc {
        c.image.chars().take(19).collect::<String>()[7..].to_string()
    } else {
        c.image.clone()
    };
    let labels: Vec<String> = c
        .config
        .labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    json!({
        "ID": id,
        "Image": image,
        "Command": command,
        "CreatedAt": crate::units::go_time(Some(&c.created)),
        "RunningFor": since(Some(&c.created)),
        "Status": status_text(c),
        "State": if c.state.paused { "paused" } else { c.state.status.as_str() },
        "Ports": c.state.endpoint.as_ref().map(|e| e.ports.iter().map(|p| format!(
            "{}:{}->{}/{}",
            p.host_ip.unwrap_or(std::net::Ipv4Addr::UNSPECIFIED),
            p.host_port,
            p.container_port,
            p.protocol
        )).collect::<Vec<_>>().join(", ")).unwrap_or_default(),
        "Names": c.name,
        "Labels": labels.join(","),
        "Mounts": c.mounts.iter().map(|m| if m.name.is_empty() { m.source.display().to_string() } else { m.name.clone() }).collect::<Vec<_>>().join(","),
        "Networks": if berth_engine::network::is_bridge(&c.host.network_mode) {
            c.host.attachments().iter().map(|a| a.name.as_str()).collect::<Vec<_>>().join(",")
        } else {
            c.host.network_mode.clone()
        },
        "Size": "",
    })
}

/// Parses `ps -f KEY=VALUE` filters, grouped by key (values of one key are ORed,
/// keys ANDed, as Docker does).
fn ps_filters(given: &[String]) -> Result<Vec<(String, Vec<String>)>, Fail> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for f in given {
        let (k, v) = f
            .split_once('=')
            .ok_or_else(|| Fail::usage("bad format of filter (expected name=value)"))?;
        if !["id", "name", "label", "status", "ancestor", "exited"].contains(&k) {
            return Err(Fail::user(format!("invalid filter '{k}'")));
        }
        if k == "status"
            && ![
                "created",
                "restarting",
                "running",
                "removing",
                "paused",
                "exited",
                "dead",
            ]
            .contains(&v)
        {
            return Err(Fail::user(format!(
                "invalid filter 'status={v}': Invalid filter 'status={v}'"
            )));
        }
        match out.iter_mut().find(|(key, _)| key == k) {
            Some((_, vals)) => vals.push(v.to_string()),
            None => out.push((k.to_string(), vec![v.to_string()])),
        }
    }
    Ok(out)
}

fn ps_matches(eng: &Engine, c: &Container, filters: &[(String, Vec<String>)]) -> bool {
    filters.iter().all(|(k, vals)| {
        vals.iter().any(|v| match k.as_str() {
            "id" => c.id.starts_with(v.as_str()),
            "name" => c.name.contains(v.trim_start_matches('/')),
            "label" => match v.split_once('=') {
                Some((lk, lv)) => c.config.labels.get(lk).is_some_and(|x| x == lv),
                None => c.config.labels.contains_key(v.as_str()),
            },
            "status" => {
                let st = if c.state.paused {
                    "paused"
                } else {
                    c.state.status.as_str()
                };
                st == v
            }
            "exited" => {
                c.state.status == Status::Exited && v.parse::<i32>() == Ok(c.state.exit_code)
            }
            "ancestor" => {
                c.image == *v
                    || eng
                        .store()
                        .resolve(v)
                        .is_ok_and(|id| id.to_string() == c.image_id)
            }
            _ => false,
        })
    })
}

fn ps(eng: &Engine, a: PsArgs) -> CmdResult {
    let filters = ps_filters(&a.filter)?;
    let mut list = eng.list()?;
    let last = if a.latest { 1 } else { a.last };
    // A status or exited filter looks at every container, as `-a` would.
    let all = a.all || filters.iter().any(|(k, _)| k == "status" || k == "exited");
    if last >= 0 {
        list.truncate(last as usize);
    } else if !all {
        list.retain(|c| c.state.status == Status::Running);
    }
    list.retain(|c| ps_matches(eng, c, &filters));
    if a.quiet {
        for c in &list {
            println!("{}", if a.no_trunc { &c.id[..] } else { &c.id[..12] });
        }
        return Ok(());
    }
    let default = if a.size {
        "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}\t{{.Size}}"
    } else {
        "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
    };
    let rows: Vec<Value> = list
        .iter()
        .map(|c| {
            let mut row = ps_row(c, a.no_trunc);
            if a.size {
                row["Size"] = json!(size_text(eng, c));
            }
            row
        })
        .collect();
    print_rows(
        a.format.as_deref(),
        default,
        &[
            ("ID", "CONTAINER ID"),
            ("Image", "IMAGE"),
            ("Command", "COMMAND"),
            ("RunningFor", "CREATED"),
            ("CreatedAt", "CREATED AT"),
            ("Status", "STATUS"),
            ("Ports", "PORTS"),
            ("Names", "NAMES"),
            ("Size", "SIZE"),
        ],
        &rows,
    )
}

/// Docker's fixed-width RFC3339Nano for `logs -t`: always nine fractional digits.
fn fixed_nano(t: &str) -> String {
    let (head, frac) = t
        .trim_end_matches('Z')
        .split_once('.')
        .unwrap_or((t.trim_end_matches('Z'), ""));
    format!("{head}.{:0<9}Z", frac)
}

fn logs_cmd(eng: &Engine, a: LogsArgs) -> CmdResult {
    let c = eng.find(&a.container)?;
    let path = logs::path(&eng.dir(&c.id), &c.id);
    let tail: Option<usize> = match a.tail.as_str() {
        "all" => None,
        n => match n.parse::<i64>() {
            Ok(v) if v >= 0 => Some(v as usize),
            _ => None,
        },
    };
    let mut entries = Vec::new();
    let files = logs::files(&path);
    for f in &files[..files.len() - 1] {
        entries.extend(logs::read_from(f, 0)?.0);
    }
    let (current, mut off) = logs::read_from(&path, 0)?;
    entries.extend(current);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let bound = |v: &Option<String>, flag: &str| -> Result<Option<f64>, Fail> {
        match v {
            None => Ok(None),
            Some(s) => logs::parse_since(s, now)
                .map(Some)
                .ok_or_else(|| Fail::user(format!("invalid value for \"{flag}\": failed to parse value as time or duration: \"{s}\""))),
        }
    };
    let since = bound(&a.since, "since")?;
    let until = bound(&a.until, "until")?;
    let in_range = |e: &logs::Entry| {
        let t = logs::time_secs(&e.time).unwrap_or(0.0);
        since.is_none_or(|s| t >= s) && until.is_none_or(|u| t <= u)
    };
    entries.retain(|e| in_range(e));
    if let Some(n) = tail {
        let skip = entries.len().saturating_sub(n);
        entries.drain(..skip);
    }
    let print = |entries: &[logs::Entry]| {
        let mut out = std::io::stdout().lock();
        let mut err = std::io::stderr().lock();
        for e in entries {
            let w: &mut dyn Write = if e.stream == "stderr" {
                &mut err
            } else {
                &mut out
            };
            if a.timestamps {
                let _ = write!(w, "{} ", fixed_nano(&e.time));
            }
            let _ = w.write_all(e.log.as_bytes());
        }
        let _ = out.flush();
    };
    print(&entries);
    if !a.follow {
        return Ok(());
    }
    loop {
        let running = matches!(eng.containers().load(&c.id), Ok(c) if matches!(c.state.status, Status::Running | Status::Restarting));
        // A rotation started the file again.
        if std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0) < off {
            off = 0;
        }
        let (mut more, next) = logs::read_from(&path, off)?;
        off = next;
        more.retain(|e| in_range(e));
        print(&more);
        if !running && more.is_empty() {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

fn exec(eng: &Engine, a: ExecArgs) -> CmdResult {
    if a.tty && a.interactive && !a.detach && !crate::is_tty(0) {
        return Err(Fail {
            code: 1,
            message: "the input device is not a TTY".into(),
        });
    }
    if !a.interactive && !a.detach {
        // Without -i the process gets no input, as with docker.
        if let Ok(null) = std::fs::File::open("/dev/null") {
            let _ = nix::unistd::dup2_stdin(&null);
        }
    }
    let o = ExecOptions {
        cmd: a.command,
        env: a.env,
        user: a.user,
        workdir: a.workdir,
        detach: a.detach,
        tty: a.tty,
    };
    match eng.exec(&a.container, &o) {
        Ok(_) if a.detach => Ok(()),
        Ok(code) => crate::exit_with(code),
        Err(e @ berth_engine::Error::Start { .. }) => Err(Fail {
            code: e.run_exit_code() as u8,
            message: e.to_string(),
        }),
        Err(e) => Err(e.into()),
    }
}

fn log_config(c: &Container) -> Value {
    let mut m = serde_json::Map::new();
    if c.host.log_max_size > 0 {
        m.insert("max-size".into(), json!(c.host.log_max_size.to_string()));
        m.insert("max-file".into(), json!(c.host.log_max_file.to_string()));
    }
    Value::Object(m)
}

/// Docker's `inspect` document for a container (the main fields).
pub fn inspect_doc(eng: &Engine, c: &Container) -> Value {
    let dir = eng.dir(&c.id);
    let s = &c.state;
    let zero_or = |t: &str| {
        if t.is_empty() {
            ZERO_TIME.to_string()
        } else {
            t.to_string()
        }
    };
    let host_config = json!({
        "Binds": if c.host.binds.is_empty() { Value::Null } else { json!(c.host.binds) },
        "NetworkMode": c.host.network_mode,
        "AutoRemove": c.host.auto_remove,
        "Memory": c.host.memory,
        "MemorySwap": if c.host.memory > 0 && c.host.memory_swap == 0 { c.host.memory * 2 } else { c.host.memory_swap },
        "CpuShares": c.host.cpu_shares,
        "CpusetCpus": c.host.cpuset_cpus,
        "PidMode": c.host.pid_mode,
        "IpcMode": if c.host.ipc_mode.is_empty() { "private" } else { c.host.ipc_mode.as_str() },
        "UTSMode": c.host.uts_mode,
        "CgroupnsMode": c.host.cgroupns_mode,
        "Sysctls": c.host.sysctls,
        "CapAdd": c.host.cap_add,
        "CapDrop": c.host.cap_drop,
        "ReadonlyRootfs": c.host.readonly_rootfs,
        "ShmSize": if c.host.shm_size > 0 { c.host.shm_size } else { 64 << 20 },
        "ExtraHosts": c.host.extra_hosts,
        "Dns": c.host.dns,
        "DnsSearch": c.host.dns_search,
        "DnsOptions": c.host.dns_options,
        "NanoCpus": c.host.nano_cpus,
        "PidsLimit": if c.host.pids_limit > 0 { json!(c.host.pids_limit) } else { Value::Null },
        "LogConfig": {"Type": "json-file", "Config": log_config(c)},
        "RestartPolicy": {
            "Name": if c.host.restart_policy.name.is_empty() { "no" } else { c.host.restart_policy.name.as_str() },
            "MaximumRetryCount": c.host.restart_policy.maximum_retry_count,
        },
        "Privileged": false,
        "Init": c.host.init,
    });
    json!({
        "Id": c.id,
        "Created": c.created,
        "Path": c.path,
        "Args": c.args,
        "State": {
            "Status": if s.paused { "paused" } else { s.status.as_str() },
            "Running": s.status == Status::Running,
            "Paused": s.paused,
            "Restarting": s.status == Status::Restarting,
            "OOMKilled": s.oom_killed,
            "Dead": s.status == Status::Dead,
            "Pid": s.pid,
            "ExitCode": s.exit_code,
            "Error": s.error,
            "StartedAt": zero_or(&s.started_at),
            "FinishedAt": zero_or(&s.finished_at),
            "Health": s.health,
        },
        "Image": c.image_id,
        "ResolvConfPath": dir.join("resolv.conf"),
        "HostnamePath": dir.join("hostname"),
        "HostsPath": dir.join("hosts"),
        "LogPath": logs::path(&dir, &c.id),
        "Name": format!("/{}", c.name),
        "RestartCount": s.restart_count,
        "Driver": "overlay2",
        "Platform": "linux",
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "ExecIDs": null,
        "HostConfig": host_config,
        "GraphDriver": {
            "Name": "overlay2",
            "Data": {"MergedDir": dir.join("rootfs")},
        },
        "Mounts": c.mounts.iter().map(|m| json!({
            "Type": m.kind,
            "Name": if m.name.is_empty() { Value::Null } else { json!(m.name) },
            "Source": m.source,
            "Destination": m.destination,
            "Driver": if m.kind == "volume" { json!("local") } else { Value::Null },
            "Mode": m.mode,
            "RW": m.rw,
            "Propagation": if m.kind == "bind" { "rprivate" } else { "" },
        })).collect::<Vec<_>>(),
        "Config": {
            "Hostname": c.config.hostname,
            "Domainname": "",
            "User": c.config.user,
            "AttachStdin": false,
            "AttachStdout": false,
            "AttachStderr": false,
            "Tty": false,
            "OpenStdin": c.config.open_stdin,
            "StdinOnce": false,
            "Env": c.config.env,
            "Cmd": c.config.cmd,
            "Image": c.image,
            "Volumes": null,
            "WorkingDir": c.config.working_dir,
            "Entrypoint": if c.config.entrypoint.is_empty() { Value::Null } else { json!(c.config.entrypoint) },
            "Labels": c.config.labels,
            "StopSignal": if c.config.stop_signal.is_empty() { Value::Null } else { json!(c.config.stop_signal) },
            "Healthcheck": c.config.healthcheck,
        },
        "NetworkSettings": network_settings(eng, c),
    })
}

/// Docker's `NetworkSettings`: every network the container is on
/// (`NetworkSettings.Networks`, with its address, MAC, gateway and endpoint while it
/// runs), the published ports, and at the top level the default network's address,
/// as Docker shows it.
fn network_settings(eng: &Engine, c: &Container) -> Value {
    let mode = c.host.network_mode.clone();
    let manager = eng.networks().ok();
    let mut ports = serde_json::Map::new();
    for p in c.state.endpoint.iter().flat_map(|e| &e.ports) {
        let key = format!("{}/{}", p.container_port, p.protocol);
        let entry = ports.entry(key).or_insert_with(|| json!([]));
        if let Some(list) = entry.as_array_mut() {
            list.push(json!({
                "HostIp": p.host_ip.unwrap_or(std::net::Ipv4Addr::UNSPECIFIED).to_string(),
                "HostPort": p.host_port.to_string(),
            }));
        }
    }
    let attachments = c.host.attachments();
    let mut networks = serde_json::Map::new();
    if attachments.is_empty() && !berth_engine::network::is_bridge(&mode) {
        networks.insert(
            mode.clone(),
            json!({
                "NetworkID": "",
                "EndpointID": "",
                "Gateway": "",
                "IPAddress": "",
                "IPPrefixLen": 0,
                "MacAddress": "",
            }),
        );
    }
    let mut top = json!({"Gateway": "", "IPAddress": "", "IPPrefixLen": 0, "MacAddress": ""});
    for a in &attachments {
        let net = manager.as_ref().and_then(|m| m.network(&a.name).ok());
        let ep = c.state.endpoints.get(&a.name).or_else(|| {
            // A record of a container started before it kept every endpoint.
            (attachments.len() == 1)
                .then_some(c.state.endpoint.as_ref())
                .flatten()
        });
        let (gateway, prefix) = match (&net, ep) {
            (Some(n), Some(_)) => (n.gateway.to_string(), n.subnet.prefix_len()),
            _ => (String::new(), 0),
        };
        let mac = ep
            .map(|e| e.mac.clone())
            .or_else(|| a.mac.clone())
            .unwrap_or_default();
        let ip = ep.map(|e| e.ip.to_string()).unwrap_or_default();
        let names = match ep {
            Some(e) if !e.names.is_empty() => json!(e.names),
            _ => Value::Null,
        };
        if a.name == berth_network::DEFAULT_NETWORK && ep.is_some() {
            top = json!({"Gateway": gateway, "IPAddress": ip, "IPPrefixLen": prefix, "MacAddress": mac});
        }
        networks.insert(
            a.name.clone(),
            json!({
                "IPAMConfig": a.ip.map(|ip| json!({"IPv4Address": ip.to_string()})),
                "Links": null,
                "Aliases": if a.aliases.is_empty() { Value::Null } else { json!(a.aliases) },
                "MacAddress": mac,
                "NetworkID": net.map(|n| n.id).unwrap_or_default(),
                "EndpointID": ep.map(|e| e.id.clone()).unwrap_or_default(),
                "Gateway": gateway,
                "IPAddress": ip,
                "IPPrefixLen": prefix,
                "IPv6Gateway": "",
                "GlobalIPv6Address": "",
                "GlobalIPv6PrefixLen": 0,
                "DNSNames": names,
            }),
        );
    }
    json!({
        "Bridge": "",
        "SandboxID": "",
        "Ports": ports,
        "Gateway": top["Gateway"],
        "IPAddress": top["IPAddress"],
        "IPPrefixLen": top["IPPrefixLen"],
        "MacAddress": top["MacAddress"],
        "Networks": networks,
    })
}

fn inspect(eng: &Engine, a: InspectArgs) -> CmdResult {
    let tmpl = inspect_template(a.format.as_deref())?;
    let mut docs = Vec::new();
    let mut failed = false;
    for n in &a.containers {
        match eng.find(n) {
            Ok(c) => docs.push(inspect_doc(eng, &c)),
            Err(e) => {
                eprintln!("{}", Fail::from(e).message);
                failed = true;
            }
        }
    }
    print_docs(tmpl.as_ref(), &docs)?;
    crate::fail_if(failed)
}

/// `top`: the host's `ps` (docker runs it too), rows limited to the container's pids.
fn top(eng: &Engine, a: TopArgs) -> CmdResult {
    let pids = eng.pids(&a.container)?;
    let opts = if a.ps_options.is_empty() {
        vec!["-ef".to_string()]
    } else {
        a.ps_options
    };
    let out = std::process::Command::new("ps")
        .args(&opts)
        .output()
        .map_err(|e| Fail {
            code: 1,
            message: format!("Error response from daemon: error running top: {e}"),
        })?;
    if !out.status.success() {
        return Err(Fail::user(format!(
            "ps: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let col = header
        .split_whitespace()
        .position(|h| h == "PID")
        .ok_or_else(|| Fail::user("Couldn't find PID field in ps output"))?;
    let mut rows = vec![header.split_whitespace().collect::<Vec<_>>().join("\t")];
    let ncols = header.split_whitespace().count();
    for l in lines {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.get(col)
            .and_then(|p| p.parse::<i32>().ok())
            .is_some_and(|p| pids.contains(&p))
        {
            // The last column (the command) may hold spaces.
            let mut cells: Vec<String> = f.iter().take(ncols - 1).map(|s| s.to_string()).collect();
            cells.push(
                f.iter()
                    .skip(ncols - 1)
                    .copied()
                    .collect::<Vec<_>>()
                    .join(" "),
            );
            rows.push(cells.join("\t"));
        }
    }
    print!("{}", tabwrite(&(rows.join("\n") + "\n")));
    Ok(())
}

/// go-units' BytesSize: binary units with up to two decimals (`1.5MiB`).
fn bytes_size(v: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut x = v as f64;
    let mut i = 0;
    while x >= 1024.0 && i + 1 < units.len() {
        x /= 1024.0;
        i += 1;
    }
    format!(
        "{}{}",
        crate::units::go_g((x * 100.0).round() / 100.0, 4),
        units[i]
    )
}

fn stats_rows(eng: &Engine, a: &StatsArgs) -> Result<String, Fail> {
    let names: Vec<String> = if a.containers.is_empty() {
        eng.list()?
            .into_iter()
            .filter(|c| a.all || c.state.status == Status::Running)
            .map(|c| c.id)
            .collect()
    } else {
        a.containers.clone()
    };
    let mut text = String::from(
        "CONTAINER ID\tNAME\tCPU %\tMEM USAGE / LIMIT\tMEM %\tNET I/O\tBLOCK I/O\tPIDS\n",
    );
    for n in &names {
        let c = eng.find(n)?;
        let id = if a.no_trunc {
            c.id.clone()
        } else {
            c.id[..12].to_string()
        };
        if c.state.status != Status::Running {
            text.push_str(&format!(
                "{id}\t{}\t0.00%\t0B / 0B\t0.00%\t0B / 0B\t0B / 0B\t0\n",
                c.name
            ));
            continue;
        }
        let (c, u) = eng.usage(&c.id, std::time::Duration::from_millis(500))?;
        let s = &u.sample;
        let mem_pct = if s.mem_limit > 0 {
            s.mem_usage as f64 / s.mem_limit as f64 * 100.0
        } else {
            0.0
        };
        text.push_str(&format!(
            "{id}\t{}\t{:.2}%\t{} / {}\t{:.2}%\t{} / {}\t{} / {}\t{}\n",
            c.name,
            u.cpu_percent,
            bytes_size(s.mem_usage),
            bytes_size(s.mem_limit),
            mem_pct,
            crate::units::human_size(s.net.0),
            crate::units::human_size(s.net.1),
            crate::units::human_size(s.block.0),
            crate::units::human_size(s.block.1),
            s.pids
        ));
    }
    Ok(tabwrite(&text))
}

/// `stats`: one table with `--no-stream`, else refreshed every second.
fn stats(eng: &Engine, a: StatsArgs) -> CmdResult {
    if a.no_stream {
        print!("{}", stats_rows(eng, &a)?);
        return Ok(());
    }
    loop {
        let table = stats_rows(eng, &a)?;
        print!("\x1b[2J\x1b[H{table}");
        let _ = std::io::stdout().flush();
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
}

/// `container prune`: removes every container that does not run.
fn prune(eng: &Engine, a: PruneArgs) -> CmdResult {
    if !a.force && !crate::confirmed("WARNING! This will remove all stopped containers.") {
        return Ok(());
    }
    let mut deleted = Vec::new();
    for c in eng.list()? {
        if matches!(
            c.state.status,
            Status::Created | Status::Exited | Status::Dead
        ) && eng.remove(&c.id, false, false).is_ok()
        {
            deleted.push(c.id);
        }
    }
    if !deleted.is_empty() {
        println!("Deleted Containers:");
        for id in &deleted {
            println!("{id}");
        }
    }
    Ok(())
}

/// `export`: the container's root filesystem as a tar stream, to `-o` or stdout
/// (never to a terminal).
fn export(eng: &Engine, a: ExportArgs) -> CmdResult {
    match &a.output {
        Some(p) => {
            let tmp = p.with_extension("berth-export-tmp");
            let mut f = std::fs::File::create(&tmp)
                .map_err(|e| Fail::usage(format!("failed to export container: {e}")))?;
            let r = eng.export(&a.container, &mut f);
            if let Err(e) = r {
                let _ = std::fs::remove_file(&tmp);
                return Err(e.into());
            }
            std::fs::rename(&tmp, p)
                .map_err(|e| Fail::usage(format!("failed to export container: {e}")))
        }
        None => {
            if crate::is_tty(1) {
                return Err(Fail::usage(
                    "cowardly refusing to save to a terminal. Use the -o flag or redirect",
                ));
            }
            let out = std::io::stdout();
            let mut lock = out.lock();
            eng.export(&a.container, &mut lock)?;
            Ok(())
        }
    }
}

/// `update`: new limits and restart policy for existing containers.
fn update(eng: &Engine, a: UpdateArgs) -> CmdResult {
    let o = berth_engine::manage::UpdateOptions {
        memory: a.memory.as_deref().map(parse_memory).transpose()?,
        memory_swap: match a.memory_swap.as_deref() {
            None => None,
            Some("-1") => Some(-1),
            Some(v) => Some(berth_engine::options::parse_ram(v).ok_or_else(|| {
                Fail::usage(format!(
                    "invalid argument \"{v}\" for \"--memory-swap\" flag: invalid size: '{v}'"
                ))
            })?),
        },
        nano_cpus: a.cpus.as_deref().map(parse_cpus).transpose()?,
        cpu_shares: a.cpu_shares,
        cpuset_cpus: a.cpuset_cpus,
        pids_limit: a.pids_limit,
        restart: a
            .restart
            .as_deref()
            .map(berth_engine::record::RestartPolicy::parse)
            .transpose()?,
    };
    each(&a.containers, |n| {
        eng.update(n, &o)?;
        println!("{n}");
        Ok(())
    })
}

/// Parses Docker's `--detach-keys` (`ctrl-p,ctrl-q`, `a`, `ctrl-@`...) into bytes.
fn detach_keys(spec: &str) -> Result<Vec<u8>, Fail> {
    let mut out = Vec::new();
    for k in spec.split(',') {
        let b = match k.strip_prefix("ctrl-") {
            Some(c) if c.len() == 1 => {
                let ch = c.as_bytes()[0].to_ascii_lowercase();
                match ch {
                    b'a'..=b'z' => ch - b'a' + 1,
                    b'@' => 0,
                    b'[' => 27,
                    b'\\' => 28,
                    b']' => 29,
                    b'^' => 30,
                    b'_' => 31,
                    _ => return Err(Fail::usage(format!("Unknown character: '{c}'"))),
                }
            }
            None if k.len() == 1 => k.as_bytes()[0],
            _ => return Err(Fail::usage(format!("Unknown character: '{k}'"))),
        };
        out.push(b);
    }
    Ok(out)
}

/// `attach`: the container's output here, this input there, through its
/// monitor's socket; the detach keys leave it running.
fn attach(eng: &Engine, a: AttachArgs) -> CmdResult {
    use std::io::Read;
    let keys = detach_keys(&a.detach_keys)?;
    let c = eng.find(&a.container)?;
    if c.state.status != Status::Running {
        return Err(Fail::user(
            "You cannot attach to a stopped container, start it first",
        ));
    }
    let path = berth_engine::monitor::attach_socket(eng, &c.id)
        .ok_or_else(|| Fail::user(format!("container {} cannot be attached to", c.id)))?;
    let sock = std::os::unix::net::UnixStream::connect(&path)
        .map_err(|e| Fail::user(format!("cannot attach to container {}: {e}", c.id)))?;
    let raw = (c.config.tty && !a.no_stdin && crate::is_tty(0)).then(RawMode::enter);
    let detached = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    if !a.no_stdin && (c.config.open_stdin || c.config.tty) {
        let mut to = sock
            .try_clone()
            .map_err(|e| Fail::user(format!("attach: {e}")))?;
        let flag = detached.clone();
        std::thread::spawn(move || {
            let mut stdin = std::io::stdin().lock();
            let mut buf = [0u8; 1024];
            let mut matched = 0;
            while let Ok(n) = stdin.read(&mut buf) {
                if n == 0 {
                    break;
                }
                for &b in &buf[..n] {
                    matched = if b == keys[matched] {
                        matched + 1
                    } else if b == keys[0] {
                        1
                    } else {
                        0
                    };
                    if matched == keys.len() {
                        flag.store(true, std::sync::atomic::Ordering::SeqCst);
                        let _ = to.shutdown(std::net::Shutdown::Both);
                        return;
                    }
                }
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        });
    }
    let mut from = sock;
    let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
    let mut buf = vec![0u8; 32 * 1024];
    if c.config.tty {
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 || out.write_all(&buf[..n]).is_err() {
                break;
            }
            let _ = out.flush();
        }
    } else {
        let mut header = [0u8; 8];
        while from.read_exact(&mut header).is_ok() {
            let len = u32::from_be_bytes([header[4], header[5], header[6], header[7]]) as usize;
            if buf.len() < len {
                buf.resize(len, 0);
            }
            if from.read_exact(&mut buf[..len]).is_err() {
                break;
            }
            let w: &mut dyn Write = if header[0] == 2 { &mut err } else { &mut out };
            let _ = w.write_all(&buf[..len]);
            let _ = w.flush();
        }
    }
    drop(raw);
    if detached.load(std::sync::atomic::Ordering::SeqCst) {
        return Ok(());
    }
    crate::exit_with(eng.wait(&c.id).unwrap_or(0))
}
