//! Fuzz-style property test: a panicking PID 1 kills the container (panic=abort in the dist
//! profile), so every parser and command-line front must return errors, never panic, on any
//! input.

use std::ffi::OsString;

use kimigayo_init::{cli, commands, pid1, services, shutdown::mountinfo};
use proptest::prelude::*;

fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "--", "-", "--json", "-a", "-s", "-e", "-r", "-l", "-v", "--all", "--runlevel", "--runlevel=", "--vm",
            "--container", "--no-services", "-abc", "--exists", "--resolve=x", "add", "del", "show", "start", "stop",
            "status", "zap", "restart", "default", "boot", "nosuch", "../etc", "", "=", "-h=1",
        ])
        .prop_map(str::to_string),
        "[ -~]{0,12}",
        ".{0,6}",
    ]
}

fn args() -> impl Strategy<Value = Vec<OsString>> {
    prop::collection::vec(word(), 0..7).prop_map(|v| v.into_iter().map(OsString::from).collect())
}

fn mountinfo_text() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        Just("36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue".to_string()),
        Just("1 0 8:1 / / rw - ext4 /dev/sda1 rw".to_string()),
        "[0-9 :/a-z\\\\,-]{0,60}",
        ".{0,40}",
    ];
    prop::collection::vec(line, 0..6).prop_map(|v| v.join("\n"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn parsers_return_errors_instead_of_panicking(a in args(), text in mountinfo_text(), s in ".{0,30}", sig in any::<i32>(), main in any::<bool>()) {
        let spec = [cli::Opt::flag(Some('a'), "all"), cli::Opt::value(Some('r'), "runlevel"), cli::Opt::flag(None, "json")];
        let _ = cli::parse("x", &spec, &a, false);
        let _ = cli::parse("x", &spec, &a, true);
        let _ = pid1::parse_args(&a);
        let _ = mountinfo::parse(&text);
        if let Ok(m) = mountinfo::parse(&text) {
            let _ = mountinfo::unmount_order(&m);
        }
        let _ = mountinfo::unescape(&s);
        let _ = pid1::procs::parse_stat(&s);
        let _ = services::parse_seconds(&s);
        let _ = pid1::signals::classify(sig, main);
        let _ = pid1::signals::name(sig);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 150, ..ProptestConfig::default() })]

    // The command fronts over an empty root: whatever the arguments, an exit code comes back.
    #[test]
    fn commands_return_exit_codes_on_any_arguments(a in args()) {
        static ROOT: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
        let root = ROOT.get_or_init(|| {
            let d = tempfile::tempdir().unwrap();
            std::fs::create_dir_all(d.path().join("etc/init.d")).unwrap();
            std::fs::create_dir_all(d.path().join("etc/runlevels/default")).unwrap();
            d
        });
        std::env::set_var("KIMIGAYO_ROOT", root.path());
        for code in [commands::rc_service::main(&a), commands::rc_update::main(&a), commands::rc_status::main(&a)] {
            prop_assert!((0..=255).contains(&code));
        }
    }
}
