//! One fragment file: its symbols in order, each with the line it came from.

use kimigayo_kconfig::{Config, KconfigError, Value};

use crate::KernelError;

/// Where a requested value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The fragment's name (`hardening`, `modules/ext4`, or a user file's stem).
    pub fragment: String,
    /// The file as the user should see it (`kernel/fragments/hardening.config`).
    pub file: String,
    pub line: usize,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fragment {
    pub name: String,
    pub file: String,
    /// Symbol settings in file order (a symbol set twice in one file keeps both; the last wins).
    pub settings: Vec<(String, Value, usize)>,
}

impl Fragment {
    /// Parse fragment text. `file` is only used in messages and origins.
    pub fn parse(name: &str, file: &str, text: &str) -> Result<Fragment, KernelError> {
        let mut settings = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            // Reuse the .config line grammar of kimigayo-kconfig, one line at a time, so each
            // setting keeps its line number.
            let one = Config::parse(raw).map_err(|e| match e {
                KconfigError::Syntax { text, .. } => KernelError::FragmentSyntax { file: file.to_string(), line: i + 1, text },
                other => KernelError::Profile { file: file.to_string(), message: other.to_string() },
            })?;
            let first = one.symbols().next().map(|(s, v)| (s.to_string(), v.clone()));
            if let Some((sym, v)) = first {
                if let Value::Literal(l) = &v {
                    // `CONFIG_X=y # why` would silently become the string value `y # why`.
                    if l.contains(" #") || l.contains("\t#") {
                        return Err(KernelError::FragmentSyntax { file: file.to_string(), line: i + 1, text: raw.to_string() });
                    }
                }
                settings.push((sym, v, i + 1));
            } else if raw.trim_start().starts_with("# CONFIG_") && !raw.trim_end().ends_with(" is not set") {
                // `# CONFIG_X is not set  # why` is ignored by Kconfig as a comment: refuse it.
                return Err(KernelError::FragmentSyntax { file: file.to_string(), line: i + 1, text: raw.to_string() });
            }
        }
        Ok(Fragment { name: name.to_string(), file: file.to_string(), settings })
    }

    pub fn origin(&self, line: usize) -> Origin {
        Origin { fragment: self.name.clone(), file: self.file.clone(), line }
    }

    /// The fragment's final value for each symbol (last setting wins), with its line.
    pub fn values(&self) -> std::collections::BTreeMap<&str, (&Value, usize)> {
        self.settings.iter().map(|(s, v, l)| (s.as_str(), (v, *l))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_with_lines() {
        let f = Fragment::parse("x", "x.config", "# why\nCONFIG_A=y\n\n# CONFIG_B is not set\nCONFIG_C=m\n").unwrap();
        assert_eq!(f.settings, vec![("CONFIG_A".into(), Value::Yes, 2), ("CONFIG_B".into(), Value::NotSet, 4), ("CONFIG_C".into(), Value::Module, 5)]);
    }

    #[test]
    fn syntax_error_names_file_and_line() {
        let e = Fragment::parse("x", "kernel/fragments/x.config", "CONFIG_A=y\nCONFIG_B y\n").unwrap_err();
        assert_eq!(e.to_string().split(':').take(2).collect::<Vec<_>>(), ["kernel/fragments/x.config", "2"], "{e}");
    }

    #[test]
    fn trailing_comments_are_refused() {
        for t in ["CONFIG_A=y   # because", "# CONFIG_A is not set # because"] {
            let e = Fragment::parse("x", "x.config", t).unwrap_err();
            assert!(matches!(e, KernelError::FragmentSyntax { line: 1, .. }), "{t}: {e}");
        }
    }
}
