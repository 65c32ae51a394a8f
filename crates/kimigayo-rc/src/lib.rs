//! The OpenRC on-disk model for Kimigayo's init: what the services are, what they declare,
//! which are enabled, and in which order they start and stop.
//!
//! - [`RcRoot`]: where `/etc/init.d`, `/etc/conf.d`, `/etc/runlevels`, `/etc/rc.conf` live.
//! - [`load_catalog`]: every script's `depend()` metadata, read by sourcing the scripts in a
//!   shell exactly as OpenRC does ([`extract`]), cached per file ([`cache`]).
//! - [`start_plan`] / [`stop_plan`]: the pure ordering core (waves, cycles, virtual services).
//! - [`runlevel`]: `rc-update add|del|show`; [`apply_system_conf`]: system.conf's
//!   `services.auto_start` / `services.disabled`.
//! - [`read_shell_vars`], [`RcConf`]: simple conf files without a shell.

pub mod cache;
mod error;
pub mod extract;
mod meta;
pub mod order;
mod rcconf;
mod root;
pub mod runlevel;
mod shellvars;
mod sysconf;
pub mod system;

pub use cache::{load_catalog, load_catalog_with, LoadReport};
pub use error::{OrderError, RcError};
pub use extract::LoadOptions;
pub use meta::{Catalog, LoadFailure, ServiceMeta};
pub use order::{start_plan, start_plan_lenient, stop_plan, DepKind, Edge, Plan};
pub use rcconf::{yesno, RcConf};
pub use root::{is_ignored_name, validate_service_name, RcRoot};
pub use shellvars::{parse_shell_vars, read_shell_vars, MAX_VALUE};
pub use sysconf::{apply_system_conf, disabled_set};
pub use system::RcSys;
