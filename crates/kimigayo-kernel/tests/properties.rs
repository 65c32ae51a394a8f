//! Properties 9 and 31 against the real Linux tree of the `linux` recipe: every case merges fragments, runs the
//! tree's own `make olddefconfig` and checks the result.

mod common;

use std::collections::BTreeMap;

use kimigayo_kernel::check::Finding;
use kimigayo_kernel::profile::{select_modules, KernelDir};
use kimigayo_kernel::tree::configure;
use kimigayo_kernel::{Fragment, Request, Value};
use proptest::prelude::*;

struct Fixture {
    base_fragments: Vec<Fragment>,
    modules: BTreeMap<String, Fragment>,
}

fn fixture() -> Fixture {
    let kd = KernelDir::new(common::project_root().join("kernel"));
    let base_fragments = vec![kd.fragment("base", "test").unwrap(), kd.fragment("hardening", "test").unwrap()];
    let modules = kd.modules().unwrap();
    Fixture { base_fragments, modules }
}

fn satisfied(want: &Value, got: Option<&Value>) -> bool {
    match want {
        Value::NotSet => matches!(got, None | Some(Value::NotSet)),
        w => got == Some(w),
    }
}

/// Fragments that knock out what hardening options depend on, as a user might by accident.
const KNOCKOUTS: &[&str] = &[
    "# CONFIG_NET is not set\n",
    "CONFIG_MODULES=y\n",
    "CONFIG_SLOB=y\n# CONFIG_SLUB is not set\n",
    "# CONFIG_CPU_MITIGATIONS is not set\n",
    "# CONFIG_DEBUG_KERNEL is not set\n",
    "# CONFIG_RELOCATABLE is not set\n",
    "CONFIG_IKCONFIG=y\n",
];

fn flipped(v: &Value) -> Value {
    match v {
        Value::Yes | Value::Module => Value::NotSet,
        Value::NotSet => Value::Yes,
        Value::Literal(_) => Value::Literal("\"/sbin/helper\"".into()),
    }
}

fn render(sym: &str, v: &Value) -> String {
    match v {
        Value::Yes => format!("{sym}=y\n"),
        Value::Module => format!("{sym}=m\n"),
        Value::NotSet => format!("# {sym} is not set\n"),
        Value::Literal(l) => format!("{sym}={l}\n"),
    }
}

type Setup = (tempfile::TempDir, kimigayo_kernel::tree::Tree, kimigayo_kernel::Config, Fixture, Vec<String>, Vec<(String, Value)>, proptest::test_runner::TestRunner);

/// One object folder (with the allnoconfig base) per test, the fragments, the module set
/// names, the hardening settings and a 100-case runner.
fn setup() -> Setup {
    let (obj, tree, base) = common::object_tree();
    let fx = fixture();
    let names: Vec<String> = fx.modules.keys().cloned().collect();
    let hardening: Vec<(String, Value)> = fx.base_fragments[1].settings.iter().map(|(s, v, _)| (s.clone(), v.clone())).collect();
    let runner = proptest::test_runner::TestRunner::new(ProptestConfig { cases: 100, failure_persistence: None, ..ProptestConfig::default() });
    (obj, tree, base, fx, names, hardening, runner)
}

#[test]
fn property_9_any_module_selection_is_honoured_by_olddefconfig() {
    let (_obj, tree, base, fx, names, hardening, mut runner) = setup();
    // **Feature: kimigayo-os-core, Property 9: 任意のモジュール選択に対して、Build_Systemは個別のカーネルモジュール選択を許可しなければならない**
    let selection = proptest::sample::subsequence(names.clone(), 0..=names.len()).prop_shuffle();
    runner
        .run(&selection, |chosen| {
            let mut frags = fx.base_fragments.clone();
            frags.extend(select_modules(&chosen, &fx.modules, "test").unwrap());
            let req = Request::new(frags, chosen.clone()).unwrap();
            let (result, report) = configure(&tree, &base, &req).unwrap();
            prop_assert!(report.ok(), "selection {chosen:?}:\n{report}");
            let mut selected_syms = BTreeMap::new();
            for n in &chosen {
                for (sym, v, _) in &fx.modules[n].settings {
                    selected_syms.insert(sym.clone(), v.clone());
                    // `m` is built in (`y`) when the kernel loads no modules (the hardening set).
                    let got = result.get(sym);
                    prop_assert!(got == Some(v) || (*v == Value::Module && got == Some(&Value::Yes) && !result.is_enabled("CONFIG_MODULES")), "{} of selected set {} is {:?} (selection {:?})", sym, n, got, chosen);
                }
            }
            for n in names.iter().filter(|n| !chosen.contains(n)) {
                for (sym, v, _) in &fx.modules[n].settings {
                    if *v == Value::Module && !selected_syms.contains_key(sym) {
                        prop_assert!(!result.is_enabled(sym), "{} of deselected set {} is enabled (selection {:?})", sym, n, chosen);
                    }
                }
            }
            for (sym, v) in &hardening {
                prop_assert!(satisfied(v, result.get(sym)), "hardening {sym} lost with selection {chosen:?}");
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn property_31_no_kernel_configuration_is_silently_weaker_than_the_hardening_set() {
    let (_obj, tree, base, fx, names, hardening, mut runner) = setup();
    // **Feature: kimigayo-os-core, Property 31: 任意のカーネルビルドに対して、Build_Systemはすべての必要なSecurity_Hardening設定を適用しなければならない**
    let attempt = (
        proptest::sample::subsequence(names.clone(), 0..=names.len()),
        proptest::sample::subsequence((0..hardening.len()).collect::<Vec<_>>(), 0..=4),
        proptest::sample::subsequence(KNOCKOUTS.to_vec(), 0..=2),
        any::<bool>(),
    );
    runner
        .run(&attempt, |(chosen, overrides, knockouts, user_first)| {
            let mut user = String::new();
            let mut overridden = Vec::new();
            for &i in &overrides {
                let (sym, v) = &hardening[i];
                user.push_str(&render(sym, &flipped(v)));
                overridden.push(sym.clone());
            }
            for k in &knockouts {
                user.push_str(k);
            }
            let user = Fragment::parse("user:extra", "extra.config", &user).unwrap();
            let mut frags = fx.base_fragments.clone();
            let mods = select_modules(&chosen, &fx.modules, "test").unwrap();
            // The user's fragment comes after the profile, before or after the module sets.
            if user_first {
                frags.push(user);
                frags.extend(mods);
            } else {
                frags.extend(mods);
                frags.push(user);
            }
            let req = Request::new(frags, chosen.clone()).unwrap();
            let (result, report) = configure(&tree, &base, &req).unwrap();
            let weakened: Vec<&str> = report.weakened().map(|f| f.symbol()).collect();
            for (sym, v) in &hardening {
                // Never silently weaker: either the option holds or the checker names it.
                prop_assert!(
                    satisfied(v, result.get(sym)) || weakened.contains(&sym.as_str()),
                    "{sym} is {:?} in the result and the checker did not report it (overrides {overridden:?}, knockouts {knockouts:?})\n{report}",
                    result.get(sym)
                );
            }
            for f in report.weakened() {
                let text = f.to_string();
                prop_assert!(text.contains(f.symbol()) && text.contains("fix:"), "{text}");
                if let Finding::Weakened { symbol, by: Some(by), .. } = f {
                    prop_assert!(overridden.contains(symbol) || knockouts.iter().any(|k| k.contains(&symbol[7..])), "{symbol} blamed on {by}");
                    prop_assert_eq!(&by.file, "extra.config");
                }
            }
            if overridden.is_empty() && knockouts.iter().all(|k| k.starts_with("CONFIG_IKCONFIG")) {
                prop_assert!(report.ok(), "no override, yet rejected:\n{report}");
            }
            Ok(())
        })
        .unwrap();
}
