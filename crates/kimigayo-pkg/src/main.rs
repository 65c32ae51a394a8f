//! `kpkg`: the Kimigayo package manager command. Thin: parses arguments, calls kimigayo_pkg.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use anyhow::{anyhow, bail, Context, Result};
use clap::{Parser, Subcommand};
use kimigayo_pkg::{Advisory, Report, Root};
use kimigayo_sign::{PublicKey, SecretKey};

const LONG_ABOUT: &str = "\
Install, remove and upgrade Kimigayo packages in a root filesystem.

Every package is checked against the signed repository index: its SHA-256 and its OpenPGP
signature are verified with the keys trusted by the target root (ROOT/etc/kimigayo/keys/)
before a byte is unpacked. Each command is one atomic transaction: it fully happens or the
root is left exactly as it was, even if kpkg is killed or the disk fills up; an interrupted
transaction is rolled back at the next run. No package script ever runs.

FILES (inside ROOT)
  etc/kimigayo/keys/*.asc        trusted OpenPGP public keys
  etc/kimigayo/repositories      repository folders or URLs, one per line (mirrors: a|b)
  etc/kimigayo/arch              the root's architecture (else system.conf, else the host's)
  var/lib/kpkg/installed.json    installed packages, their files and the requested world

EXIT STATUS
  0 success; 1 the operation was refused or failed (nothing changed); 2 usage error.";

#[derive(Parser)]
#[command(name = "kpkg", version, about = "Kimigayo package manager", long_about = LONG_ABOUT)]
struct Cli {
    /// Target root filesystem
    #[arg(long, global = true, default_value = "/")]
    root: PathBuf,
    /// Repository (folder or URL); repeatable; overrides ROOT/etc/kimigayo/repositories
    #[arg(long = "repo", global = true)]
    repos: Vec<String>,
    /// Architecture of the root (x86_64, aarch64)
    #[arg(long, global = true)]
    arch: Option<String>,
    /// Machine-readable output
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Install packages and their dependencies (constraints like 'musl>=1.2')
    Add { packages: Vec<String> },
    /// Remove packages and the dependencies nothing else needs
    Del { packages: Vec<String> },
    /// Upgrade installed packages, security fixes first
    Upgrade {
        /// Apply only upgrades that fix an advisory
        #[arg(long)]
        security_only: bool,
    },
    /// Show a package's metadata from the index
    Info { package: String },
    /// List installed packages (or --available ones)
    List {
        #[arg(long)]
        available: bool,
    },
    /// Check installed files against the database (modified, missing)
    Verify,
    /// List installed packages with open security advisories
    Audit,
    /// Repository operations
    #[command(subcommand)]
    Index(IndexCmd),
    /// Key management
    #[command(subcommand)]
    Key(KeyCmd),
}

#[derive(Subcommand)]
enum IndexCmd {
    /// Sign every package in REPO_DIR and write the signed index (index.json + index.json.sig)
    Build {
        repo_dir: PathBuf,
        /// Secret key file (armored) to sign with
        #[arg(long)]
        sign: PathBuf,
        /// Index serial number (must grow; default: current UNIX time)
        #[arg(long)]
        serial: Option<u64>,
        /// Days until the index expires
        #[arg(long, default_value_t = 30)]
        valid_days: u64,
        /// JSON file with a list of advisories [{id, package, severity, fixed_in, summary}]
        #[arg(long)]
        advisories: Option<PathBuf>,
        /// The repository's name, which roots pin (`origin=NAME` on their repository line);
        /// default: the folder's name
        #[arg(long)]
        origin: Option<String>,
    },
}

#[derive(Subcommand)]
enum KeyCmd {
    /// Generate a signing key pair
    Generate {
        #[arg(long)]
        name: String,
        /// Where to write the secret key (armored)
        #[arg(long)]
        secret: PathBuf,
        /// Where to write the public key (armored)
        #[arg(long)]
        public: PathBuf,
        #[arg(long)]
        expires_days: Option<u64>,
    },
    /// Trust a public key: copy it into ROOT/etc/kimigayo/keys/<fingerprint>.asc
    Import { file: PathBuf },
    /// Print the root's trusted public keys (armored)
    Export,
    /// List the root's trusted keys
    List,
}

fn print_report(r: &Report, json: bool) {
    if json {
        println!("{}", serde_json::to_string_pretty(r).unwrap_or_default());
        return;
    }
    if r.changes.is_empty() {
        println!("nothing to do");
    }
    for c in &r.changes {
        let sec = if c.security { " [security]" } else { "" };
        match (c.from.as_deref(), c.to.as_deref()) {
            (None, Some(t)) => println!("add      {} {t}{sec}", c.package),
            (Some(f), Some(t)) => println!("{:<8} {} {f} -> {t}{sec}", c.action, c.package),
            (Some(f), None) => println!("remove   {} {f}", c.package),
            _ => {}
        }
    }
    if let Some(w) = &r.warning {
        eprintln!("kpkg: warning: {w}");
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    let open = || Root::open(&cli.root, &cli.repos, cli.arch.as_deref()).map_err(|e| anyhow!("{e}"));
    let none = kimigayo_txn::NoFaults;
    match cli.cmd {
        Cmd::Add { ref packages } => {
            if packages.is_empty() {
                bail!("name at least one package, e.g. `kpkg add busybox`");
            }
            print_report(&open()?.add(packages, &none)?, cli.json);
        }
        Cmd::Del { ref packages } => print_report(&open()?.del(packages, &none)?, cli.json),
        Cmd::Upgrade { security_only } => print_report(&open()?.upgrade(security_only, &none)?, cli.json),
        Cmd::Info { ref package } => {
            let metas: Vec<_> = open()?.indexes()?.into_iter().flat_map(|i| i.packages).filter(|m| &m.name == package).collect();
            if metas.is_empty() {
                bail!("no package named `{package}` in the repositories");
            }
            println!("{}", serde_json::to_string_pretty(&metas)?);
        }
        Cmd::List { available } => {
            let root = open()?;
            if available {
                let idx = root.indexes()?;
                for m in idx.iter().flat_map(|i| &i.packages) {
                    println!("{:<20} {:<14} {}", m.name, m.version, m.architecture);
                }
            } else {
                let db = root.database()?;
                if cli.json {
                    println!("{}", serde_json::to_string_pretty(&db.packages)?);
                } else {
                    for p in db.packages.values() {
                        println!("{:<20} {:<14} {}", p.name, p.version, p.arch);
                    }
                }
            }
        }
        Cmd::Verify => {
            let problems = open()?.verify()?;
            if cli.json {
                println!("{}", serde_json::to_string_pretty(&problems)?);
            } else {
                for p in &problems {
                    println!("{p}");
                }
                if problems.is_empty() {
                    println!("all installed files match the database");
                }
            }
            return Ok(if problems.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) });
        }
        Cmd::Audit => {
            let open_adv = open()?.audit()?;
            if cli.json {
                let v: Vec<_> = open_adv.iter().map(|(n, v, a)| serde_json::json!({"package": n, "installed": v, "advisory": a})).collect();
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                for (n, v, a) in &open_adv {
                    println!("{n} {v}: {} ({}) fixed in {} — {}", a.id, a.severity, a.fixed_in, a.summary);
                }
                if open_adv.is_empty() {
                    println!("no open advisories for installed packages");
                }
            }
            return Ok(if open_adv.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) });
        }
        Cmd::Index(IndexCmd::Build { repo_dir, sign, serial, valid_days, advisories, origin }) => {
            let text = std::fs::read_to_string(&sign).with_context(|| format!("reading {}", sign.display()))?;
            let key = SecretKey::from_armored(&text).map_err(|e| anyhow!("{}: {e}", sign.display()))?;
            let adv: Vec<Advisory> = match advisories {
                Some(p) => serde_json::from_slice(&std::fs::read(&p)?).with_context(|| format!("{}: expected a JSON list of advisories", p.display()))?,
                None => Vec::new(),
            };
            let now = SystemTime::now();
            let serial = serial.unwrap_or_else(|| now.duration_since(SystemTime::UNIX_EPOCH).map_or(1, |d| d.as_secs()));
            let origin = origin.unwrap_or_else(|| repo_dir.canonicalize().unwrap_or(repo_dir.clone()).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default());
            let idx = kimigayo_pkg::build_named_index(&repo_dir, &origin, &key, serial, Duration::from_secs(valid_days * 86_400), adv, now)?;
            println!("signed {} packages; index serial {} expires in {valid_days} days ({})", idx.packages.len(), idx.serial, key.fingerprint());
        }
        Cmd::Key(KeyCmd::Generate { name, secret, public, expires_days }) => {
            let k = SecretKey::generate(&name, expires_days.map(|d| Duration::from_secs(d * 86_400)))?;
            std::fs::write(&secret, k.to_armored())?;
            std::fs::write(&public, k.public().to_armored())?;
            println!("{}", k.fingerprint());
        }
        Cmd::Key(KeyCmd::Import { file }) => {
            let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let k = PublicKey::from_armored_or_binary(&bytes).map_err(|e| anyhow!("{}: {e}", file.display()))?;
            let dir = cli.root.join(kimigayo_pkg::KEYS_DIR);
            std::fs::create_dir_all(&dir)?;
            std::fs::write(dir.join(format!("{}.asc", k.fingerprint())), k.to_armored())?;
            println!("trusted {} {}", k.fingerprint(), k.user_ids().join(", "));
        }
        Cmd::Key(KeyCmd::Export) => {
            for k in open()?.keys.keys() {
                print!("{}", k.to_armored());
            }
        }
        Cmd::Key(KeyCmd::List) => {
            for k in open()?.keys.keys() {
                println!("{} {}{}", k.fingerprint(), k.user_ids().join(", "), if k.is_revoked() { " [revoked]" } else { "" });
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    // A closed stdout (`… | head -n1`) ends the program quietly, like a Unix tool, instead of
    // a "failed printing to stdout" panic. Transactions are crash-safe, and their report is
    // printed after the commit.
    // SAFETY: resetting a signal disposition at startup, before any thread exists.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    match run(Cli::parse()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("kpkg: {e:#}");
            ExitCode::from(1)
        }
    }
}
