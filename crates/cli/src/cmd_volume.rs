//! `berth volume create/ls/inspect/rm`: named volumes, with docker's output.

use berth_engine::Engine;
use clap::{Args, Subcommand};
use serde_json::json;

use crate::template::{inspect_template, print_docs, print_rows};
use crate::{CmdResult, Fail};

/// `berth volume ...`.
#[derive(Subcommand)]
pub enum VolumeCmd {
    /// Create a volume
    Create(CreateArgs),
    /// List volumes
    #[command(alias = "list")]
    Ls(LsArgs),
    /// Display detailed information on one or more volumes
    Inspect(InspectArgs),
    /// Remove one or more volumes
    #[command(alias = "remove")]
    Rm(RmArgs),
    /// Remove unused anonymous volumes (all unused ones with -a)
    Prune(PruneArgs),
}

/// `volume prune`'s flags.
#[derive(Args)]
pub struct PruneArgs {
    /// Remove all unused volumes, not just anonymous ones
    #[arg(short, long)]
    all: bool,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    force: bool,
}

/// `volume create`'s arguments.
#[derive(Args)]
pub struct CreateArgs {
    /// The volume's name (generated when not given)
    name: Option<String>,
}

/// `volume ls`'s flags.
#[derive(Args)]
pub struct LsArgs {
    /// Only display volume names
    #[arg(short, long)]
    quiet: bool,
    /// Format output using a custom template
    #[arg(long)]
    format: Option<String>,
}

/// `volume inspect`'s arguments.
#[derive(Args)]
pub struct InspectArgs {
    /// Format output using a custom template
    #[arg(short, long)]
    format: Option<String>,
    /// The volumes
    #[arg(required = true)]
    volumes: Vec<String>,
}

/// `volume rm`'s flags.
#[derive(Args)]
pub struct RmArgs {
    /// Force the removal of one or more volumes
    #[arg(short, long)]
    force: bool,
    /// The volumes
    #[arg(required = true)]
    volumes: Vec<String>,
}

pub fn doc(v: &berth_engine::volume::Volume) -> serde_json::Value {
    json!({
        "CreatedAt": v.created_at,
        "Driver": v.driver,
        "Labels": null,
        "Mountpoint": v.mountpoint,
        "Name": v.name,
        "Options": null,
        "Scope": "local",
    })
}

/// Runs a volume command.
pub fn dispatch(eng: &Engine, cmd: VolumeCmd) -> CmdResult {
    match cmd {
        VolumeCmd::Create(a) => {
            let name = match a.name {
                Some(n) => n,
                None => berth_engine::names::new_id()?,
            };
            let v = eng.volume_create(&name)?;
            println!("{}", v.name);
            Ok(())
        }
        VolumeCmd::Ls(a) => {
            let vols = eng.volumes()?;
            if a.quiet {
                for v in &vols {
                    println!("{}", v.name);
                }
                return Ok(());
            }
            let rows: Vec<_> = vols.iter().map(doc).collect();
            print_rows(
                a.format.as_deref(),
                "table {{.Driver}}\t{{.Name}}",
                &[("Driver", "DRIVER"), ("Name", "VOLUME NAME")],
                &rows,
            )
        }
        VolumeCmd::Inspect(a) => {
            let tmpl = inspect_template(a.format.as_deref())?;
            let mut docs = Vec::new();
            let mut failed = false;
            for n in &a.volumes {
                match eng.volume_inspect(n) {
                    Ok(v) => docs.push(doc(&v)),
                    Err(e) => {
                        eprintln!("{}", Fail::from(e).message);
                        failed = true;
                    }
                }
            }
            print_docs(tmpl.as_ref(), &docs)?;
            crate::fail_if(failed)
        }
        VolumeCmd::Prune(a) => {
            if !a.force
                && !crate::confirmed(
                    "WARNING! This will remove anonymous local volumes not used by at least one container.",
                )
            {
                return Ok(());
            }
            let (removed, bytes) = eng.volume_prune(a.all)?;
            if !removed.is_empty() {
                println!("Deleted Volumes:");
                for n in &removed {
                    println!("{n}");
                }
                println!();
            }
            println!("Total reclaimed space: {}", crate::units::human_size(bytes));
            Ok(())
        }
        VolumeCmd::Rm(a) => {
            let mut failed = false;
            for n in &a.volumes {
                match eng.volume_remove(n, a.force) {
                    Ok(()) => println!("{n}"),
                    Err(e) => {
                        eprintln!("{}", Fail::from(e).message);
                        failed = true;
                    }
                }
            }
            crate::fail_if(failed)
        }
    }
}
