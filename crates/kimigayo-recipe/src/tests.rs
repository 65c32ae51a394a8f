use super::*;

const GOOD: &str = r#"
[package]
name = "hello"
version = "1.0"
license = "MIT"
description = "test"

[[source]]
name = "hello"
file = "hello-1.0.tar.gz"
sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
urls = ["https://example.org/hello-1.0.tar.gz"]

[build]
toolchain = "musl"
steps = ["make"]

[dependencies]
runtime = ["musl>=1.2.5"]
"#;

fn parse(text: &str) -> Result<Recipe, RecipeError> {
    Recipe::parse(Path::new("recipes/hello"), Path::new("recipes/hello/recipe.toml"), text)
}

#[test]
fn good_recipe_parses_with_defaults() {
    let r = parse(GOOD).unwrap();
    assert_eq!(r.package.release, 1);
    assert_eq!(r.build.linkage, Linkage::Static);
    assert_eq!(r.runtime[0].to_string(), "musl>=1.2.5");
    assert_eq!(r.full_version().to_string(), "1.0-r1");
}

#[test]
fn short_hash_names_field_and_length() {
    let e = parse(&GOOD.replace("0000000000000000000000000000000000000000000000000000000000000000", "abc")).unwrap_err();
    assert_eq!(e.field, "source[0].sha256");
    assert!(e.to_string().contains("recipes/hello/recipe.toml"), "{e}");
    assert!(e.message.contains("3 characters"), "{e}");
}

#[test]
fn unknown_field_points_at_line() {
    let e = parse(&GOOD.replace("license = \"MIT\"", "license = \"MIT\"\nlicence = \"x\"")).unwrap_err();
    assert!(e.message.contains("line 6"), "{e}");
    assert!(e.message.contains("licence"), "{e}");
}

#[test]
fn folder_and_name_must_agree() {
    let e = parse(&GOOD.replace("name = \"hello\"\nversion", "name = \"other\"\nversion")).unwrap_err();
    assert_eq!(e.field, "package.name");
}

#[test]
fn bad_dependency_names_index() {
    let e = parse(&GOOD.replace("musl>=1.2.5", "musl>=one")).unwrap_err();
    assert_eq!(e.field, "dependencies.runtime[0]");
}

#[test]
fn unpinned_source_is_refused() {
    let text = GOOD.replace("sha256 = \"0000000000000000000000000000000000000000000000000000000000000000\"\n", "");
    let e = parse(&text).unwrap_err();
    assert_eq!(e.field, "source[0].sha256");
    assert!(e.message.contains("sha256sum"));
}

#[test]
fn patch_from_unknown_source_is_refused() {
    let text = format!("{GOOD}\n[[patch]]\nsource = \"nope\"\npath = \"x.patch\"\n");
    let e = parse(&text).unwrap_err();
    assert_eq!(e.field, "patch[0].source");
    assert!(e.message.contains("hello"), "{e}");
}

#[test]
fn the_repository_recipes_are_valid() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../recipes");
    let all = load_all(&root).unwrap_or_else(|e| panic!("{e}"));
    assert!(all.iter().any(|r| r.name() == "busybox"));
    assert!(all.iter().any(|r| r.name() == "musl"));
}

#[test]
fn kernel_fields_are_validated() {
    let with = |extra: &str| GOOD.replace("steps = [\"make\"]", &format!("steps = [\"make\"]\n{extra}"));
    let e = parse(&with("prepare = [\"make allnoconfig\"]")).unwrap_err();
    assert_eq!(e.field, "build.prepare", "{e}");
    let e = parse(&with("kernel_profile = \"../../kernel/profiles/none.toml\"\nprepare = [\"x\"]")).unwrap_err();
    assert!(e.field == "build.kernel_profile" && e.message.contains("none.toml"), "{e}");
}

#[test]
fn passwd_injection_through_account_fields_is_refused_at_parse() {
    let with_user = |fields: &str| format!("{GOOD}\n[[user]]\nname = \"web\"\nuid = 101\ngid = 101\n{fields}\n");
    for (fields, field) in [
        (r#"gecos = "Web\nevil::0:0::/root:/bin/sh""#, "user[0].gecos"),
        (r#"gecos = "a:b""#, "user[0].gecos"),
        (r#"home = "/var/www:0""#, "user[0].home"),
        (r#"shell = "bin/sh""#, "user[0].shell"),
    ] {
        let e = parse(&with_user(fields)).unwrap_err();
        assert_eq!(e.field, field, "{fields}: {e}");
    }
    let e = parse(&format!("{GOOD}\n[[user]]\nname = \"toor\"\nuid = 0\ngid = 0\n")).unwrap_err();
    assert_eq!(e.field, "user[0].uid", "{e}");
    let e = parse(&format!("{GOOD}\n[[group]]\nname = \"www\"\ngid = 101\nmembers = [\"a:b\"]\n")).unwrap_err();
    assert_eq!(e.field, "group[0].members[0]", "{e}");
    assert!(parse(&with_user(r#"gecos = "Web server""#)).is_ok());
}
