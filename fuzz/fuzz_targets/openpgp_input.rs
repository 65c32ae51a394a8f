#![no_main]
// OpenPGP key and signature input: keys parse or fail, a signature over fixed data verifies
// or fails against a fixed keyring, never a panic.
use std::sync::OnceLock;

fn keyring() -> &'static kimigayo_sign::Keyring {
    static K: OnceLock<kimigayo_sign::Keyring> = OnceLock::new();
    K.get_or_init(|| {
        let k = kimigayo_sign::SecretKey::generate("Fuzz <fuzz@kimigayo.test>", None).unwrap();
        let mut r = kimigayo_sign::Keyring::new();
        r.add(k.public(), "fuzz");
        r
    })
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = kimigayo_sign::PublicKey::all_from_armored_or_binary(data);
    let _ = keyring().verify(b"kimigayo fuzz data", data, std::time::SystemTime::now());
});
