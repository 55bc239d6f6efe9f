//! The audit signing keys' history as the chain records it: each explicit rotation
//! (`sesame-server audit rotate-key`) is an `audit.key.rotate` record carrying the new public key
//! and its id, and the old key's id (and public key, when it was still available). From those
//! records alone, [`KeyHistory`] says which key was in force at any record, so that heads signed
//! before a rotation verify with the key of their time, and a head signed with any other key is
//! named.

use serde_json::json;

use super::{Actor, AuditEvent, AuditRecord, HeadProblem};

/// The action of a key rotation record.
pub const KEY_ROTATE_ACTION: &str = "audit.key.rotate";

/// A key: its id and, when known, its public key (unknown for a key lost before a rotation
/// recorded it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownKey {
    /// The key's id.
    pub id: String,
    /// The Ed25519 public key, 32 bytes, when known.
    pub public_key: Option<Vec<u8>>,
}

/// One explicit rotation of the audit signing key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRotation {
    /// The key in force before (`None` when the chain had none: no key file and no signed head).
    /// Its public key is known when the old key was available at the rotation.
    pub old: Option<KnownKey>,
    /// The new key's id.
    pub new_key_id: String,
    /// The new key's Ed25519 public key, 32 bytes.
    pub new_public_key: Vec<u8>,
}

impl KeyRotation {
    /// Whether the old key was available, and so signed the rotation record's head.
    pub fn old_key_available(&self) -> bool {
        self.old.as_ref().is_some_and(|k| k.public_key.is_some())
    }

    /// The audit event recording it, done by `actor`.
    pub fn event(&self, actor: Actor) -> AuditEvent {
        let old_id = self.old.as_ref().map(|k| k.id.clone());
        let old_public = self.old.as_ref().and_then(|k| k.public_key.as_deref()).map(hex::encode);
        AuditEvent {
            actor,
            action: KEY_ROTATE_ACTION,
            office: None,
            target: self.new_key_id.clone(),
            details: json!({
                "new_key_id": self.new_key_id,
                "new_public_key": hex::encode(&self.new_public_key),
                "old_key_id": old_id,
                "old_public_key": old_public,
                "old_key_available": self.old_key_available(),
            }),
        }
    }

    /// The rotation a record describes: `None` for another action, `Some(None)` for a rotation
    /// record that cannot be read.
    pub fn from_record(record: &AuditRecord) -> Option<Option<KeyRotation>> {
        (record.action == KEY_ROTATE_ACTION).then(|| parse_details(&record.details))
    }
}

fn parse_details(details: &str) -> Option<KeyRotation> {
    let value: serde_json::Value = serde_json::from_str(details).ok()?;
    let text = |name: &str| value.get(name).and_then(serde_json::Value::as_str);
    let new_public_key = hex::decode(text("new_public_key")?).ok()?;
    if new_public_key.len() != 32 {
        return None;
    }
    let old_public_key = match text("old_public_key") {
        Some(hex_key) => Some(hex::decode(hex_key).ok().filter(|k| k.len() == 32)?),
        None => None,
    };
    let old = match text("old_key_id") {
        Some(id) => Some(KnownKey { id: id.to_owned(), public_key: old_public_key }),
        None if old_public_key.is_none() => None,
        None => return None,
    };
    Some(KeyRotation { old, new_key_id: text("new_key_id")?.to_owned(), new_public_key })
}

/// Which key signs a head, for [`KeyHistory::key_for`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyVerdict<'a> {
    /// The head's key was in force at its record: check the signature with this public key.
    Verify(&'a [u8]),
    /// The head's key was in force at its record, but was lost before a rotation recorded its
    /// public key: the signature cannot be checked (the next rotation's head covers the chain).
    Lost,
    /// The head's key was not in force at its record.
    Problem(HeadProblem),
}

/// The keys in force along the chain: the server's own key, and the rotations read so far (in
/// sequence order).
#[derive(Debug, Clone)]
pub struct KeyHistory {
    server: KnownKey,
    rotations: Vec<(i64, KeyRotation)>,
}

impl KeyHistory {
    /// A history with no rotation yet: the server's key is in force everywhere.
    pub fn new(server_key_id: &str, server_public_key: &[u8]) -> KeyHistory {
        KeyHistory {
            server: KnownKey {
                id: server_key_id.to_owned(),
                public_key: Some(server_public_key.to_vec()),
            },
            rotations: Vec::new(),
        }
    }

    /// Adds the rotation recorded at `seq` (after those added before).
    pub fn add(&mut self, seq: i64, rotation: KeyRotation) {
        self.rotations.push((seq, rotation));
    }

    /// The rotations added, with their sequence numbers.
    pub fn rotations(&self) -> &[(i64, KeyRotation)] {
        &self.rotations
    }

    /// The key in force at record `seq`: the one the last rotation before it handed over to, or
    /// before any rotation the first one's old key (the server's key when there was none).
    pub fn in_force(&self, seq: i64) -> Option<KnownKey> {
        match self.rotations.iter().rev().find(|(at, _)| *at < seq) {
            Some((_, r)) => Some(KnownKey {
                id: r.new_key_id.clone(),
                public_key: Some(r.new_public_key.clone()),
            }),
            None => match self.rotations.first() {
                Some((_, first)) => first.old.clone(),
                None => Some(self.server.clone()),
            },
        }
    }

    /// How to check a head at record `seq` signed by `key_id`: the key in force there, or at a
    /// rotation record the old key (which vouches for the hand-over) or the new one (when the old
    /// was lost).
    pub fn key_for(&self, seq: i64, key_id: &str) -> KeyVerdict<'_> {
        let in_force = self.rotations.iter().rev().find(|(at, _)| *at < seq);
        let mut allowed: Vec<(&str, Option<&[u8]>)> = Vec::new();
        match in_force {
            Some((_, r)) => {
                allowed.push((r.new_key_id.as_str(), Some(r.new_public_key.as_slice())))
            }
            None => match self.rotations.first() {
                Some((_, first)) => {
                    if let Some(old) = &first.old {
                        allowed.push((old.id.as_str(), old.public_key.as_deref()));
                    }
                }
                None => {
                    allowed.push((self.server.id.as_str(), self.server.public_key.as_deref()));
                }
            },
        }
        for (_, r) in self.rotations.iter().filter(|(at, _)| *at == seq) {
            if let Some(old) = &r.old {
                allowed.push((old.id.as_str(), old.public_key.as_deref()));
            }
            allowed.push((r.new_key_id.as_str(), Some(r.new_public_key.as_slice())));
        }
        if let Some(&(_, public_key)) = allowed.iter().find(|(id, _)| *id == key_id) {
            return public_key.map_or(KeyVerdict::Lost, KeyVerdict::Verify);
        }
        let expected = allowed.first().map_or_else(String::new, |(id, _)| (*id).to_owned());
        let known = key_id == self.server.id
            || self.rotations.iter().any(|(_, r)| {
                r.new_key_id == key_id || r.old.as_ref().is_some_and(|o| o.id == key_id)
            });
        KeyVerdict::Problem(if known {
            HeadProblem::WrongKey { seq, key_id: key_id.to_owned(), expected }
        } else {
            HeadProblem::UnknownKey { seq, key_id: key_id.to_owned() }
        })
    }
}
