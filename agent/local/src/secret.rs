//! [`LocalSecret`]: a password carried over the local socket. It zeroizes its memory when
//! dropped, prints as `LocalSecret(***)` in `Debug` and has no `Display`. It serializes as a
//! JSON string (the only way it crosses the socket) and deserializes from one without an
//! intermediate `String` when the JSON has no escapes.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A password in a local message.
pub struct LocalSecret(SecretString);

impl LocalSecret {
    /// Wraps `secret`.
    pub fn new(secret: SecretString) -> Self {
        LocalSecret(secret)
    }

    /// The password, for the one place that needs it.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// The password as a `SecretString`.
    pub fn into_secret(self) -> SecretString {
        self.0
    }
}

impl From<&str> for LocalSecret {
    fn from(value: &str) -> Self {
        LocalSecret(SecretString::from(value))
    }
}

impl fmt::Debug for LocalSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LocalSecret(***)")
    }
}

impl Serialize for LocalSecret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0.expose_secret())
    }
}

struct SecretVisitor;

impl Visitor<'_> for SecretVisitor {
    type Value = LocalSecret;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a password as a string")
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<LocalSecret, E> {
        Ok(LocalSecret::from(value))
    }
}

impl<'de> Deserialize<'de> for LocalSecret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(SecretVisitor)
    }
}
