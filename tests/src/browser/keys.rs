//! Keys for keyboard-only checks, sent through WebDriver's actions API as the person would press
//! them (focus moves, `Enter` submits, `Space` ticks), to whatever has the focus.

use serde_json::{Value, json};

/// A key on the keyboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Tab,
    Enter,
    Escape,
    Space,
    Backspace,
    Shift,
    ArrowUp,
    ArrowDown,
    ArrowLeft,
    ArrowRight,
    Home,
    End,
    /// A printable character.
    Char(char),
}

impl Key {
    /// Its WebDriver code: a private-use character for special keys (usable inside
    /// `Element::send_keys` text too), the character itself otherwise.
    pub fn code(self) -> char {
        match self {
            Key::Tab => '\u{E004}',
            Key::Enter => '\u{E007}',
            Key::Escape => '\u{E00C}',
            Key::Space => '\u{E00D}',
            Key::Backspace => '\u{E003}',
            Key::Shift => '\u{E008}',
            Key::ArrowUp => '\u{E013}',
            Key::ArrowDown => '\u{E015}',
            Key::ArrowLeft => '\u{E012}',
            Key::ArrowRight => '\u{E014}',
            Key::Home => '\u{E011}',
            Key::End => '\u{E010}',
            Key::Char(c) => c,
        }
    }
}

/// The body of `POST /actions` pressing `keys` together (a chord such as Shift+Tab): each pressed
/// in order, then released in reverse order.
pub(crate) fn chord(keys: &[Key]) -> Value {
    let downs = keys.iter().map(|k| json!({ "type": "keyDown", "value": k.code().to_string() }));
    let ups = keys.iter().rev().map(|k| json!({ "type": "keyUp", "value": k.code().to_string() }));
    let actions: Vec<Value> = downs.chain(ups).collect();
    json!({ "actions": [{ "type": "key", "id": "sesame-keyboard", "actions": actions }] })
}
