//! The common-password filter: its generator (ignored: it needs the source list), what it
//! catches, and its false positives on random strong passwords.

use sha2::{Digest, Sha256};

use super::*;

/// Random strong passwords drawn for the false-positive measure.
const STRONG_SAMPLE: usize = 20_000;

/// A small deterministic generator (xorshift64*), so the sample is the same at every run.
struct Draw(u64);

impl Draw {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A password of 12 to 19 printable ASCII characters.
    fn password(&mut self) -> String {
        let len = 12 + (self.next() % 8) as usize;
        (0..len).map(|_| char::from(b'!' + (self.next() % 94) as u8)).collect()
    }
}

#[test]
#[ignore = "rebuilds data/common-passwords.fuse from the source list (SESAME_COMMON_PASSWORDS_JSON)"]
fn generate_the_filter() {
    let path = std::env::var("SESAME_COMMON_PASSWORDS_JSON")
        .expect("SESAME_COMMON_PASSWORDS_JSON: the source's data/common-passwords.json");
    let bytes = std::fs::read(&path).unwrap();
    let digest: String = Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(digest, SOURCE_SHA256, "not the list of {SOURCE}");
    let entries: Vec<String> = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(entries.len(), SOURCE_ENTRIES);
    let mut keys: Vec<u64> = entries.iter().map(|e| key(&normalise_entry(e))).collect();
    keys.sort_unstable();
    keys.dedup();
    let filter = BinaryFuse32::try_from(&keys).unwrap();
    let out = concat!(env!("CARGO_MANIFEST_DIR"), "/data/common-passwords.fuse");
    std::fs::write(out, encode(&filter)).unwrap();
    println!("{} keys, {} fingerprints, {} bytes", keys.len(), filter.len(), encode(&filter).len());
}

#[test]
fn the_shipped_filter_reads_and_stays_small() {
    let (bytes, fingerprints) = filter_figures();
    assert!(fingerprints > SOURCE_ENTRIES, "{fingerprints}");
    assert!(bytes <= 2 * 1024 * 1024, "{bytes}");
    assert!(decode(b"SESFUSE1").is_none());
    assert!(decode(b"nonsense").is_none());
    assert!(decode(&FILTER_FILE[..FILTER_FILE.len() - 1]).is_none());
    println!("common-password filter: {bytes} bytes, {fingerprints} fingerprints");
}

#[test]
fn common_passwords_and_their_dressed_up_forms_are_caught() {
    for password in [
        "azerty",
        "Azerty123!",
        "AZERTY123",
        "P@ssw0rd2024",
        "Password1!",
        "Motdepasse1!",
        "soleil2026!",
        "123456789",
        "Iloveyou!!",
        "!!Sunshine99",
        "Qwerty123$",
    ] {
        assert!(is_common(password), "{password}");
    }
}

#[test]
fn strong_passwords_are_not_taken_for_common_ones() {
    for password in ["Tulipe-Ancre-Violon-72", "Xq7!provisoire-16z", "hR4#vLp9!tWq2", "Kx8#pQ!z7w"]
    {
        assert!(!is_common(password), "{password}");
    }
    let mut draw = Draw(0x5e5a_3e5a_3e5a_3e51);
    let flagged: Vec<String> =
        (0..STRONG_SAMPLE).map(|_| draw.password()).filter(|p| is_common(p)).collect();
    // The filter's own false positives are about 9 lookups × 2^-32 a password: none expected.
    assert!(flagged.is_empty(), "{} of {STRONG_SAMPLE}: {flagged:?}", flagged.len());
}

#[test]
fn the_filters_false_positive_rate_is_measured_on_unrelated_keys() {
    let filter = filter().unwrap();
    let mut draw = Draw(0x1234_5678_9abc_def1);
    let trials = 1_000_000u32;
    let hits = (0..trials).filter(|_| filter.contains(&draw.next())).count();
    println!("false positives: {hits} of {trials} random keys");
    assert!(hits <= 2, "{hits}");
}

#[test]
fn lookup_forms_strip_and_undo_substitutions() {
    assert_eq!(
        lookup_forms("P@ssw0rd2024"),
        ["p@ssw0rd2024", "password2o2a", "p@ssw0rd", "password"]
    );
    assert_eq!(lookup_forms("Azerty123!"), ["azerty123!", "azertyi2ei", "azertyl2ei", "azerty"]);
    // A short core is not looked up.
    assert_eq!(lookup_forms("Abc!!!!!!!1"), ["abc!!!!!!!1", "abciiiiiiii", "abciiiiiiil"]);
}

#[test]
fn keys_are_stable() {
    assert_eq!(key("azerty"), key("azerty"));
    assert_ne!(key("azerty"), key("azerty1"));
}
