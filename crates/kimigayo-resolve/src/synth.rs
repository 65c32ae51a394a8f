//! A generated repository for benchmarks and scale tests.

use kimigayo_version::{Constraint, Op, Version};

use crate::model::{Candidate, Provide};

/// SplitMix64: a tiny, fixed pseudo-random sequence (no dependency, same on every machine).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// About `n` x86_64/noarch package files (plus ~5% aarch64-only decoys with higher versions)
/// arranged in `depth` layers: every package of layer `l` depends on 1–3 packages of layer
/// `l + 1` (`>=` some existing version), so chains run `depth` deep. Names have 1–3 versions
/// (`1.0`, `1.1`, `1.2` with `-r1`); some packages also need a virtual name `vN` provided by
/// several packages of the next layer, and some conflict with older versions of another
/// name. Installing the newest version of everything is always consistent, so a request for
/// any layer-0 names (`s0-0`, `s0-1`, …) is satisfiable. Pure and deterministic in
/// (`n`, `depth`, `seed`).
pub fn synthetic_universe(n: usize, depth: usize, seed: u64) -> Vec<Candidate> {
    let depth = depth.max(1);
    let mut rng = Rng(seed);
    // Decide names and version counts first, layer by layer, until n files are planned.
    let names_total = (n / 2).max(depth);
    let per_layer = names_total.div_ceil(depth);
    let mut layers: Vec<Vec<(String, usize)>> = vec![Vec::new(); depth];
    let mut planned = 0;
    'fill: for i in 0..per_layer {
        for (l, layer) in layers.iter_mut().enumerate() {
            if planned >= n {
                break 'fill;
            }
            let versions = (1 + rng.below(3)).min(n - planned);
            layer.push((format!("s{l}-{i}"), versions));
            planned += versions;
        }
    }
    let version = |k: usize| Version::new(format!("1.{k}"), Some(1));
    let mut out = Vec::with_capacity(n + n / 16);
    for l in 0..depth {
        let next = layers.get(l + 1).filter(|x| !x.is_empty());
        for (name, count) in &layers[l] {
            for k in 0..*count {
                let mut c = Candidate {
                    name: name.clone(),
                    version: version(k),
                    arch: if rng.below(10) == 0 { "noarch".into() } else { "x86_64".into() },
                    depends: Vec::new(),
                    conflicts: Vec::new(),
                    provides: Vec::new(),
                };
                if let Some(next) = next {
                    for _ in 0..1 + rng.below(3) {
                        let (dep, dep_count) = &next[rng.below(next.len())];
                        let min = version(rng.below(*dep_count));
                        c.depends.push(Constraint { name: dep.clone(), req: Some((Op::Ge, min)) });
                    }
                    if rng.below(8) == 0 {
                        c.depends.push(Constraint { name: format!("v{}", l + 1), req: None });
                    }
                    let (other, other_count) = &next[rng.below(next.len())];
                    if *other_count > 1 && rng.below(6) == 0 {
                        let newest = version(other_count - 1);
                        c.conflicts.push(Constraint { name: other.clone(), req: Some((Op::Lt, newest)) });
                    }
                }
                // Every layer has at least one provider of its virtual name (its first name).
                if rng.below(8) == 0 || (layers[l].first().map(|f| &f.0) == Some(name) && k + 1 == *count) {
                    c.provides.push(Provide::new(format!("v{l}")));
                }
                c.depends.dedup();
                out.push(c);
            }
            if rng.below(20) == 0 {
                out.push(Candidate {
                    name: name.clone(),
                    version: Version::new("9.0", Some(1)),
                    arch: "aarch64".into(),
                    depends: Vec::new(),
                    conflicts: Vec::new(),
                    provides: Vec::new(),
                });
            }
        }
    }
    out
}
