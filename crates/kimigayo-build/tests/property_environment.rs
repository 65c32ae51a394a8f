//! Property 20: different build environments give the same checksum.
//! (A test binary of its own: it changes process-wide state — environment and umask.)

mod common;

use common::*;
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct Env {
    tz: &'static str,
    lang: &'static str,
    umask: u32,
    jobs: usize,
    depth: usize,
    noise: String,
    uid: Option<u32>,
}

fn env() -> impl Strategy<Value = Env> {
    (
        prop::sample::select(vec!["UTC", "Asia/Tokyo", "America/Los_Angeles", "Pacific/Chatham"]),
        prop::sample::select(vec!["C", "C.UTF-8", "ja_JP.UTF-8", "de_DE.ISO-8859-1"]),
        prop::sample::select(vec![0o022u32, 0o077, 0o002, 0o027]),
        1usize..4,
        0usize..4,
        "[a-z]{1,12}",
        prop::option::of(1000u32..60000),
    )
        .prop_map(|(tz, lang, umask, jobs, depth, noise, uid)| Env { tz, lang, umask, jobs, depth, noise, uid })
}

fn build_in(s: &Scratch, e: &Env) -> Vec<u8> {
    std::env::set_var("TZ", e.tz);
    std::env::set_var("LANG", e.lang);
    std::env::set_var("LC_ALL", e.lang);
    std::env::set_var("KIMIGAYO_NOISE", &e.noise);
    std::env::set_var("CFLAGS", "-O0 -fno-stack-protector");
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(e.umask));
    let mut work = s.dir.path().join(format!("work-{}", e.noise));
    for i in 0..e.depth {
        work = work.join(format!("level{i}-{}", e.noise));
    }
    std::fs::create_dir_all(&work).unwrap();
    let bytes = build_prog(s, |c| {
        c.jobs = e.jobs;
        c.work_dir = Some(work.clone());
        c.sandbox_uid = e.uid;
    });
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o022));
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 100, failure_persistence: None, ..ProptestConfig::default() })]

    // **Feature: kimigayo-os-core, Property 20: 任意のソースコードに対して、Build_Systemは異なるビルド環境で同一のチェックサムを生成しなければならない**
    #[test]
    fn different_environments_give_the_same_checksum(prog in c_program(), link in linkage(), a in env(), b in env()) {
        let s = scratch_with_program(&prog, link);
        let first = build_in(&s, &a);
        let second = build_in(&s, &b);
        prop_assert_eq!(kimigayo_package::sha256_hex(&first), kimigayo_package::sha256_hex(&second),
            "{:?} vs {:?}: {:?}", a, b, kimigayo_package::compare_archives(&first, &second));
    }
}
