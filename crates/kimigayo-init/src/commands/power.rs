//! `poweroff`, `reboot`, `halt`: ask PID 1 to shut down (see pid1::signals for the mapping);
//! `-f` skips init and calls reboot(2) directly after a sync.

use std::ffi::OsString;

use crate::cli::{self, Opt};
use crate::pid1::signals::{self, Power};

const SPEC: &[Opt] = &[Opt::flag(Some('h'), "help"), Opt::flag(Some('f'), "force"), Opt::flag(Some('n'), "no-sync")];

pub fn main(power: Power, args: &[OsString]) -> i32 {
    let applet = power.name();
    let p = match cli::parse(applet, SPEC, args, false) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    if p.has("help") {
        print!("{}", crate::help::POWER);
        return 0;
    }
    if p.has("force") {
        if !p.has("no-sync") {
            // SAFETY: sync(2) cannot fail.
            unsafe { libc::sync() };
        }
        let cmd = match power {
            Power::Poweroff => libc::RB_POWER_OFF,
            Power::Reboot => libc::RB_AUTOBOOT,
            Power::Halt => libc::RB_HALT_SYSTEM,
        };
        // SAFETY: reboot(2); returns only on failure.
        unsafe { libc::reboot(cmd) };
        eprintln!("{applet}: reboot(2): {}; are you root?", std::io::Error::last_os_error());
        return 1;
    }
    let sig = match power {
        Power::Poweroff => signals::SIG_POWEROFF,
        Power::Reboot => signals::SIG_REBOOT,
        Power::Halt => signals::SIG_HALT,
    };
    // SAFETY: plain syscall.
    if unsafe { libc::kill(1, sig) } != 0 {
        eprintln!("{applet}: cannot signal PID 1: {}; are you root?", std::io::Error::last_os_error());
        return 1;
    }
    0
}
