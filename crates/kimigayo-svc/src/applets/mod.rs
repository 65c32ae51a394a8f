//! The applets scripts call: start-stop-daemon, supervise-daemon, checkpath, openrc-run.
//! Each `*_main` takes argv without argv[0] and returns the exit code.

pub mod checkpath;
pub mod getopt;
pub mod openrc_run;
pub mod proc;
pub mod ssd;
pub mod supervise;

/// Dispatch by applet name (argv[0] basename of the multi-call binary, or its first argument).
pub fn dispatch(applet: &str, args: &[std::ffi::OsString]) -> Option<i32> {
    Some(match applet {
        "start-stop-daemon" => ssd::start_stop_daemon_main(args),
        "supervise-daemon" => supervise::supervise_daemon_main(args),
        "checkpath" => checkpath::checkpath_main(args),
        "openrc-run" => openrc_run::openrc_run_main(args),
        "holder" | "--holder" => crate::holder::holder_main(args),
        _ => return None,
    })
}
