//! kimigayo-init owns the `kimigayo-init` multi-call binary: PID 1 (subreaper, synchronous
//! signal handling, reaping, container and VM modes), boot orchestration in dependency waves,
//! shutdown (property 26), and the rc-service / rc-update / rc-status / poweroff commands
//! (property 27). The OpenRC model comes from kimigayo-rc, one service's lifecycle from
//! kimigayo-svc; `backend` is the only module that talks to them.

pub mod applet;
pub mod backend;
pub mod cli;
pub mod commands;
pub mod ctx;
pub mod help;
pub mod log;
pub mod orchestrate;
pub mod pid1;
pub mod services;
pub mod shutdown;

pub use applet::main;
