//! The clé REAL: whether the person's USB smart-card key is plugged in.
//!
//! A rotation may start only while the key is out, and the service records what it saw as the
//! rotation's evidence, so the key state has three values and never guesses: [`KeyState::Present`]
//! (with the device that matched), [`KeyState::Absent`], [`KeyState::Unknown`] (with its reason,
//! e.g. no USB access; the person then confirms by hand).
//!
//! - [`KeyProbe`] answers the question once; [`usb::UsbKeyProbe`] asks libusb (through rusb),
//!   [`FakeKeyProbe`] is set by tests.
//! - [`KeyMatcher`] decides which USB device is a REAL key: one whose vendor:product is in the
//!   configured list ([`KeyConfig::ids`]), or any device with an interface of the USB smart-card
//!   class (CCID, 0x0B): a smart-card reader on a workstation is the REAL key.
//! - [`KeyWatcher`] asks the probe at an interval and publishes each change on a
//!   `tokio::sync::watch` channel that the service reads. The service sets the interval:
//!   [`KeyConfig::poll_interval_ms`] (2 s) while a rotation is under way, so that the key's
//!   removal and return are seen at once, [`KeyConfig::idle_poll_interval_ms`] (30 s) otherwise
//!   (a probe costs about a millisecond of CPU; every 2 s that would be most of the agent's
//!   budget of 2 CPU-seconds an hour).
//!
//! Why polling and no hotplug: see the module documentation of [`usb`].

pub mod usb;
mod watcher;

use std::fmt;
use std::str::FromStr;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use serde::Deserialize;

pub use watcher::KeyWatcher;

/// Whether the REAL key is plugged in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyState {
    /// A REAL key is plugged in; `device` says which, e.g. `08e6:3437 bus 1 port 1-1`.
    Present { device: String },
    /// No REAL key is plugged in.
    Absent,
    /// The probe could not tell; `reason` says why and what to do, in English for the
    /// administrator (it is reported to the server), e.g. `no USB access: this computer shows no
    /// USB bus …`.
    Unknown { reason: String },
}

impl KeyState {
    /// The state in French, for the person and the administrator.
    pub fn french(&self) -> String {
        match self {
            KeyState::Present { device } => format!("Clé REAL branchée ({device})"),
            KeyState::Absent => "Aucune clé REAL branchée".to_owned(),
            KeyState::Unknown { reason } => format!(
                "État de la clé inconnu : Sesame ne peut pas voir la clé REAL sur ce poste ; \
                 vérifiez vous-même qu'elle est retirée avant de changer un mot de passe (détail \
                 pour votre informaticien : {reason})"
            ),
        }
    }
}

/// Answers whether a REAL key is plugged in, now. Blocking: it may enumerate USB devices, so
/// async code calls it through `spawn_blocking` (as [`KeyWatcher`] does).
pub trait KeyProbe: Send + Sync {
    /// The key state at this moment.
    fn state(&self) -> KeyState;
}

/// A probe whose answer tests set; starts [`KeyState::Absent`].
#[derive(Debug)]
pub struct FakeKeyProbe {
    state: Mutex<KeyState>,
}

impl FakeKeyProbe {
    /// A fake probe answering `state` until told otherwise.
    pub fn new(state: KeyState) -> Self {
        FakeKeyProbe { state: Mutex::new(state) }
    }

    /// Changes what the probe answers from now on.
    pub fn set(&self, state: KeyState) {
        *self.state.lock().unwrap_or_else(PoisonError::into_inner) = state;
    }
}

impl Default for FakeKeyProbe {
    fn default() -> Self {
        FakeKeyProbe::new(KeyState::Absent)
    }
}

impl KeyProbe for FakeKeyProbe {
    fn state(&self) -> KeyState {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

/// A USB vendor:product pair, written `08e6:3437` (hexadecimal, as `lsusb` prints it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UsbId {
    pub vendor: u16,
    pub product: u16,
}

impl fmt::Display for UsbId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04x}:{:04x}", self.vendor, self.product)
    }
}

impl FromStr for UsbId {
    type Err = KeyConfigError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || KeyConfigError::BadId(text.to_owned());
        let (vendor, product) = text.split_once(':').ok_or_else(bad)?;
        let hex = |part: &str| {
            if part.len() == 4 && part.bytes().all(|b| b.is_ascii_hexdigit()) {
                u16::from_str_radix(part, 16).map_err(|_| bad())
            } else {
                Err(bad())
            }
        };
        Ok(UsbId { vendor: hex(vendor)?, product: hex(product)? })
    }
}

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyConfigError {
    #[error("invalid USB id {0:?}: expected VENDOR:PRODUCT in hexadecimal, e.g. 08e6:3437")]
    BadId(String),
    #[error(
        "key poll interval {0} ms out of range ({MIN_POLL_INTERVAL_MS} to {MAX_POLL_INTERVAL_MS})"
    )]
    BadInterval(u64),
}

/// The USB interface class of smart-card readers (CCID).
pub const SMART_CARD_CLASS: u8 = 0x0B;

/// The REAL keys known by id. Any CCID reader is recognised by its class anyway; the list is for
/// keys seen on notaries' workstations, so that they are named even if a firmware reports
/// another class. Both are in pcsc-lite's CCID list of supported readers:
/// - `08e6:3437`: Gemalto PC Twin Reader / IDBridge CT30, the reader of the clé REAL;
/// - `08e6:3438`: Gemalto USB Shell Token V2, the same chip in a key-shaped token.
pub const DEFAULT_KEY_IDS: &[&str] = &["08e6:3437", "08e6:3438"];

/// How often the watcher asks by default while the key matters (a rotation is under way).
pub const DEFAULT_POLL_INTERVAL_MS: u64 = 2_000;
/// How often the watcher asks by default otherwise.
pub const DEFAULT_IDLE_POLL_INTERVAL_MS: u64 = 30_000;
const MIN_POLL_INTERVAL_MS: u64 = 100;
const MAX_POLL_INTERVAL_MS: u64 = 600_000;

/// The `[key]` section of the agent's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KeyConfig {
    /// The vendor:product pairs that are REAL keys whatever their class; replaces the defaults
    /// ([`DEFAULT_KEY_IDS`]) when set. Smart-card readers are recognised by class in any case.
    pub ids: Vec<String>,
    /// How often to look while a rotation is under way, in milliseconds (default 2000).
    pub poll_interval_ms: u64,
    /// How often to look otherwise, in milliseconds (default 30000).
    pub idle_poll_interval_ms: u64,
}

impl Default for KeyConfig {
    fn default() -> Self {
        KeyConfig {
            ids: DEFAULT_KEY_IDS.iter().map(|id| (*id).to_owned()).collect(),
            poll_interval_ms: DEFAULT_POLL_INTERVAL_MS,
            idle_poll_interval_ms: DEFAULT_IDLE_POLL_INTERVAL_MS,
        }
    }
}

impl KeyConfig {
    /// The matcher this configuration describes.
    pub fn matcher(&self) -> Result<KeyMatcher, KeyConfigError> {
        let ids = self.ids.iter().map(|id| id.parse()).collect::<Result<_, _>>()?;
        Ok(KeyMatcher { ids })
    }

    /// How often the watcher asks while a rotation is under way.
    pub fn poll_interval(&self) -> Result<Duration, KeyConfigError> {
        interval(self.poll_interval_ms)
    }

    /// How often the watcher asks otherwise.
    pub fn idle_poll_interval(&self) -> Result<Duration, KeyConfigError> {
        interval(self.idle_poll_interval_ms)
    }
}

fn interval(ms: u64) -> Result<Duration, KeyConfigError> {
    if (MIN_POLL_INTERVAL_MS..=MAX_POLL_INTERVAL_MS).contains(&ms) {
        Ok(Duration::from_millis(ms))
    } else {
        Err(KeyConfigError::BadInterval(ms))
    }
}

/// Decides which USB device is a REAL key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyMatcher {
    ids: Vec<UsbId>,
}

impl Default for KeyMatcher {
    fn default() -> Self {
        KeyMatcher { ids: DEFAULT_KEY_IDS.iter().filter_map(|id| id.parse().ok()).collect() }
    }
}

impl KeyMatcher {
    /// A matcher for these ids (and the smart-card class).
    pub fn new(ids: Vec<UsbId>) -> Self {
        KeyMatcher { ids }
    }

    /// Whether a device with this id, and these device and interface classes, is a REAL key.
    pub fn is_key(&self, id: UsbId, classes: impl IntoIterator<Item = u8>) -> bool {
        self.ids.contains(&id) || classes.into_iter().any(|class| class == SMART_CARD_CLASS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_as_lsusb_prints_them_and_nothing_else() {
        let id: UsbId = "08e6:3437".parse().unwrap();
        assert_eq!(id, UsbId { vendor: 0x08e6, product: 0x3437 });
        assert_eq!(id.to_string(), "08e6:3437");
        assert_eq!("08E6:34AB".parse::<UsbId>().unwrap().to_string(), "08e6:34ab");
        for bad in
            ["", "08e6", "08e6:", "8e6:3437", "08e6:34370", "08e6-3437", "+8e6:3437", "zz:zz"]
        {
            assert_eq!(bad.parse::<UsbId>(), Err(KeyConfigError::BadId(bad.to_owned())), "{bad}");
        }
    }

    #[test]
    fn a_key_is_a_listed_id_or_a_smart_card_interface() {
        let matcher = KeyMatcher::default();
        let gemalto = UsbId { vendor: 0x08e6, product: 0x3437 };
        let mouse = UsbId { vendor: 0x046d, product: 0xc077 };
        assert!(matcher.is_key(gemalto, [0x00, 0x03]), "listed, whatever its class");
        assert!(!matcher.is_key(mouse, [0x00, 0x03]), "a HID mouse");
        assert!(matcher.is_key(mouse, [0x00, 0x03, SMART_CARD_CLASS]), "an unlisted CCID reader");
        assert!(!KeyMatcher::new(vec![]).is_key(gemalto, [0x00]), "the list replaces the defaults");
    }

    #[test]
    fn the_config_section_has_defaults_and_refuses_unknown_fields() {
        let config: KeyConfig = toml::from_str("").unwrap();
        assert_eq!(config, KeyConfig::default());
        assert_eq!(config.matcher().unwrap(), KeyMatcher::default());
        assert_eq!(config.poll_interval().unwrap(), Duration::from_secs(2));
        assert_eq!(config.idle_poll_interval().unwrap(), Duration::from_secs(30));
        let config: KeyConfig =
            toml::from_str("ids = [\"1234:abcd\"]\npoll_interval_ms = 500").unwrap();
        assert_eq!(
            config.matcher().unwrap(),
            KeyMatcher::new(vec![UsbId { vendor: 0x1234, product: 0xabcd }])
        );
        assert_eq!(config.poll_interval().unwrap(), Duration::from_millis(500));
        assert!(toml::from_str::<KeyConfig>("hotplug = true").is_err());
        let bad: KeyConfig = toml::from_str(
            "ids = [\"1234\"]\npoll_interval_ms = 0\nidle_poll_interval_ms = 600001",
        )
        .unwrap();
        assert!(matches!(bad.matcher(), Err(KeyConfigError::BadId(_))));
        assert_eq!(bad.poll_interval(), Err(KeyConfigError::BadInterval(0)));
        assert_eq!(bad.idle_poll_interval(), Err(KeyConfigError::BadInterval(600_001)));
    }

    #[test]
    fn states_read_in_french() {
        let present = KeyState::Present { device: "08e6:3437 bus 1 port 1-1".into() };
        assert_eq!(present.french(), "Clé REAL branchée (08e6:3437 bus 1 port 1-1)");
        assert_eq!(KeyState::Absent.french(), "Aucune clé REAL branchée");
        let unknown = KeyState::Unknown { reason: "no USB access: why".into() };
        let french = unknown.french();
        assert!(french.starts_with("État de la clé inconnu : Sesame ne peut pas voir"), "{french}");
        assert!(french.ends_with("(détail pour votre informaticien : no USB access: why)"));
    }

    #[test]
    fn the_fake_answers_what_it_was_told() {
        let fake = FakeKeyProbe::default();
        assert_eq!(fake.state(), KeyState::Absent);
        fake.set(KeyState::Present { device: "fake".into() });
        assert_eq!(fake.state(), KeyState::Present { device: "fake".into() });
    }
}
