//! The image spec: the design's `/etc/kimigayo/system.conf` YAML (system, build, services)
//! extended with an `image` section. Errors name the file, line and field.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::ImageError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SystemSection {
    pub architecture: String,
    #[serde(default = "high")]
    pub security_level: String,
    #[serde(default)]
    pub modules: Vec<String>,
}

fn high() -> String {
    "high".into()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuildSection {
    #[serde(default = "yes")]
    pub reproducible: bool,
    #[serde(default = "full")]
    pub hardening: String,
    #[serde(default)]
    pub debug_symbols: bool,
}

fn yes() -> bool {
    true
}

fn full() -> String {
    "full".into()
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServicesSection {
    #[serde(default)]
    pub auto_start: Vec<String>,
    #[serde(default)]
    pub disabled: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageSection {
    pub name: String,
    #[serde(default = "latest")]
    pub tag: String,
    pub packages: Vec<String>,
    #[serde(default)]
    pub entrypoint: Vec<String>,
    #[serde(default)]
    pub cmd: Vec<String>,
    #[serde(default)]
    pub env: Vec<String>,
    #[serde(default = "slash")]
    pub workdir: String,
    #[serde(default)]
    pub user: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Layer compression of the OCI layout/archive: `gzip` (default, every runtime) or `zstd`.
    #[serde(default, skip_serializing_if = "LayerCompression::is_gzip")]
    pub compression: LayerCompression,
}

/// `image.compression` in the spec.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LayerCompression {
    #[default]
    Gzip,
    Zstd,
}

impl LayerCompression {
    fn is_gzip(&self) -> bool {
        *self == LayerCompression::Gzip
    }

    pub fn oci(self) -> kimigayo_oci::Compression {
        match self {
            LayerCompression::Gzip => kimigayo_oci::Compression::Gzip,
            LayerCompression::Zstd => kimigayo_oci::Compression::Zstd,
        }
    }
}

fn latest() -> String {
    "latest".into()
}

fn slash() -> String {
    "/".into()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageSpec {
    pub system: SystemSection,
    #[serde(default = "default_build")]
    pub build: BuildSection,
    #[serde(default)]
    pub services: ServicesSection,
    pub image: ImageSection,
}

fn default_build() -> BuildSection {
    BuildSection { reproducible: true, hardening: "full".into(), debug_symbols: false }
}

impl ImageSpec {
    pub fn load(path: &Path) -> Result<ImageSpec, ImageError> {
        let text = std::fs::read_to_string(path).map_err(|e| ImageError::Spec(format!("{}: cannot read: {e}", path.display())))?;
        ImageSpec::parse(&path.display().to_string(), &text)
    }

    pub fn parse(file: &str, text: &str) -> Result<ImageSpec, ImageError> {
        let spec: ImageSpec = serde_yaml::from_str(text).map_err(|e| {
            let at = e.location().map(|l| format!("line {}, column {}: ", l.line(), l.column())).unwrap_or_default();
            ImageError::Spec(format!("{file}: {at}{e}"))
        })?;
        let bad = |field: &str, msg: String| Err(ImageError::Spec(format!("{file}: field `{field}`: {msg}")));
        if !["x86_64", "aarch64"].contains(&spec.system.architecture.as_str()) {
            return bad("system.architecture", format!("`{}` is not supported: use x86_64 or aarch64", spec.system.architecture));
        }
        if spec.image.packages.is_empty() {
            return bad("image.packages", "list at least one package (e.g. busybox)".into());
        }
        let name_ok = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"._-/".contains(&c));
        if !name_ok(&spec.image.name) {
            return bad("image.name", format!("`{}` must be lowercase letters, digits, . _ - /", spec.image.name));
        }
        for (i, e) in spec.image.env.iter().enumerate() {
            if !e.contains('=') {
                return bad(&format!("image.env[{i}]"), format!("`{e}` must be KEY=VALUE"));
            }
        }
        Ok(spec)
    }

    /// OCI architecture name.
    pub fn oci_arch(&self) -> &'static str {
        if self.system.architecture == "aarch64" {
            "arm64"
        } else {
            "amd64"
        }
    }

    /// The system.conf written into the image: the spec without the `image` section.
    pub fn system_conf(&self) -> String {
        #[derive(Serialize)]
        struct Conf<'a> {
            system: &'a SystemSection,
            build: &'a BuildSection,
            services: &'a ServicesSection,
        }
        let body = serde_yaml::to_string(&Conf { system: &self.system, build: &self.build, services: &self.services }).expect("serialises");
        format!("# /etc/kimigayo/system.conf — generated from the image spec\n{body}")
    }
}
