//! `kimigayo`: the Kimigayo OS build front end. Parses arguments and calls the libraries;
//! `./configure` and `make` are thin wrappers around these subcommands.

mod bench;
mod bench_image;
mod bench_vm;
mod commands;
mod vm;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

const ABOUT: &str = "Build Kimigayo OS: recipes → hardened, reproducible musl packages";

const LONG_ABOUT: &str = "\
Build Kimigayo OS from its recipes.

Every component under recipes/ is fetched from sources pinned by SHA-256, built in a
bubblewrap sandbox against musl with the configured hardening, audited, and packaged as a
deterministic archive plus JSON metadata in a local repository (out/repo by default).
Builds are cached by the hash of all their inputs outside the checkout
($KIMIGAYO_CACHE_DIR, else $XDG_CACHE_HOME/kimigayo, else ~/.cache/kimigayo).

ENVIRONMENT
  SOURCE_DATE_EPOCH       timestamp embedded in every output (default: last git commit)
  KIMIGAYO_CACHE_DIR      build cache folder
  KIMIGAYO_SOURCE_MIRROR  folder of source files (by name or SHA-256) tried before the network

EXAMPLES
  kimigayo configure --arch=x86_64 --security-hardening=full
  kimigayo build                    # everything
  kimigayo build busybox --applets=-vi,+nc
  kimigayo verify                   # rebuild from scratch and compare digests
  kimigayo audit out/rootfs --json";

#[derive(Parser)]
#[command(name = "kimigayo", version, about = ABOUT, long_about = LONG_ABOUT)]
struct Cli {
    /// Project root (holds recipes/ and toolchain/). Default: found from the current folder.
    #[arg(long, global = true, value_name = "DIR")]
    project: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check the host and write config.mk (what ./configure runs)
    #[command(long_about = "Validate the build configuration and the host, and write config.mk for make.\n\n\
        ARCH accepts x86_64 and arm64 (alias aarch64); arm64 is accepted here and refused by the\n\
        build with a clear error until the cross build lands. CROSS_COMPILE must match ARCH.")]
    Configure(commands::ConfigureArgs),
    /// Build recipes into packages in the repository
    #[command(long_about = "Build the named recipes (all when none are named and no --image is given) and their\n\
        build dependencies. --image SPEC adds what an image spec's packages need (their recipes and\n\
        runtime dependencies): `make` builds images/base.yaml this way, without the kernel.\n\n\
        Each component shows its progress and elapsed time, and a long step (cargo, the kernel)\n\
        prints a \"still running\" line every 15 s; the full log is in <cache>/logs/. All Rust\n\
        components share one cargo build, whose C dependencies compile with the project's musl\n\
        toolchain. A component whose inputs are unchanged is reused from the cache. At\n\
        --security-hardening=full a binary missing a protection fails the build and nothing is\n\
        published. Afterwards the repository index is signed with the local build key (only what\n\
        this build produced, or what that key signed before).")]
    Build(commands::BuildArgs),
    /// Rebuild from scratch in a fresh folder and compare every package bit for bit
    #[command(long_about = "Rebuild every recipe the repository holds packages of, from scratch in a new folder (no build cache, no toolchain reuse;\n\
        sources come from the hash-verified source cache) and compare each package with the\n\
        recorded repository. On a mismatch the first differing file inside the package and the\n\
        byte offset are named and the exit status is 1.")]
    Verify(commands::VerifyArgs),
    /// Audit ELF hardening of files or a root filesystem
    #[command(long_about = "Audit the hardening of every ELF executable and shared object under the given paths:\n\
        pie, relro, bind-now, nx-stack, no-textrel, stack-protector, fortify. Correct on static-pie\n\
        binaries (where checksec and hardening-check misreport). Exit 1 when a protection required\n\
        by --level is missing.")]
    Audit(commands::AuditArgs),
    /// Fetch and verify sources without building
    Fetch(commands::FetchArgs),
    /// List the recipes (validating every one)
    Recipes(commands::RecipesArgs),
    /// Print the path of the assembled musl toolchain (building musl if needed)
    Toolchain(commands::ToolchainArgs),
    /// Remove build outputs (out/); with --cache also the build cache
    Clean(commands::CleanArgs),
    /// Build or inspect OCI images from the package repository
    #[command(subcommand)]
    Image(commands::ImageCmd),
    /// Benchmark: cold and warm build of every component, package sizes (what `make bench` runs)
    #[command(long_about = "Build every component twice in a fresh build cache — cold, then warm (all reused) —\n\
        and print per-component times and package sizes. The source cache is shared, so network\n\
        time is not measured. Nothing is asserted: compare the numbers across changes.")]
    Bench(commands::BenchArgs),
    /// Build or boot the Kimigayo VM (kernel + initramfs) under QEMU
    #[command(subcommand)]
    Vm(vm::VmCmd),
}

fn main() -> ExitCode {
    // A closed stdout (`… | head -n1`) ends the program quietly, like a Unix tool, instead of
    // a "failed printing to stdout" panic. Transactions are crash-safe, and their report is
    // printed after the commit.
    // SAFETY: resetting a signal disposition at startup, before any thread exists.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Configure(a) => commands::configure(cli.project, a),
        Command::Build(a) => commands::build(cli.project, a),
        Command::Verify(a) => commands::verify(cli.project, a),
        Command::Audit(a) => commands::audit(a),
        Command::Fetch(a) => commands::fetch(cli.project, a),
        Command::Recipes(a) => commands::recipes(cli.project, a),
        Command::Toolchain(a) => commands::toolchain(cli.project, a),
        Command::Clean(a) => commands::clean(cli.project, a),
        Command::Bench(a) => commands::bench(cli.project, a),
        Command::Image(c) => commands::image(cli.project, c),
        Command::Vm(c) => vm::vm(cli.project, c),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("kimigayo: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
