//! The list of common passwords, shipped in the binary as a binary fuse filter
//! (`data/common-passwords.fuse`, [`xorf::BinaryFuse32`]: about 4.5 bytes an entry, a false
//! positive for one unrelated key in 2^32), and the lookup of a new password in it.
//!
//! The source is the list of the `passwords` crate, [`SOURCE`] (MIT licence, [`SOURCE_ENTRIES`]
//! entries, its file `data/common-passwords.json`, SHA-256 [`SOURCE_SHA256`]); each entry is
//! lower-cased and hashed with [`key`]. The ignored test `generate_the_filter` rebuilds the file
//! from that JSON file (`SESAME_COMMON_PASSWORDS_JSON=…/passwords-3.1.19/data/common-passwords.json
//! cargo test -p sesame-local generate_the_filter -- --ignored`), refusing any other source.
//!
//! A password is looked up as typed (lower-cased), with its leading and trailing digits, symbols
//! and spaces stripped (`Azerty123!` → `azerty`), and with the common "leet" substitutions undone
//! (`P@ssw0rd2024` → `password`); stripped forms shorter than [`MIN_CORE_CHARS`] are not looked
//! up, so a strong password is not refused for a short word it ends with.

use std::sync::OnceLock;

use xorf::{BinaryFuse32, Descriptor, Filter};

/// The package the list comes from.
pub const SOURCE: &str = "passwords 3.1.19 (crates.io, MIT licence, by Magic Len)";
/// The SHA-256 of its `data/common-passwords.json`.
pub const SOURCE_SHA256: &str = "83248d9b5f5a9626cb79eaabb363610da77d33befb3ac2d1d0a31e1f477a3a8a";
/// How many passwords the source lists.
pub const SOURCE_ENTRIES: usize = 99_838;
/// Stripped forms shorter than this are not looked up.
pub const MIN_CORE_CHARS: usize = 4;

/// The filter's file: [`MAGIC`], then the descriptor (seed `u64`, segment length, mask, segment
/// count length: `u32`s), then the fingerprints (`u32`s), all little-endian.
const FILTER_FILE: &[u8] = include_bytes!("../data/common-passwords.fuse");
/// The first bytes of the filter's file.
const MAGIC: &[u8; 8] = b"SESFUSE1";
/// The descriptor's bytes after the magic.
const DESCRIPTOR_LEN: usize = 8 + 4 * 3;

/// Whether `password`, or a simple variant of it, is in the list of common passwords.
pub fn is_common(password: &str) -> bool {
    let Some(filter) = filter() else { return false };
    lookup_forms(password).iter().any(|form| filter.contains(&key(form)))
}

/// The shipped filter's size in bytes and fingerprints.
pub fn filter_figures() -> (usize, usize) {
    (FILTER_FILE.len(), filter().map_or(0, Filter::len))
}

/// The forms of `password` looked up: lower-cased; stripped of leading and trailing digits,
/// symbols and spaces; each with the "leet" substitutions undone (`1` read as `i`, then as `l`).
pub fn lookup_forms(password: &str) -> Vec<String> {
    let lower = password.to_lowercase();
    let not_letter = |c: char| c.is_ascii_digit() || c.is_ascii_punctuation() || c == ' ';
    let trailing = lower.trim_end_matches(not_letter);
    let core = trailing.trim_start_matches(not_letter);
    let mut forms: Vec<String> = Vec::with_capacity(9);
    let mut push = |form: String| {
        if !forms.contains(&form) {
            forms.push(form);
        }
    };
    for (i, base) in [lower.as_str(), trailing, core].into_iter().enumerate() {
        if i > 0 && base.chars().count() < MIN_CORE_CHARS {
            continue;
        }
        push(base.to_owned());
        push(unleet(base, 'i'));
        push(unleet(base, 'l'));
    }
    forms
}

/// `text` with the common substitutions of letters undone, `1` read as `one`.
pub fn unleet(text: &str, one: char) -> String {
    text.chars()
        .map(|c| match c {
            '0' => 'o',
            '1' => one,
            '3' => 'e',
            '4' | '@' => 'a',
            '5' | '$' => 's',
            '7' => 't',
            '8' => 'b',
            '!' => 'i',
            other => other,
        })
        .collect()
}

/// The filter's key of a normalised entry: FNV-1a over its UTF-8 bytes, then a SplitMix64
/// finaliser; stable across builds and platforms, since the file stores these keys' fingerprints.
pub fn key(entry: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in entry.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash = (hash ^ (hash >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    hash = (hash ^ (hash >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    hash ^ (hash >> 31)
}

/// How an entry of the list is stored: lower-cased.
pub fn normalise_entry(entry: &str) -> String {
    entry.to_lowercase()
}

/// The filter, read from the binary once.
fn filter() -> Option<&'static BinaryFuse32> {
    static FILTER: OnceLock<Option<BinaryFuse32>> = OnceLock::new();
    FILTER.get_or_init(|| decode(FILTER_FILE)).as_ref()
}

/// The filter stored in `bytes`, or `None` when they are not one.
fn decode(bytes: &[u8]) -> Option<BinaryFuse32> {
    let rest = bytes.strip_prefix(MAGIC.as_slice())?;
    let (descriptor, fingerprints) = rest.split_at_checked(DESCRIPTOR_LEN)?;
    let u32_at = |at: usize| {
        descriptor.get(at..at + 4).and_then(|b| b.try_into().ok()).map(u32::from_le_bytes)
    };
    let descriptor = Descriptor {
        seed: u64::from_le_bytes(descriptor.get(..8)?.try_into().ok()?),
        segment_length: u32_at(8)?,
        segment_length_mask: u32_at(12)?,
        segment_count_length: u32_at(16)?,
    };
    let (chunks, tail) = fingerprints.as_chunks::<4>();
    if !tail.is_empty() || chunks.is_empty() {
        return None;
    }
    let fingerprints = chunks.iter().map(|c| u32::from_le_bytes(*c)).collect();
    Some(BinaryFuse32 { descriptor, fingerprints })
}

/// The file of a filter.
#[cfg(test)]
fn encode(filter: &BinaryFuse32) -> Vec<u8> {
    let mut bytes = MAGIC.to_vec();
    bytes.extend(filter.descriptor.seed.to_le_bytes());
    for field in [
        filter.descriptor.segment_length,
        filter.descriptor.segment_length_mask,
        filter.descriptor.segment_count_length,
    ] {
        bytes.extend(field.to_le_bytes());
    }
    for fingerprint in filter.fingerprints.iter() {
        bytes.extend(fingerprint.to_le_bytes());
    }
    bytes
}

#[cfg(test)]
mod tests;
