//! A throwaway GnuPG home for the interoperability tests.

use std::path::PathBuf;
use std::process::{Command, Output};

use kimigayo_sign::{Keyring, PublicKey};

pub const DATA: &[u8] = b"Kimigayo OS repository index\nbusybox 1.36.1-r0\n";

pub struct Gpg {
    home: tempfile::TempDir,
}

impl Gpg {
    pub fn new() -> Gpg {
        let found = Command::new("gpg").arg("--version").output();
        assert!(
            found.is_ok_and(|o| o.status.success()),
            "these tests need GnuPG 2.2 as `gpg` on PATH (Debian: apt-get install gnupg)"
        );
        Gpg {
            home: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.home.path().join(name)
    }

    pub fn run(&self, args: &[&str]) -> Output {
        Command::new("gpg")
            .env("GNUPGHOME", self.home.path())
            .args([
                "--batch",
                "--no-tty",
                "--yes",
                "--pinentry-mode",
                "loopback",
            ])
            .args(["--passphrase", ""])
            .args(args)
            .output()
            .expect("run gpg")
    }

    pub fn ok(&self, args: &[&str]) -> Vec<u8> {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "gpg {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    /// Create a key; returns its primary fingerprint.
    pub fn gen_key(
        &self,
        uid: &str,
        algo: &str,
        usage: &str,
        expire: &str,
        extra: &[&str],
    ) -> String {
        let mut args = extra.to_vec();
        args.extend(["--quick-gen-key", uid, algo, usage, expire]);
        self.ok(&args);
        self.fingerprints(uid).0
    }

    pub fn fingerprints(&self, uid: &str) -> (String, Vec<String>) {
        let listing = self.ok(&["--with-colons", "--list-keys", uid]);
        let (mut primary, mut subs, mut last) = (String::new(), Vec::new(), "");
        for line in String::from_utf8(listing).unwrap().lines() {
            let fields: Vec<&str> = line.split(':').collect();
            match fields[0] {
                "pub" | "sub" => last = if fields[0] == "pub" { "pub" } else { "sub" },
                "fpr" if last == "pub" && primary.is_empty() => primary = fields[9].to_string(),
                "fpr" if last == "sub" => subs.push(fields[9].to_string()),
                _ => {}
            }
        }
        assert_eq!(primary.len(), 40, "no key for {uid}");
        (primary, subs)
    }

    pub fn export(&self, fpr: &str) -> Vec<u8> {
        self.ok(&["--armor", "--export", fpr])
    }

    /// Detached signature over DATA; `armor` chooses `--armor`.
    pub fn sign(&self, fpr: &str, armor: bool, extra: &[&str]) -> Vec<u8> {
        let data = self.path("data");
        std::fs::write(&data, DATA).unwrap();
        let out = self.path("data.sig");
        let mut args = extra.to_vec();
        args.extend(["--local-user", fpr]);
        if armor {
            args.push("--armor");
        }
        args.extend([
            "--output",
            out.to_str().unwrap(),
            "--detach-sign",
            data.to_str().unwrap(),
        ]);
        self.ok(&args);
        std::fs::read(out).unwrap()
    }

    /// `gpg --verify` with status output; returns (exit success, status lines).
    pub fn verify(&self, data: &[u8], sig: &[u8]) -> (bool, String) {
        let (d, s) = (self.path("check.data"), self.path("check.sig"));
        std::fs::write(&d, data).unwrap();
        std::fs::write(&s, sig).unwrap();
        let out = self.run(&[
            "--status-fd",
            "1",
            "--verify",
            s.to_str().unwrap(),
            d.to_str().unwrap(),
        ]);
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }

    pub fn import(&self, bytes: &[u8]) {
        let file = self.path("import.asc");
        std::fs::write(&file, bytes).unwrap();
        self.ok(&["--import", file.to_str().unwrap()]);
    }
}

impl Drop for Gpg {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .env("GNUPGHOME", self.home.path())
            .args(["--kill", "gpg-agent"])
            .output();
    }
}

pub fn ring(keys: &[u8]) -> Keyring {
    let mut ring = Keyring::new();
    for key in PublicKey::all_from_armored_or_binary(keys).unwrap() {
        ring.add(key, "test");
    }
    ring
}

pub fn flip(bytes: &[u8], index: usize) -> Vec<u8> {
    let mut changed = bytes.to_vec();
    changed[index] ^= 0x01;
    changed
}
