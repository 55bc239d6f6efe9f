//! The drawing of each [`Screen`] with egui: one step per screen, a title, the step number, plain
//! French (the agent's `texts_fr` for every step and refusal), the buttons at the bottom. Every
//! input is labelled (`labelled_by`) so screen readers (AccessKit) and the test harness find it
//! by its French name; everything works from the keyboard (Tab, Space, Enter).

use eframe::egui::{self, Color32, Id, RichText, Ui};
use sesame_local::protocol::{KeyStatus, Refusal};
use sesame_local::texts_fr;
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::calendar::Calendar;
use crate::checklist::{all_met, checklist};
use crate::flow::{Action, Flow, PasswordsAsked, Screen};
use crate::texts;

/// The password fields of the screen shown. Wiped (zeroized) when the screen is left.
#[derive(Default)]
pub struct Fields {
    /// The provisional or current password.
    pub old: Zeroizing<String>,
    /// The new password.
    pub new: Zeroizing<String>,
    /// The new password again.
    pub confirm: Zeroizing<String>,
    /// Whether the passwords are shown in clear.
    pub show: bool,
}

impl std::fmt::Debug for Fields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fields(***)")
    }
}

const OLD_ID: &str = "sesame-old-password";
const NEW_ID: &str = "sesame-new-password";
const CONFIRM_ID: &str = "sesame-confirm-password";

/// The ids of the password fields (their egui state is removed when the screen is left).
pub fn password_ids() -> [Id; 3] {
    [Id::unique(OLD_ID), Id::unique(NEW_ID), Id::unique(CONFIRM_ID)]
}

/// Larger text than egui's default, for people who are not at ease with screens.
pub fn style(ctx: &egui::Context) {
    ctx.global_style_mut(|style| {
        use egui::{FontFamily::Proportional, FontId, TextStyle};
        style.text_styles.insert(TextStyle::Heading, FontId::new(22.0, Proportional));
        style.text_styles.insert(TextStyle::Body, FontId::new(16.0, Proportional));
        style.text_styles.insert(TextStyle::Button, FontId::new(16.0, Proportional));
        style.spacing.button_padding = egui::vec2(12.0, 6.0);
        style.spacing.item_spacing = egui::vec2(8.0, 10.0);
    });
}

/// Draws the screen; returns what the person did, if anything.
/// `entered`: the screen's first frame (its main field or button takes the keyboard focus).
pub fn screen(
    ui: &mut Ui,
    flow: &Flow,
    fields: &mut Fields,
    now: OffsetDateTime,
    calendar: &dyn Calendar,
    entered: bool,
) -> Option<Action> {
    let mut action = None;
    egui::CentralPanel::default().show(ui, |ui| {
        egui::ScrollArea::vertical().auto_shrink([false, false]).show(ui, |ui| {
            action = match flow.screen() {
                Screen::Loading => simple(ui, None, texts::WINDOW_TITLE, &[texts::LOADING], None),
                Screen::Unreachable { detail } => simple(
                    ui,
                    None,
                    texts::UNREACHABLE_TITLE,
                    &[&texts_fr::unreachable(detail)],
                    Some(texts::AGAIN),
                ),
                Screen::Idle { why } => {
                    let lines = texts_fr::refusal(why);
                    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
                    simple(ui, None, texts::NOTHING_TITLE, &lines, None)
                }
                Screen::Why { rotation } => {
                    let lines = texts::why(rotation, now, calendar);
                    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
                    heading(ui, Some(1), texts::WINDOW_TITLE);
                    for line in lines {
                        ui.label(line);
                    }
                    buttons(ui, |ui| {
                        primary(ui, texts::START, true, entered).then_some(Action::Start)
                    })
                }
                Screen::Choose { choices } => {
                    heading(ui, Some(1), texts::CHOOSE_TITLE);
                    let mut chosen = None;
                    for line in texts_fr::choose_mailbox(choices).iter().take(1) {
                        ui.label(line);
                    }
                    for choice in choices {
                        let text = if choice.display_name.is_empty() {
                            choice.mailbox.clone()
                        } else {
                            format!("{} ({})", choice.mailbox, choice.display_name)
                        };
                        if ui.button(text).clicked() {
                            chosen = Some(Action::Choose(choice.mailbox.clone()));
                        }
                    }
                    chosen
                }
                Screen::Unplug { notice } => unplug(ui, flow, notice.as_ref()),
                Screen::Passwords { asked, notice } => {
                    passwords(ui, asked, notice.as_ref(), fields, entered)
                }
                Screen::NewPassword { mailbox, may_be_unchanged } => {
                    heading(ui, Some(3), texts::NEW_PASSWORD_TITLE);
                    for line in texts_fr::need_new_password(mailbox, *may_be_unchanged) {
                        ui.label(line);
                    }
                    let show = fields.show;
                    let submitted = secret_field(
                        ui,
                        texts::new_password_label(),
                        NEW_ID,
                        &mut fields.new,
                        show,
                        entered,
                    );
                    ui.checkbox(&mut fields.show, texts::SHOW_PASSWORDS);
                    let ready = *may_be_unchanged || !fields.new.is_empty();
                    buttons(ui, |ui| {
                        let clicked = primary(ui, texts::SUBMIT, ready, false);
                        ((clicked || submitted) && ready).then(|| {
                            Action::NewPassword(secrecy::SecretString::from(fields.new.as_str()))
                        })
                    })
                }
                Screen::Working { steps } => {
                    heading(ui, Some(4), texts::WORKING_TITLE);
                    if steps.is_empty() {
                        ui.label(texts::WAITING);
                    }
                    for step in steps {
                        ui.label(format!("• {}", texts_fr::progress(*step)));
                    }
                    ui.spinner();
                    None
                }
                Screen::Refused { refusal } => {
                    let lines = texts_fr::refusal(refusal);
                    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
                    simple(ui, Some(4), texts::REFUSED_TITLE, &lines, Some(texts::AGAIN))
                }
                Screen::Broken { message } => {
                    simple(ui, Some(4), texts::REFUSED_TITLE, &[message], Some(texts::AGAIN))
                }
                Screen::Outlook { mailbox, key_in } => {
                    heading(ui, Some(5), texts::OUTLOOK_TITLE);
                    ui.label(texts_fr::done(mailbox, *key_in));
                    ui.label(texts::OUTLOOK_BODY);
                    buttons(ui, |ui| {
                        primary(ui, texts::OUTLOOK_DONE, true, entered)
                            .then_some(Action::OutlookDone)
                    })
                }
                Screen::Replug => {
                    heading(ui, Some(6), texts::REPLUG_TITLE);
                    ui.label(texts::REPLUG_BODY);
                    ui.spinner();
                    None
                }
                Screen::Finished => {
                    heading(ui, Some(6), texts::FINISHED_TITLE);
                    ui.label(texts::FINISHED_BODY);
                    close_button(ui);
                    None
                }
            };
        });
    });
    action
}

fn heading(ui: &mut Ui, step: Option<u8>, title: &str) {
    if let Some(step) = step {
        ui.label(RichText::new(texts::step_of(step)).weak());
    }
    ui.heading(title);
    ui.separator();
}

fn buttons(ui: &mut Ui, add: impl FnOnce(&mut Ui) -> Option<Action>) -> Option<Action> {
    ui.add_space(8.0);
    ui.horizontal(|ui| {
        let action = add(ui);
        close_button(ui);
        action
    })
    .inner
}

/// The screen's main button; `focus`: it takes the keyboard focus (Enter presses it).
fn primary(ui: &mut Ui, text: &str, enabled: bool, focus: bool) -> bool {
    let response = ui.add_enabled(enabled, egui::Button::new(text));
    if focus && enabled {
        response.request_focus();
    }
    response.clicked()
}

fn close_button(ui: &mut Ui) {
    if ui.button(texts::CLOSE).clicked() {
        ui.ctx().send_viewport_cmd(egui::ViewportCommand::Close);
    }
}

fn simple(
    ui: &mut Ui,
    step: Option<u8>,
    title: &str,
    lines: &[&str],
    again: Option<&str>,
) -> Option<Action> {
    heading(ui, step, title);
    for line in lines {
        ui.label(*line);
    }
    buttons(ui, |ui| match again {
        Some(text) => ui.button(text).clicked().then_some(Action::Again),
        None => None,
    })
}

fn notice(ui: &mut Ui, refusal: &Refusal) {
    for line in texts_fr::refusal(refusal) {
        ui.label(RichText::new(line).color(Color32::from_rgb(0xb0, 0x30, 0x20)));
    }
}

fn unplug(ui: &mut Ui, flow: &Flow, refusal: Option<&Refusal>) -> Option<Action> {
    heading(ui, Some(2), texts::UNPLUG_TITLE);
    if let Some(refusal) = refusal {
        notice(ui, refusal);
    }
    ui.label(texts::UNPLUG_BODY);
    ui.label(RichText::new(texts::key_state(flow.key())).strong());
    let mut action = None;
    if matches!(flow.key(), Some(KeyStatus::Unknown { .. }) | None) {
        let mut confirmed = flow.key_confirmed();
        if ui.checkbox(&mut confirmed, texts::KEY_CONFIRM).changed() {
            action = Some(Action::KeyConfirmed(confirmed));
        }
    }
    let next = buttons(ui, |ui| {
        let enabled = flow.can_go_on_without_key();
        // Once the key is out, Enter goes on, unless the person is elsewhere (the checkbox).
        let focus = ui.memory(|m| m.focused().is_none());
        primary(ui, texts::NEXT, enabled, focus).then_some(Action::KeyOut)
    });
    action.or(next)
}

/// A password field with its label; returns whether Enter was pressed in it.
fn secret_field(
    ui: &mut Ui,
    label: &str,
    id: &str,
    text: &mut String,
    show: bool,
    focus: bool,
) -> bool {
    let label = ui.label(label);
    let response = ui.add(
        egui::TextEdit::singleline(text).id(Id::unique(id)).password(!show).desired_width(320.0),
    );
    let response = response.labelled_by(label.id);
    if focus {
        response.request_focus();
    }
    response.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter))
}

fn passwords(
    ui: &mut Ui,
    asked: &PasswordsAsked,
    refusal: Option<&Refusal>,
    fields: &mut Fields,
    entered: bool,
) -> Option<Action> {
    heading(ui, Some(3), texts::PASSWORDS_TITLE);
    if let Some(refusal) = refusal {
        notice(ui, refusal);
    }
    let lines =
        texts_fr::need_passwords(asked.kind, &asked.mailbox, &asked.display_name, asked.policy);
    // The last line ("les caractères ne s'affichent pas") is for the terminal only.
    for line in lines.iter().take(2) {
        ui.label(line);
    }
    let show = fields.show;
    let old_label = texts::old_password_label(asked.kind);
    secret_field(ui, old_label, OLD_ID, &mut fields.old, show, entered);
    secret_field(ui, texts::new_password_label(), NEW_ID, &mut fields.new, show, false);
    let submitted = secret_field(
        ui,
        texts::confirm_password_label(),
        CONFIRM_ID,
        &mut fields.confirm,
        show,
        false,
    );
    ui.checkbox(&mut fields.show, texts::SHOW_PASSWORDS);
    let items = checklist(asked, &fields.old, &fields.new, &fields.confirm);
    ui.label(RichText::new(texts::CHECKLIST_TITLE).strong());
    for item in &items {
        let (mark, color) = if item.met {
            ("Oui :", Color32::from_rgb(0x1b, 0x7a, 0x2e))
        } else {
            ("Non :", Color32::from_rgb(0xb0, 0x30, 0x20))
        };
        ui.label(RichText::new(format!("{mark} {}", item.text)).color(color));
    }
    let ready = !fields.old.is_empty() && all_met(&items);
    buttons(ui, |ui| {
        let clicked = primary(ui, texts::SUBMIT, ready, false);
        ((clicked || submitted) && ready).then(|| Action::Passwords {
            old: secrecy::SecretString::from(fields.old.as_str()),
            new: secrecy::SecretString::from(fields.new.as_str()),
            confirm: secrecy::SecretString::from(fields.confirm.as_str()),
        })
    })
}
