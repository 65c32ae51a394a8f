//! Validation of the metadata fields that end up in files or paths: account declarations
//! (written as lines of etc/passwd, etc/group, etc/shadow) and the package identity (used to
//! name files in a repository). Applied where metadata enters: recipe parsing, index build,
//! index load and install; every error names the field and says what is allowed.

use crate::{GroupDecl, PackageMeta, UserDecl};

/// Longest account name (the usual `LOGIN_NAME_MAX`-safe limit of shadow-utils' useradd).
pub const MAX_ACCOUNT_NAME: usize = 32;

/// A rejected field: where, what and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub value: String,
    pub reason: String,
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} `{}`: {}", self.field, self.value.escape_debug(), self.reason)
    }
}

fn fail(field: &str, value: &str, reason: &str) -> FieldError {
    FieldError { field: field.to_string(), value: value.chars().take(80).collect(), reason: reason.to_string() }
}

/// A portable account name: `[a-z_][a-z0-9_-]*`, optionally ending in `$`, at most 32 bytes.
pub fn valid_account_name(s: &str) -> bool {
    let b = s.as_bytes();
    let body = b.strip_suffix(b"$").unwrap_or(b);
    !body.is_empty()
        && s.len() <= MAX_ACCOUNT_NAME
        && (body[0].is_ascii_lowercase() || body[0] == b'_')
        && body.iter().all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_' || c == b'-')
}

/// A value that becomes one field of a colon-separated account line.
fn line_field(field: &str, value: &str, max: usize) -> Result<(), FieldError> {
    if value.contains(':') {
        return Err(fail(field, value, "contains `:`, which would split the account line into other fields"));
    }
    if value.chars().any(|c| c.is_control()) {
        return Err(fail(field, value, "contains a newline or control character, which would start another account line"));
    }
    if value.len() > max {
        return Err(fail(field, value, &format!("longer than {max} bytes")));
    }
    Ok(())
}

fn account_path(field: &str, value: &str) -> Result<(), FieldError> {
    line_field(field, value, 256)?;
    if !value.starts_with('/') || value.split('/').any(|c| c == "..") {
        return Err(fail(field, value, "must be an absolute path without `..`"));
    }
    Ok(())
}

fn id(field: &str, v: u32, name: &str) -> Result<(), FieldError> {
    if v == u32::MAX || v == u16::MAX as u32 {
        return Err(fail(field, &v.to_string(), "is reserved (it means \"no id\" to the kernel and libc)"));
    }
    if v == 0 && name != "root" {
        return Err(fail(field, "0", "only `root` may have id 0: a package may not declare another superuser"));
    }
    Ok(())
}

impl UserDecl {
    /// Check every field; `at` prefixes the field names (e.g. `users[1]`).
    pub fn validate(&self, at: &str) -> Result<(), FieldError> {
        if !valid_account_name(&self.name) {
            return Err(fail(
                &format!("{at}.name"),
                &self.name,
                "is not a portable account name (lowercase letters, digits, `_` and `-`, starting with a letter or `_`, at most 32 bytes)",
            ));
        }
        id(&format!("{at}.uid"), self.uid, &self.name)?;
        id(&format!("{at}.gid"), self.gid, &self.name)?;
        line_field(&format!("{at}.gecos"), &self.gecos, 256)?;
        account_path(&format!("{at}.home"), &self.home)?;
        account_path(&format!("{at}.shell"), &self.shell)
    }
}

impl GroupDecl {
    pub fn validate(&self, at: &str) -> Result<(), FieldError> {
        if !valid_account_name(&self.name) {
            return Err(fail(&format!("{at}.name"), &self.name, "is not a portable group name (lowercase letters, digits, `_` and `-`, starting with a letter or `_`, at most 32 bytes)"));
        }
        id(&format!("{at}.gid"), self.gid, &self.name)?;
        for (i, m) in self.members.iter().enumerate() {
            if !valid_account_name(m) {
                return Err(fail(&format!("{at}.members[{i}]"), m, "is not a portable account name"));
            }
        }
        Ok(())
    }
}

/// Package names as repositories use them in file names.
fn valid_package_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && b[0].is_ascii_alphanumeric()
        && b.iter().all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'+' | b'-' | b'.' | b'_'))
}

/// Architectures a package may declare.
pub const ARCHITECTURES: &[&str] = &["x86_64", "aarch64", "noarch"];

impl PackageMeta {
    /// The fields used to name files (`name`, `version`, `architecture`, `filename`): safe as
    /// one path component and consistent with each other.
    pub fn validate_identity(&self) -> Result<(), FieldError> {
        if !valid_package_name(&self.name) {
            return Err(fail("name", &self.name, "is not a package name (lowercase letters, digits, `+ - . _`, starting with a letter or digit)"));
        }
        if self.version.is_empty() || self.version.len() > 128 || !self.version.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'+' | b'_' | b'~')) {
            return Err(fail("version", &self.version, "is not a version (letters, digits and `. - + _ ~`)"));
        }
        if !ARCHITECTURES.contains(&self.architecture.as_str()) {
            return Err(fail("architecture", &self.architecture, &format!("is not one of {}", ARCHITECTURES.join(", "))));
        }
        let expected = format!("{}.tar.gz", Self::stem(&self.name, &self.version, &self.architecture));
        if self.filename != expected {
            return Err(fail("filename", &self.filename, &format!("must be `{expected}` (name-version.arch.tar.gz)")));
        }
        Ok(())
    }

    /// Identity and every account declaration; the error names the package and the field.
    pub fn validate(&self) -> Result<(), String> {
        let who = format!("package {}-{}", self.name.escape_debug(), self.version.escape_debug());
        self.validate_identity().map_err(|e| format!("{who}: {e}"))?;
        for (i, u) in self.users.iter().enumerate() {
            u.validate(&format!("users[{i}]")).map_err(|e| format!("{who}: {e}"))?;
        }
        for (i, g) in self.groups.iter().enumerate() {
            g.validate(&format!("groups[{i}]")).map_err(|e| format!("{who}: {e}"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str, uid: u32, gecos: &str, home: &str, shell: &str) -> UserDecl {
        UserDecl { name: name.into(), uid, gid: uid, home: home.into(), shell: shell.into(), gecos: gecos.into() }
    }

    #[test]
    fn account_injection_is_refused_with_the_field_named() {
        let ok = user("nginx", 101, "nginx web server", "/var/lib/nginx", "/sbin/nologin");
        assert!(ok.validate("users[0]").is_ok());
        let cases = [
            (user("nginx", 101, "x\nevil::0:0::/:/bin/sh", "/", "/sbin/nologin"), "users[0].gecos"),
            (user("nginx", 101, "a:b", "/", "/sbin/nologin"), "users[0].gecos"),
            (user("nginx", 101, "", "/root:0", "/sbin/nologin"), "users[0].home"),
            (user("nginx", 101, "", "/", "/bin/sh\nroot2::0:0::/:/bin/sh"), "users[0].shell"),
            (user("nginx", 101, "", "relative", "/sbin/nologin"), "users[0].home"),
            (user("evil:x:0", 101, "", "/", "/sbin/nologin"), "users[0].name"),
            (user("Root", 101, "", "/", "/sbin/nologin"), "users[0].name"),
            (user("-rf", 101, "", "/", "/sbin/nologin"), "users[0].name"),
            (user(&"a".repeat(33), 101, "", "/", "/sbin/nologin"), "users[0].name"),
            (user("toor", 0, "", "/", "/bin/sh"), "users[0].uid"),
            (user("nginx", u32::MAX, "", "/", "/sbin/nologin"), "users[0].uid"),
            (user("nginx", 65535, "", "/", "/sbin/nologin"), "users[0].uid"),
        ];
        for (u, field) in cases {
            let e = u.validate("users[0]").unwrap_err();
            assert_eq!(e.field, field, "{u:?}: {e}");
        }
        let g = GroupDecl { name: "www".into(), gid: 101, members: vec!["nginx".into(), "a\nb".into()] };
        assert_eq!(g.validate("groups[0]").unwrap_err().field, "groups[0].members[1]");
        assert!(valid_account_name("_apt") && valid_account_name("machine$") && valid_account_name("nonroot"));
    }
}
