//! Restart policies across reboots without a daemon: `berth system boot` (for a
//! boot-time unit, contrib/systemd/berth-boot.service) and the same reconciliation
//! done by whichever berth command comes first after a boot.

use std::path::Path;

use berth_engine::boot::Action;

use crate::CmdResult;

/// Before any command: the boot reconciliation, if this boot has not had it. It
/// never fails the command; containers that could not be brought back are named on
/// stderr.
pub fn on_command(root: &Path, state: &Path) {
    if berth_engine::boot::done(state) {
        return;
    }
    let Ok(eng) = crate::open_engine(root, state) else {
        return;
    };
    if let Ok(Some(report)) = eng.boot_once() {
        for (name, action) in report {
            if let Action::Failed(e) = action {
                eprintln!("berth: could not restart container {name} after boot: {e}");
            }
        }
    }
}

/// `berth system boot`: the boot reconciliation (once per boot); prints the
/// containers it started and removed, fails (1) if one could not be started.
pub fn system_boot(root: &Path, state: &Path) -> CmdResult {
    let eng = crate::open_engine(root, state)?;
    let mut failed = false;
    for (name, action) in eng.boot_once()?.unwrap_or_default() {
        match action {
            Action::Started => println!("started {name}"),
            Action::Removed => println!("removed {name}"),
            Action::Failed(e) => {
                eprintln!("Error response from daemon: cannot restart container {name}: {e}");
                failed = true;
            }
        }
    }
    crate::fail_if(failed)
}
