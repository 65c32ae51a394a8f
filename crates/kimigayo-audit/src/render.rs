//! Output: the human table and the stable JSON document.

use kimigayo_hardening::Protection;
use serde::{Deserialize, Serialize};

use crate::report::{FileReport, Status};

/// Short column headers, in [`Protection::ALL`] order.
fn header(p: Protection) -> &'static str {
    match p {
        Protection::Pie => "PIE",
        Protection::Relro => "RELRO",
        Protection::BindNow => "NOW",
        Protection::NxStack => "NX",
        Protection::NoTextrel => "NOTEXTREL",
        Protection::StackProtector => "SSP",
        Protection::Fortify => "FORTIFY",
    }
}

fn cell(report: &FileReport, p: Protection, required: &[Protection]) -> &'static str {
    match report.checks.get(&p).map(|o| o.status) {
        Some(Status::Pass) => "pass",
        Some(Status::NotApplicable) => "n/a",
        Some(Status::Fail) if required.contains(&p) => "FAIL",
        Some(Status::Fail) => "fail",
        None => "?",
    }
}

/// The human table: one row per file, a column per protection. `FAIL` (upper case) marks a
/// failure of a required protection, `fail` one that the level does not require. Below the
/// table, each failing file is listed with the missing protections and their remedies.
pub fn render_table(reports: &[FileReport], required: &[Protection]) -> String {
    let mut rows: Vec<Vec<String>> = Vec::with_capacity(reports.len() + 1);
    let mut head = vec!["PATH".to_string(), "KIND".into(), "LIBC".into()];
    head.extend(Protection::ALL.iter().map(|p| header(*p).to_string()));
    rows.push(head);
    for r in reports {
        let mut row = vec![r.path.clone(), r.kind.to_string(), r.libc.to_string()];
        row.extend(
            Protection::ALL
                .iter()
                .map(|p| cell(r, *p, required).to_string()),
        );
        rows.push(row);
    }
    let cols = rows[0].len();
    let widths: Vec<usize> = (0..cols)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();

    let mut out = String::new();
    for row in &rows {
        let mut line = String::new();
        for (c, text) in row.iter().enumerate() {
            if c > 0 {
                line.push_str("  ");
            }
            line.push_str(text);
            if c + 1 < cols {
                line.push_str(&" ".repeat(widths[c] - text.chars().count()));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }

    let failing: Vec<(&FileReport, Vec<Protection>)> = reports
        .iter()
        .map(|r| (r, r.failures(required)))
        .filter(|(_, f)| !f.is_empty())
        .collect();
    out.push('\n');
    if reports.is_empty() {
        out.push_str("no ELF files found\n");
    } else if failing.is_empty() {
        out.push_str(&format!(
            "{} ELF file(s): all required protections present\n",
            reports.len()
        ));
    } else {
        out.push_str(&format!(
            "{} of {} ELF file(s) miss required protections:\n",
            failing.len(),
            reports.len()
        ));
        for (r, missing) in &failing {
            for p in missing {
                let detail = r.checks.get(p).map(|o| o.detail.as_str()).unwrap_or("");
                out.push_str(&format!(
                    "  {}: {}: {}\n      fix: {}\n",
                    r.path,
                    p,
                    detail,
                    p.remedy()
                ));
            }
        }
    }
    out
}

/// Every check's verdict and evidence, file by file (the table's `--details` companion).
pub fn render_details(reports: &[FileReport]) -> String {
    let mut out = String::new();
    for r in reports {
        out.push_str(&format!(
            "{}: {} {} {}, libc {} ({}), language {}{}\n",
            r.path,
            r.machine,
            r.kind,
            r.interpreter
                .as_deref()
                .map(|i| format!("interpreter {i}"))
                .unwrap_or_else(|| "no interpreter".into()),
            r.libc,
            r.libc_evidence,
            r.language,
            if r.stripped { ", stripped" } else { "" }
        ));
        for (p, o) in &r.checks {
            out.push_str(&format!(
                "  {:<16} {:<5} {}\n",
                p.as_str(),
                o.status.as_str(),
                o.detail
            ));
        }
    }
    out
}

/// One file missing required protections.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    pub path: String,
    pub missing: Vec<Protection>,
}

/// The totals of an audit run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Number of ELF files audited.
    pub files: usize,
    /// The protections that were required.
    pub required: Vec<Protection>,
    /// Files failing a required protection, in path order.
    pub failures: Vec<Failure>,
}

/// The JSON document `kimigayo-audit --json` prints: `{"reports": [FileReport...], "summary": Summary}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditDocument {
    pub reports: Vec<FileReport>,
    pub summary: Summary,
}

pub fn summarize(reports: &[FileReport], required: &[Protection]) -> Summary {
    Summary {
        files: reports.len(),
        required: required.to_vec(),
        failures: reports
            .iter()
            .filter_map(|r| {
                let missing = r.failures(required);
                (!missing.is_empty()).then(|| Failure {
                    path: r.path.clone(),
                    missing,
                })
            })
            .collect(),
    }
}

/// The JSON document as a pretty-printed string.
pub fn render_json(reports: &[FileReport], required: &[Protection]) -> String {
    let doc = AuditDocument {
        reports: reports.to_vec(),
        summary: summarize(reports, required),
    };
    // Serialising plain data with string keys cannot fail.
    serde_json::to_string_pretty(&doc).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}
