//! `tag`, `rmi` and `image prune`.

use std::io::{BufRead, Write};

use clap::Args;

use berth_image::store::Removed;
use berth_image::{Reference, Store};

use crate::units::human_size;
use crate::{CmdResult, Fail};

/// `tag` arguments.
#[derive(Args)]
pub struct TagArgs {
    /// SOURCE_IMAGE[:TAG]
    source: String,
    /// TARGET_IMAGE[:TAG]
    target: String,
}

/// `berth tag`.
pub fn tag(store: &Store, a: TagArgs) -> CmdResult {
    let target = Reference::parse_with_default_tag(&a.target).map_err(Fail::from)?;
    store.tag(&a.source, &target)?;
    Ok(())
}

/// `rmi` flags.
#[derive(Args)]
pub struct RmiArgs {
    /// Force removal of the image
    #[arg(short, long)]
    force: bool,
    /// The images
    #[arg(required = true)]
    images: Vec<String>,
}

/// `berth rmi`: each image in turn; errors are reported and the rest still removed.
pub fn rmi(store: &Store, a: RmiArgs) -> CmdResult {
    let mut failed = None;
    for name in &a.images {
        match store.remove(name, a.force) {
            Ok(events) => {
                for e in events {
                    match e {
                        Removed::Untagged(r) => println!("Untagged: {}", r.familiar()),
                        Removed::Deleted(d) => println!("Deleted: {d}"),
                    }
                }
            }
            Err(e) => {
                let f = Fail::from(e);
                eprintln!("{}", f.message);
                failed = Some(f.code);
            }
        }
    }
    match failed {
        None => Ok(()),
        // Each error is already printed; docker exits non-zero after the last image.
        Some(code) => Err(Fail {
            code,
            message: String::new(),
        }),
    }
}

/// `image prune` flags.
#[derive(Args)]
pub struct PruneArgs {
    /// Remove all unused images, not just dangling ones
    #[arg(short, long)]
    all: bool,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    force: bool,
}

/// `berth image prune`.
pub fn prune(store: &Store, a: PruneArgs) -> CmdResult {
    if !a.force {
        let warning = if a.all {
            "WARNING! This will remove all images without at least one container associated to them."
        } else {
            "WARNING! This will remove all dangling images."
        };
        print!("{warning}\nAre you sure you want to continue? [y/N] ");
        let _ = std::io::stdout().flush();
        let mut answer = String::new();
        let _ = std::io::stdin().lock().read_line(&mut answer);
        if !matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
            return Ok(());
        }
    }
    let (events, freed) = store.prune(a.all)?;
    if !events.is_empty() {
        println!("Deleted Images:");
        for e in events {
            match e {
                Removed::Untagged(r) => println!("untagged: {}", r.familiar()),
                Removed::Deleted(d) => println!("deleted: {d}"),
            }
        }
        println!();
    }
    println!("Total reclaimed space: {}", human_size(freed));
    Ok(())
}
