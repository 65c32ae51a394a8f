//! Man-page style `--help` texts (kept as plain text files in src/help/).

pub const INIT: &str = include_str!("help/init.txt");
pub const RC_SERVICE: &str = include_str!("help/rc-service.txt");
pub const RC_UPDATE: &str = include_str!("help/rc-update.txt");
pub const RC_STATUS: &str = include_str!("help/rc-status.txt");
pub const POWER: &str = include_str!("help/power.txt");
