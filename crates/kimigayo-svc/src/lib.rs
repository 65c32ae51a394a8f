//! kimigayo-svc owns ONE service's lifecycle:
//!
//! - the openrc-run runtime: an embedded shell library (`sh/runtime.sh`) giving init scripts
//!   ebegin/eend/einfo/…, checkpath, start-stop-daemon, default start/stop/status, hooks and
//!   extra commands ([`runtime`]);
//! - the holder: the sandboxed process that owns a service's namespaces, runs its actions,
//!   reaps its processes and notices when it dies ([`holder`]);
//! - per-service state under `<root>/run/kimigayo/svc/<svc>/` ([`state`]);
//! - what happens when namespaces cannot be created (an unprivileged container):
//!   `sandbox_unavailable` ([`fallback`]), and stopping a service that has no PID namespace by
//!   its holder's process tree ([`tree`]);
//! - failure handling (design property 25): the failure log ([`failure`]) and the retry policy
//!   ([`retry`]);
//! - the applets start-stop-daemon, supervise-daemon, checkpath, openrc-run ([`applets`]).
//!
//! Ordering many services, runlevels and the CLIs live in kimigayo-rc and kimigayo-init.

pub mod action;
pub mod applets;
pub mod conf;
pub mod env;
pub mod error;
pub mod failure;
pub mod fallback;
pub mod holder;
pub mod pump;
pub mod retry;
pub mod runtime;
pub mod state;
pub mod tree;

pub use action::{run_action, status};
pub use kimigayo_sandbox as sandbox;
pub use applets::checkpath::checkpath_main;
pub use applets::dispatch;
pub use applets::openrc_run::openrc_run_main;
pub use applets::ssd::start_stop_daemon_main;
pub use applets::supervise::supervise_daemon_main;
pub use env::{Action, Outcome, SvcEnv};
pub use error::SvcError;
pub use holder::holder_main;
pub use state::{ServiceStatus, State};
