//! [`HeadStamp`]: the signed audit head a document was made from, as the documents print it.

use time::OffsetDateTime;

/// The audit chain's head when a document was made, signed with the server's audit key: it ties
/// the document to the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeadStamp {
    /// The sequence number of the chain's last record.
    pub seq: i64,
    /// That record's SHA-256, in lower-case hexadecimal.
    pub hash: String,
    /// When the head was signed.
    pub signed_at: OffsetDateTime,
    /// The audit key's identifier.
    pub key_id: String,
    /// The Ed25519 signature, in base64.
    pub signature: String,
}

impl HeadStamp {
    /// A file name (without its extension) naming this head: `{prefix}-head-{seq}-{hash}` with the
    /// hash's first 12 characters, e.g. `compliance-report-2026-03-01-head-1234-abababababab`.
    pub fn file_stem(&self, prefix: &str) -> String {
        let hash: String = self.hash.chars().take(12).collect();
        format!("{prefix}-head-{}-{hash}", self.seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_name_names_the_head() {
        let head = HeadStamp {
            seq: 1234,
            hash: "ab".repeat(32),
            signed_at: time::macros::datetime!(2026-03-02 10:11:12 UTC),
            key_id: "key-7".into(),
            signature: "c2ln".into(),
        };
        assert_eq!(head.file_stem("report"), "report-head-1234-abababababab");
    }
}
