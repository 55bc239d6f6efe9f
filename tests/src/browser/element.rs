//! An element of the page, as WebDriver names it; valid until the page it belongs to goes away
//! (then its commands fail with `stale element reference`).

use serde_json::{Value, json};

use super::BrowserError;
use super::wire::{ELEMENT_KEY, Wire};

/// An element found in the current page.
#[derive(Debug, Clone)]
pub struct Element {
    wire: Wire,
    id: String,
}

impl Element {
    /// The element a WebDriver answer names (`{"element-6066-…": id}`).
    pub(crate) fn from_json(wire: &Wire, value: &Value) -> Result<Element, BrowserError> {
        let id = value
            .get(ELEMENT_KEY)
            .and_then(Value::as_str)
            .ok_or_else(|| BrowserError::Protocol(format!("not an element: {value}")))?;
        Ok(Element { wire: wire.clone(), id: id.to_owned() })
    }

    /// Elements from a WebDriver answer holding a list of them.
    pub(crate) fn list_from_json(wire: &Wire, value: &Value) -> Result<Vec<Element>, BrowserError> {
        let items = value
            .as_array()
            .ok_or_else(|| BrowserError::Protocol(format!("not a list of elements: {value}")))?;
        items.iter().map(|item| Element::from_json(wire, item)).collect()
    }

    /// The element as a script argument: `browser.execute("arguments[0].focus()", &[e.to_arg()])`.
    pub fn to_arg(&self) -> Value {
        json!({ ELEMENT_KEY: self.id })
    }

    fn path(&self, tail: &str) -> String {
        format!("/element/{}{tail}", self.id)
    }

    /// Clicks it (scrolled into view first; fails if something else would get the click).
    pub async fn click(&self) -> Result<(), BrowserError> {
        self.wire.post(&self.path("/click"), json!({})).await.map(drop)
    }

    /// Types `text` into it (focusing it first). WebDriver's special keys are private-use
    /// characters: `Key::Enter.code()` and the like can be part of `text`.
    pub async fn send_keys(&self, text: &str) -> Result<(), BrowserError> {
        self.wire.post(&self.path("/value"), json!({ "text": text })).await.map(drop)
    }

    /// Empties an input or textarea.
    pub async fn clear(&self) -> Result<(), BrowserError> {
        self.wire.post(&self.path("/clear"), json!({})).await.map(drop)
    }

    /// Its rendered text (`innerText`-like: hidden text left out).
    pub async fn text(&self) -> Result<String, BrowserError> {
        super::string(self.wire.get(&self.path("/text")).await?)
    }

    /// An HTML attribute, `None` when absent.
    pub async fn attribute(&self, name: &str) -> Result<Option<String>, BrowserError> {
        let value = self.wire.get(&self.path(&format!("/attribute/{name}"))).await?;
        Ok(value.as_str().map(str::to_owned))
    }

    /// A DOM property (`value`, `checked`, …), as JSON.
    pub async fn property(&self, name: &str) -> Result<Value, BrowserError> {
        self.wire.get(&self.path(&format!("/property/{name}"))).await
    }

    /// Its tag name, lower case.
    pub async fn tag_name(&self) -> Result<String, BrowserError> {
        super::string(self.wire.get(&self.path("/name")).await?)
    }

    /// Whether it is displayed.
    pub async fn is_displayed(&self) -> Result<bool, BrowserError> {
        let value = self.wire.get(&self.path("/displayed")).await?;
        value.as_bool().ok_or_else(|| BrowserError::Protocol(format!("not a boolean: {value}")))
    }

    /// The first element under this one matching `css`.
    pub async fn find(&self, css: &str) -> Result<Element, BrowserError> {
        let value = self
            .wire
            .post(&self.path("/element"), json!({ "using": "css selector", "value": css }))
            .await?;
        Element::from_json(&self.wire, &value)
    }

    /// Every element under this one matching `css`, in document order.
    pub async fn find_all(&self, css: &str) -> Result<Vec<Element>, BrowserError> {
        let value = self
            .wire
            .post(&self.path("/elements"), json!({ "using": "css selector", "value": css }))
            .await?;
        Element::list_from_json(&self.wire, &value)
    }

    /// A PNG of just this element.
    pub async fn screenshot_png(&self) -> Result<Vec<u8>, BrowserError> {
        super::decode_png(self.wire.get(&self.path("/screenshot")).await?)
    }

    /// Whether `other` is the same element of the page.
    pub fn is(&self, other: &Element) -> bool {
        self.id == other.id
    }
}
