//! `berth`: docker's command line over berth's engine. For now, the image commands.
//!
//! Exit codes follow docker's CLI: 0 on success, 1 when the engine refuses what was
//! asked (no such image, conflict, bad archive; printed as docker prints daemon
//! errors) or when a command gets the wrong number of arguments, 125 for unknown
//! flags and for failures of the engine itself (a disk error in the store).

mod cmd_archive;
mod cmd_boot;
mod cmd_container;
mod cmd_images;
mod cmd_inspect;
mod cmd_network;
mod cmd_remove;
mod cmd_volume;
mod template;
mod units;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// A failure with the exit code docker would use.
#[derive(Debug)]
pub struct Fail {
    /// Exit status.
    pub code: u8,
    /// What to print on stderr.
    pub message: String,
}

impl Fail {
    /// A refusal of what the user asked (exit 1, docker's "Error response from daemon").
    pub fn user(msg: impl std::fmt::Display) -> Fail {
        Fail {
            code: 1,
            message: format!("Error response from daemon: {msg}"),
        }
    }

    /// A usage mistake found after parsing (exit 1, plain "Error:").
    pub fn usage(msg: impl std::fmt::Display) -> Fail {
        Fail {
            code: 1,
            message: format!("Error: {msg}"),
        }
    }

    /// Exit 1 with `msg` printed as it is.
    pub fn plain(msg: impl Into<String>) -> Fail {
        Fail {
            code: 1,
            message: msg.into(),
        }
    }
}

/// Exit 1 with nothing more to print when some of a command's items failed (each was
/// reported as it failed, the others done), as docker's `rm a b`.
pub fn fail_if(failed: bool) -> CmdResult {
    if failed { Err(Fail::plain("")) } else { Ok(()) }
}

impl Fail {
    /// An error of the engine or the image store: a refusal of what was asked (exit 1,
    /// as [`Fail::user`]) when `user`, else a failure of berth itself (125).
    fn of_error(user: bool, e: impl std::fmt::Display) -> Fail {
        if user {
            Fail::user(e)
        } else {
            Fail {
                code: 125,
                message: format!("Error: {e}"),
            }
        }
    }
}

/// A container's exit code as the command's (run, start -a, exec, attach): success
/// for 0, else that code with nothing more to print.
pub fn exit_with(code: i32) -> CmdResult {
    match code {
        0 => Ok(()),
        code => Err(Fail {
            code: code as u8,
            message: String::new(),
        }),
    }
}

impl From<berth_image::Error> for Fail {
    fn from(e: berth_image::Error) -> Fail {
        Fail::of_error(e.is_user_error(), e)
    }
}

impl From<berth_engine::Error> for Fail {
    fn from(e: berth_engine::Error) -> Fail {
        Fail::of_error(e.is_user_error(), e)
    }
}

/// The result of a command.
pub type CmdResult = Result<(), Fail>;

#[derive(Parser)]
#[command(
    name = "berth",
    version,
    about = "A container engine with docker's command line"
)]
struct Cli {
    /// Root of persistent state (images, layers, snapshots).
    #[arg(
        long,
        global = true,
        env = "BERTH_ROOT",
        default_value = "/var/lib/berth"
    )]
    root: PathBuf,
    /// Root of runtime state that a reboot clears (container runtime state, locks).
    #[arg(long, global = true, env = "BERTH_STATE", default_value = "/run/berth")]
    state: PathBuf,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
#[expect(
    clippy::large_enum_variant,
    reason = "parsed once per process; boxing would only complicate every match"
)]
enum Cmd {
    /// List images
    Images(cmd_images::ImagesArgs),
    /// Manage images
    Image {
        #[command(subcommand)]
        cmd: ImageCmd,
    },
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(cmd_remove::TagArgs),
    /// Remove one or more images
    Rmi(cmd_remove::RmiArgs),
    /// Show the history of an image
    History(cmd_images::HistoryArgs),
    /// Import the contents from a tarball to create a filesystem image
    Import(cmd_archive::ImportArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default)
    Save(cmd_archive::SaveArgs),
    /// Load an image from a tar archive or STDIN
    Load(cmd_archive::LoadArgs),
    #[command(flatten)]
    Containers(cmd_container::ContainerCmds),
    /// Manage berth
    System {
        #[command(subcommand)]
        cmd: SystemCmd,
    },
}

#[derive(Subcommand)]
enum ImageCmd {
    /// List images
    #[command(alias = "list")]
    Ls(cmd_images::ImagesArgs),
    /// Display detailed information on one or more images
    Inspect(cmd_inspect::InspectArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(cmd_remove::TagArgs),
    /// Remove one or more images
    #[command(alias = "remove")]
    Rm(cmd_remove::RmiArgs),
    /// Remove unused images
    Prune(cmd_remove::PruneArgs),
    /// Show the history of an image
    History(cmd_images::HistoryArgs),
    /// Import the contents from a tarball to create a filesystem image
    Import(cmd_archive::ImportArgs),
    /// Save one or more images to a tar archive
    Save(cmd_archive::SaveArgs),
    /// Load an image from a tar archive or STDIN
    Load(cmd_archive::LoadArgs),
}

#[derive(Subcommand)]
enum SystemCmd {
    /// Show berth disk usage
    Df(DfArgs),
    /// Start the containers a reboot ended that their restart policy brings back
    /// (once per boot; the first berth command of a boot does it too)
    Boot,
    /// Reset berth storage back to its initial state: every container, image, volume
    /// and network, the default network's bridge too
    Reset(ResetArgs),
}

#[derive(Args)]
struct ResetArgs {
    /// Do not prompt for confirmation
    #[arg(short, long)]
    force: bool,
}

#[derive(Args)]
struct DfArgs {
    /// Show detailed information on space usage
    #[arg(short, long)]
    verbose: bool,
}

fn main() -> ExitCode {
    if let Some(code) = monitor_fast_path() {
        return code;
    }
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind as K;
            let code = match e.kind() {
                K::DisplayHelp
                | K::DisplayVersion
                | K::DisplayHelpOnMissingArgumentOrSubcommand => 0,
                // docker: "requires exactly N arguments" is exit 1; flag errors 125.
                K::MissingRequiredArgument
                | K::TooManyValues
                | K::WrongNumberOfValues
                | K::TooFewValues => 1,
                _ => 125,
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    if !carries_streams(&cli.cmd) {
        // A closed pipe ends the command quietly, as it does docker's (`berth ps | head`);
        // Rust's runtime ignores SIGPIPE, which turns it into a panic at the next print.
        // SAFETY: restoring a signal's default disposition has no preconditions.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    }
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            if !f.message.is_empty() {
                eprintln!("{}", f.message);
            }
            ExitCode::from(f.code)
        }
    }
}

/// Runs the monitor when berth was started as `monitor::spawn` starts it — `--root R
/// --state S __monitor ID --sync-fd N [--attach FDS]`, exactly — without clap: building
/// clap's command tree costs every container start about half a millisecond the
/// monitor need not pay. Any other shape goes through clap (the `__monitor` subcommand
/// there is the same).
fn monitor_fast_path() -> Option<ExitCode> {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let [
        root_flag,
        root,
        state_flag,
        state,
        sub,
        id,
        sync_flag,
        sync_fd,
        rest @ ..,
    ] = args.as_slice()
    else {
        return None;
    };
    if root_flag != "--root"
        || state_flag != "--state"
        || sub != "__monitor"
        || sync_flag != "--sync-fd"
    {
        return None;
    }
    let attach: Vec<i32> = match rest {
        [] => Vec::new(),
        [flag, fds] if flag == "--attach" => fds
            .to_str()?
            .split(',')
            .map(|n| n.parse().ok())
            .collect::<Option<_>>()?,
        _ => return None,
    };
    let sync_fd: i32 = sync_fd.to_str()?.parse().ok()?;
    let id = id.to_str()?;
    let exe = std::env::current_exe().ok()?;
    let Ok(eng) = berth_engine::Engine::open(root.as_ref(), state.as_ref(), &exe) else {
        return Some(ExitCode::from(125));
    };
    berth_engine::monitor::run(&eng, id, sync_fd, &attach);
    Some(ExitCode::SUCCESS)
}

/// Commands that carry a container's streams, and the monitor: they keep SIGPIPE
/// ignored and handle a closed pipe as an error, so a reader going away never kills
/// them before the container's exit is reported (or, for the monitor, at all).
fn carries_streams(cmd: &Cmd) -> bool {
    use cmd_container::{ContainerCmds as C, ContainerSub as S};
    matches!(
        cmd,
        Cmd::Containers(
            C::Monitor(_)
                | C::Run(_)
                | C::Start(_)
                | C::Attach(_)
                | C::Exec(_)
                | C::Container {
                    cmd: S::Run(_) | S::Start(_) | S::Attach(_) | S::Exec(_)
                }
        )
    )
}

fn run(cli: Cli) -> CmdResult {
    let store = || berth_image::Store::open(&cli.root).map_err(Fail::from);
    // The first command after a boot brings back what Docker's daemon would at its
    // start (not the monitors berth runs, not a reset).
    if !matches!(
        cli.cmd,
        Cmd::Containers(cmd_container::ContainerCmds::Monitor(_))
            | Cmd::System {
                cmd: SystemCmd::Boot | SystemCmd::Reset(_)
            }
    ) {
        cmd_boot::on_command(&cli.root, &cli.state);
    }
    match cli.cmd {
        Cmd::Images(a)
        | Cmd::Image {
            cmd: ImageCmd::Ls(a),
        } => cmd_images::images(&store()?, a),
        Cmd::Image {
            cmd: ImageCmd::Inspect(a),
        } => cmd_inspect::inspect(&store()?, a),
        Cmd::Tag(a)
        | Cmd::Image {
            cmd: ImageCmd::Tag(a),
        } => cmd_remove::tag(&store()?, a),
        Cmd::Rmi(a)
        | Cmd::Image {
            cmd: ImageCmd::Rm(a),
        } => cmd_remove::rmi(&store()?, a),
        Cmd::Image {
            cmd: ImageCmd::Prune(a),
        } => cmd_remove::prune(&store()?, a),
        Cmd::History(a)
        | Cmd::Image {
            cmd: ImageCmd::History(a),
        } => cmd_images::history(&store()?, a),
        Cmd::Import(a)
        | Cmd::Image {
            cmd: ImageCmd::Import(a),
        } => cmd_archive::import(&store()?, a),
        Cmd::Save(a)
        | Cmd::Image {
            cmd: ImageCmd::Save(a),
        } => cmd_archive::save(&store()?, a),
        Cmd::Load(a)
        | Cmd::Image {
            cmd: ImageCmd::Load(a),
        } => cmd_archive::load(&store()?, a),
        Cmd::System {
            cmd: SystemCmd::Df(a),
        } => cmd_images::df(&store()?, a.verbose),
        Cmd::System {
            cmd: SystemCmd::Reset(a),
        } => reset(&cli.root, &cli.state, a.force),
        Cmd::System {
            cmd: SystemCmd::Boot,
        } => cmd_boot::system_boot(&cli.root, &cli.state),
        Cmd::Containers(c) => cmd_container::dispatch(&cli.root, &cli.state, c),
    }
}

/// `berth system reset`: asks first unless `force`, as podman does.
fn reset(root: &std::path::Path, state: &std::path::Path, force: bool) -> CmdResult {
    if !force {
        eprint!(
            "WARNING! This will remove:\n\t- all containers\n\t- all images\n\t- all networks\n\t- all volumes\nAre you sure you want to continue? [y/N] "
        );
        let mut answer = String::new();
        let _ = std::io::stdin().read_line(&mut answer);
        if !matches!(answer.trim(), "y" | "Y" | "yes" | "Yes") {
            return Ok(());
        }
    }
    open_engine(root, state)?.reset()?;
    Ok(())
}

/// The engine over `root` and `state`, with berth's own executable as the one it
/// re-executes for monitors.
pub fn open_engine(
    root: &std::path::Path,
    state: &std::path::Path,
) -> Result<berth_engine::Engine, Fail> {
    let exe = std::env::current_exe().map_err(|e| Fail {
        code: 125,
        message: format!("Error: cannot find berth's own executable: {e}"),
    })?;
    Ok(berth_engine::Engine::open(root, state, &exe)?)
}

/// Asks on stderr, after `warning`, whether to go on, as the prune commands do: true
/// when the answer read from stdin is y, Y or yes.
pub fn confirmed(warning: &str) -> bool {
    eprint!("{warning}\nAre you sure you want to continue? [y/N] ");
    let mut answer = String::new();
    let _ = std::io::stdin().read_line(&mut answer);
    matches!(answer.trim(), "y" | "Y" | "yes")
}

/// True when file descriptor `fd` is a terminal.
pub fn is_tty(fd: i32) -> bool {
    // SAFETY: isatty only reads the descriptor number.
    unsafe { libc::isatty(fd) == 1 }
}
