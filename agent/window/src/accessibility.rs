//! How the window speaks to assistive technology (AccessKit, which a screen reader reads over
//! AT-SPI on Linux): the window's accessible name, the screen titles as headings, the spinners'
//! names, where the keyboard focus lands when a screen is entered, and the **announcer**: one
//! live region whose text is the news of the screen shown (its title, then the refusal, the key's
//! state or the step the service is at). Each time that text changes, AccessKit announces it
//! (`object:announcement` on AT-SPI): a refusal is announced at once (`Live::Assertive`), any
//! other news when the screen reader is idle (`Live::Polite`).
//!
//! Invariant: every refusal reaches a screen reader. A refusal always puts the window on a screen
//! whose news starts with the refusal's words (the passwords or the key asked again, the change
//! refused, the session broken, the service unreachable), so it is announced.

use eframe::egui::{self, Id, Response, RichText, Ui, accesskit};
use sesame_local::protocol::Refusal;
use sesame_local::texts_fr;

use crate::flow::{Flow, Screen};
use crate::texts;

/// The announcer's node in the accessibility tree.
fn announcer_id() -> Id {
    Id::unique("sesame-announcer")
}

/// Where the heading of the screen shown is remembered for this frame.
fn heading_slot() -> Id {
    Id::unique("sesame-heading")
}

/// Whether this frame is the screen's first (its main widget then takes the focus).
fn entry_slot() -> Id {
    Id::unique("sesame-screen-entered")
}

/// What the announcer says, and how urgently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct News {
    /// The words, in French.
    pub text: String,
    /// A refusal or a failure: said at once, interrupting the screen reader.
    pub urgent: bool,
}

impl News {
    fn polite(parts: &[&str]) -> News {
        News { text: sentences(parts), urgent: false }
    }

    fn urgent(parts: &[&str]) -> News {
        News { text: sentences(parts), urgent: true }
    }
}

/// Joins the parts into sentences (a title gets a full stop when it has none).
fn sentences(parts: &[&str]) -> String {
    let mut text = String::new();
    for part in parts.iter().map(|part| part.trim()).filter(|part| !part.is_empty()) {
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(part);
        if !part.ends_with(['.', '!', '?', '…', ':']) {
            text.push('.');
        }
    }
    text
}

fn refusal_lines(refusal: &Refusal) -> Vec<String> {
    texts_fr::refusal(refusal)
}

/// The news of the screen shown: what a screen reader says when it changes.
pub fn news(flow: &Flow) -> News {
    match flow.screen() {
        Screen::Loading => News::polite(&[texts::LOADING]),
        Screen::Unreachable { detail } => {
            News::urgent(&[texts::UNREACHABLE_TITLE, &texts_fr::unreachable(detail)])
        }
        Screen::Idle { why } => {
            let lines = refusal_lines(why);
            let mut parts = vec![texts::NOTHING_TITLE];
            parts.extend(lines.iter().map(String::as_str));
            News::polite(&parts)
        }
        Screen::Why { .. } => News::polite(&[texts::WINDOW_TITLE]),
        Screen::Choose { .. } => News::polite(&[texts::CHOOSE_TITLE]),
        Screen::Unplug { notice } => {
            let key = texts::key_state(flow.key());
            match notice {
                Some(refusal) => {
                    let lines = refusal_lines(refusal);
                    let mut parts: Vec<&str> = lines.iter().map(String::as_str).collect();
                    parts.extend([texts::UNPLUG_TITLE, key.as_str()]);
                    News::urgent(&parts)
                }
                None => News::polite(&[&texts::step_of(2), texts::UNPLUG_TITLE, &key]),
            }
        }
        Screen::Passwords { notice: Some(refusal), .. } => {
            let lines = refusal_lines(refusal);
            let mut parts: Vec<&str> = lines.iter().map(String::as_str).collect();
            parts.push(texts::PASSWORDS_TITLE);
            News::urgent(&parts)
        }
        Screen::Passwords { notice: None, .. } => {
            News::polite(&[&texts::step_of(3), texts::PASSWORDS_TITLE])
        }
        Screen::NewPassword { .. } => {
            News::polite(&[&texts::step_of(3), texts::NEW_PASSWORD_TITLE])
        }
        Screen::Working { steps } => {
            let now = match steps.last() {
                Some(step) => texts_fr::progress(*step).to_owned(),
                None => texts::WAITING.to_owned(),
            };
            News::polite(&[texts::WORKING_TITLE, &now])
        }
        Screen::Refused { refusal } => {
            let lines = refusal_lines(refusal);
            let mut parts = vec![texts::REFUSED_TITLE];
            parts.extend(lines.iter().map(String::as_str));
            News::urgent(&parts)
        }
        Screen::Broken { message } => News::urgent(&[texts::REFUSED_TITLE, message]),
        Screen::Outlook { mailbox, key_in } => {
            News::polite(&[&texts_fr::done(mailbox, *key_in), texts::OUTLOOK_TITLE])
        }
        Screen::Replug => News::polite(&[&texts::step_of(6), texts::REPLUG_TITLE]),
        Screen::Finished => News::polite(&[texts::FINISHED_TITLE, texts::FINISHED_BODY]),
    }
}

/// Called once per frame before the screen is drawn: names the window (the accessibility tree's
/// root) after its title and says the news in the announcer. `entered`: the screen's first frame,
/// when the focus left on the previous screen is let go (the screen's main widget takes it, or
/// else its heading, see [`settle_focus`]).
pub fn begin_frame(ctx: &egui::Context, flow: &Flow, entered: bool) {
    ctx.accesskit_node_builder(egui::accesskit_root_id(), |root| {
        root.set_label(texts::WINDOW_TITLE);
    });
    let news = news(flow);
    ctx.accesskit_node_builder(announcer_id(), |node| {
        node.set_role(accesskit::Role::Status);
        node.set_label(news.text);
        node.set_live(if news.urgent {
            accesskit::Live::Assertive
        } else {
            accesskit::Live::Polite
        });
        node.set_live_atomic();
    });
    ctx.data_mut(|data| {
        data.remove::<Id>(heading_slot());
        data.insert_temp(entry_slot(), entered);
    });
    if entered {
        ctx.memory_mut(|memory| {
            if let Some(id) = memory.focused() {
                memory.surrender_focus(id);
            }
        });
    }
}

/// Called once per frame after the screen is drawn: when no widget has the focus (no field or
/// button to use yet: the service works, the key is awaited), the heading takes it, so that a
/// screen reader says where the person is. Not only on the screen's first frame: egui may draw a
/// frame twice (a discarded layout pass), and a focus asked in the first pass can be lost.
pub fn settle_focus(ctx: &egui::Context, _entered: bool) {
    if ctx.memory(|memory| memory.focused().is_some()) {
        return;
    }
    if let Some(heading) = ctx.data(|data| data.get_temp::<Id>(heading_slot())) {
        ctx.memory_mut(|memory| memory.request_focus(heading));
    }
}

/// Whether a widget may take the focus on its own: nothing has it, or only the heading (which
/// holds it while the screen waits).
pub fn focus_is_free(ui: &Ui) -> bool {
    let heading = ui.data(|data| data.get_temp::<Id>(heading_slot()));
    match ui.memory(|memory| memory.focused()) {
        None => true,
        focused => focused == heading,
    }
}

/// A heading of the given level. The screen's title (level 1) can hold the keyboard focus (a
/// screen reader then reads it): it is where the focus lands when nothing else takes it.
pub fn heading(ui: &mut Ui, text: RichText, level: usize) -> Response {
    // A label is named by its value; a heading by its name.
    let name = text.text().to_owned();
    let label = egui::Label::new(text);
    let label =
        if level == 1 { label.sense(egui::Sense::focusable_noninteractive()) } else { label };
    let response = ui.add(label);
    ui.ctx().accesskit_node_builder(response.id, |node| {
        node.set_role(accesskit::Role::Heading);
        node.set_label(name);
        node.set_level(level);
    });
    if level == 1 {
        ui.data_mut(|data| data.insert_temp(heading_slot(), response.id));
    }
    response
}

/// A spinner with an accessible name (what the person is waiting for).
pub fn spinner(ui: &mut Ui, name: &str) -> Response {
    let response = ui.spinner();
    ui.ctx().accesskit_node_builder(response.id, |node| node.set_label(name));
    response
}

/// The screen's main button, for the screens whose button is not `view`'s primary one: it takes
/// the focus on the screen's first frame, unless a widget drawn before it already did.
pub fn main_button(response: &Response) {
    let entered = response.ctx.data(|data| data.get_temp::<bool>(entry_slot()).unwrap_or(false));
    if entered && response.enabled() && response.ctx.memory(|memory| memory.focused().is_none()) {
        response.request_focus();
    }
}

#[cfg(test)]
mod tests {
    use sesame_local::protocol::{Event, KeyStatus, ProgressStep, StatusReport};

    use super::*;
    use crate::flow::Update;

    #[test]
    fn a_titles_sentence_gets_a_full_stop_and_the_others_keep_theirs() {
        assert_eq!(sentences(&["Titre", "Phrase.", "", "Question ?"]), "Titre. Phrase. Question ?");
    }

    #[test]
    fn a_refusal_is_urgent_news_and_a_step_is_polite_news() {
        let mut flow = Flow::new();
        let report = StatusReport {
            agent_version: "test".to_owned(),
            enrolled: true,
            key: KeyStatus::Absent,
            rotations: Vec::new(),
            last_report: None,
            reports_waiting: 0,
            next_page: None,
        };
        flow.on_update(Update::Status(report));
        assert!(!news(&flow).urgent, "nothing to do is not a refusal");
        flow.on_update(Update::Event(Event::Progress(ProgressStep::WaitingForUnplug)));
        flow.on_update(Update::Event(Event::Progress(ProgressStep::KeyAbsent)));
        flow.on_update(Update::Event(Event::Refused(Refusal::KeyPluggedDuringChange)));
        let said = news(&flow);
        assert!(said.urgent);
        assert!(said.text.starts_with(&texts_fr::refusal(&Refusal::KeyPluggedDuringChange)[0]));
    }
}
