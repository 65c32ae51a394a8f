#![no_main]
// Recipe TOML: any text gives a recipe or an error naming a field, never a panic.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = kimigayo_recipe::Recipe::parse(std::path::Path::new("recipes/fuzz"), std::path::Path::new("recipes/fuzz/recipe.toml"), text);
    }
});
