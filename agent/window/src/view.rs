//! The drawing of each [`Screen`] with egui: one step per screen, a title with the step number
//! beside it, plain French (the agent's `texts_fr` for every step and refusal), the buttons in a
//! bar fixed at the bottom of the window. Large text (body 18 points, titles 26, buttons 20) for
//! people not at ease with screens, in the desktop's light or dark theme (light when it says
//! nothing), with colours of sufficient contrast in both. Every step, its main button included,
//! fits the default window (640×600 points, also at 150 % scaling) without scrolling; a smaller
//! window scrolls the step above the bar. Every input is labelled (`labelled_by`) so screen
//! readers (AccessKit) and the test harness find it by its French name; everything works from the
//! keyboard (Tab, Space, Enter), in reading order: the fields, then the checklist, then the bar.

use eframe::egui::{self, Id, RichText, Ui};
use egui::{Align, Layout, Rect, TextStyle, Theme, ThemePreference, UiBuilder};
use sesame_local::protocol::{KeyStatus, Refusal};
use sesame_local::texts_fr;
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::accessibility;
use crate::checklist::{all_met, checklist};
use crate::flow::{Action, Flow, PasswordsAsked, Screen};
use crate::palette::{LIGHT_TEXT, Palette};
use crate::texts;
use sesame_base::calendar::Calendar;

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

/// Body text, in points.
pub const BODY_SIZE: f32 = 18.0;
/// Titles, in points.
pub const HEADING_SIZE: f32 = 26.0;
/// Button text, in points.
pub const BUTTON_SIZE: f32 = 20.0;
/// The gap between the step and the bar of buttons (the bar's separator is in the middle).
const BAR_GAP: f32 = 10.0;
/// Where the last frame's overflow is kept (`overflow`).
const OVERFLOW_ID: &str = "sesame-overflow";

/// Larger text than egui's default, for people who are not at ease with screens, in both themes;
/// the theme follows the desktop (`desktop`: what the desktop says when the windowing system does
/// not tell egui), light when it says nothing.
pub fn style(ctx: &egui::Context, desktop: Option<Theme>) {
    ctx.options_mut(|options| {
        options.theme_preference = ThemePreference::System;
        options.fallback_theme = desktop.unwrap_or(Theme::Light);
    });
    ctx.all_styles_mut(|style| {
        use egui::{FontFamily::Proportional, FontId};
        style.text_styles.insert(TextStyle::Heading, FontId::new(HEADING_SIZE, Proportional));
        style.text_styles.insert(TextStyle::Body, FontId::new(BODY_SIZE, Proportional));
        style.text_styles.insert(TextStyle::Button, FontId::new(BUTTON_SIZE, Proportional));
        style.text_styles.insert(TextStyle::Small, FontId::new(15.0, Proportional));
        style.spacing.button_padding = egui::vec2(18.0, 7.0);
        style.spacing.item_spacing = egui::vec2(10.0, 4.0);
        style.spacing.interact_size.y = 28.0;
        style.spacing.icon_width = 20.0;
        style.spacing.icon_width_inner = 12.0;
        style.spacing.icon_spacing = 8.0;
        // The default weak and text colours are too pale on white (contrast below 4.5:1).
        if !style.visuals.dark_mode {
            style.visuals.override_text_color = Some(LIGHT_TEXT);
        }
    });
}

/// How many points the last frame's step lacked to fit above the bar (0 or less: it fit, nothing
/// to scroll).
pub fn overflow(ctx: &egui::Context) -> f32 {
    ctx.data(|data| data.get_temp::<f32>(Id::unique(OVERFLOW_ID))).unwrap_or(0.0)
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
        // The bar of buttons is laid out first at the bottom, but filled last (keyboard order).
        let whole = ui.available_rect_before_wrap();
        let bar_height = ui.text_style_height(&TextStyle::Button)
            + 2.0 * ui.spacing().button_padding.y
            + BAR_GAP;
        let bar_rect =
            Rect::from_min_max(egui::pos2(whole.left(), whole.bottom() - bar_height), whole.max);
        let mut bar = ui.new_child(
            UiBuilder::new()
                // Ids of the screen's own: a button does not inherit the last screen's focus.
                .id_salt(("sesame-bar", flow.screen().name()))
                .max_rect(bar_rect.with_min_y(bar_rect.top() + BAR_GAP))
                .layout(Layout::left_to_right(Align::Center)),
        );
        bar.painter().hline(
            bar_rect.x_range(),
            bar_rect.top() + BAR_GAP / 2.0,
            ui.visuals().widgets.noninteractive.bg_stroke,
        );
        let scrolled = egui::ScrollArea::vertical()
            .auto_shrink([false, false])
            .max_height((whole.height() - bar_height).max(0.0))
            .show(ui, |ui| step(ui, &mut bar, flow, fields, now, calendar, entered));
        action = scrolled.inner;
        let lacking = scrolled.content_size.y - scrolled.inner_rect.height();
        ui.ctx().data_mut(|data| data.insert_temp(Id::unique(OVERFLOW_ID), lacking));
    });
    action
}

/// The step itself in `ui`, its buttons in `bar`.
fn step(
    ui: &mut Ui,
    bar: &mut Ui,
    flow: &Flow,
    fields: &mut Fields,
    now: OffsetDateTime,
    calendar: &dyn Calendar,
    entered: bool,
) -> Option<Action> {
    match flow.screen() {
        Screen::Loading => simple(ui, bar, None, texts::WINDOW_TITLE, &[texts::LOADING], None),
        Screen::Unreachable { detail } => simple(
            ui,
            bar,
            None,
            texts::UNREACHABLE_TITLE,
            &[&texts_fr::unreachable(detail)],
            Some(texts::AGAIN),
        ),
        Screen::Idle { why } => {
            let lines = texts_fr::refusal(why);
            let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
            simple(ui, bar, None, texts::NOTHING_TITLE, &lines, None)
        }
        Screen::Why { rotation } => {
            let lines = texts::why(rotation, now, calendar);
            heading(ui, Some(1), texts::WINDOW_TITLE);
            for line in &lines {
                ui.label(line);
            }
            buttons(bar, |ui| primary(ui, texts::START, true, entered).then_some(Action::Start))
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
                let button = ui.button(text);
                accessibility::main_button(&button);
                if button.clicked() {
                    chosen = Some(Action::Choose(choice.mailbox.clone()));
                }
            }
            buttons(bar, |_| None);
            chosen
        }
        Screen::Unplug { notice } => unplug(ui, bar, flow, notice.as_ref()),
        Screen::Passwords { asked, notice } => {
            passwords(ui, bar, asked, notice.as_ref(), fields, entered)
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
            buttons(bar, |ui| {
                let clicked = primary(ui, texts::SUBMIT, ready, false);
                ((clicked || submitted) && ready)
                    .then(|| Action::NewPassword(secrecy::SecretString::from(fields.new.as_str())))
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
            accessibility::spinner(ui, texts::WORKING_SPINNER);
            None
        }
        Screen::Refused { refusal } => {
            let lines = texts_fr::refusal(refusal);
            let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
            simple(ui, bar, Some(4), texts::REFUSED_TITLE, &lines, Some(texts::AGAIN))
        }
        Screen::Broken { message } => {
            simple(ui, bar, Some(4), texts::REFUSED_TITLE, &[message], Some(texts::AGAIN))
        }
        Screen::Outlook { mailbox, key_in } => {
            heading(ui, Some(5), texts::OUTLOOK_TITLE);
            ui.label(texts_fr::done(mailbox, *key_in));
            ui.label(texts::OUTLOOK_BODY);
            buttons(bar, |ui| {
                primary(ui, texts::OUTLOOK_DONE, true, entered).then_some(Action::OutlookDone)
            })
        }
        Screen::Replug => {
            heading(ui, Some(6), texts::REPLUG_TITLE);
            ui.label(texts::REPLUG_BODY);
            accessibility::spinner(ui, texts::WAITING_FOR_KEY);
            None
        }
        Screen::Finished => {
            heading(ui, Some(6), texts::FINISHED_TITLE);
            ui.label(texts::FINISHED_BODY);
            accessibility::main_button(&close_button(bar));
            None
        }
    }
}

/// The title, the step number on its right ("Étape 3 sur 6"), a line under both.
fn heading(ui: &mut Ui, step: Option<u8>, title: &str) {
    let step = step.map(texts::step_of);
    let step_width = step.as_ref().map_or(0.0, |text| {
        let galley = egui::WidgetText::from(text.as_str()).into_galley(
            ui,
            Some(egui::TextWrapMode::Extend),
            f32::INFINITY,
            TextStyle::Body,
        );
        galley.size().x + ui.spacing().item_spacing.x * 2.0
    });
    ui.horizontal(|ui| {
        let title_width = (ui.available_width() - step_width).max(0.0);
        ui.allocate_ui_with_layout(
            egui::vec2(title_width, 0.0),
            Layout::top_down(Align::Min),
            |ui| {
                ui.set_max_width(title_width);
                accessibility::heading(ui, RichText::new(title).heading(), 1);
            },
        );
        if let Some(step) = step {
            ui.with_layout(Layout::right_to_left(Align::Center), |ui| ui.label(step));
        }
    });
    ui.separator();
}

/// The bar's buttons: the step's own (`add`), then "Fermer".
fn buttons(ui: &mut Ui, add: impl FnOnce(&mut Ui) -> Option<Action>) -> Option<Action> {
    let action = add(ui);
    let _ = close_button(ui);
    action
}

/// The screen's main button; `focus`: it takes the keyboard focus (Enter presses it).
fn primary(ui: &mut Ui, text: &str, enabled: bool, focus: bool) -> bool {
    let response = primary_button(ui, text, enabled);
    if focus && enabled {
        response.request_focus();
    }
    response.clicked()
}

/// The screen's main button as drawn: bold, wide.
fn primary_button(ui: &mut Ui, text: &str, enabled: bool) -> egui::Response {
    let button = egui::Button::new(RichText::new(text).strong()).min_size(egui::vec2(150.0, 0.0));
    ui.add_enabled(enabled, button)
}

fn close_button(ui: &mut Ui) -> egui::Response {
    let response = ui.button(texts::CLOSE);
    if response.clicked() {
        ui.ctx().send_viewport_cmd(egui::ViewportCommand::Close);
    }
    response
}

fn simple(
    ui: &mut Ui,
    bar: &mut Ui,
    step: Option<u8>,
    title: &str,
    lines: &[&str],
    again: Option<&str>,
) -> Option<Action> {
    heading(ui, step, title);
    for line in lines {
        ui.label(*line);
    }
    buttons(bar, |ui| match again {
        Some(text) => {
            let again = primary_button(ui, text, true);
            accessibility::main_button(&again);
            again.clicked().then_some(Action::Again)
        }
        None => None,
    })
}

/// What went wrong, in the notice colour inside a frame of the same colour.
fn notice(ui: &mut Ui, refusal: &Refusal) {
    let color = Palette::of(ui.visuals()).unmet;
    egui::Frame::new()
        .stroke(egui::Stroke::new(2.0, color))
        .corner_radius(4.0)
        .inner_margin(egui::Margin::symmetric(6, 3))
        .show(ui, |ui| {
            ui.set_width(ui.available_width());
            for line in texts_fr::refusal(refusal) {
                ui.label(RichText::new(line).color(color));
            }
        });
}

fn unplug(ui: &mut Ui, bar: &mut Ui, flow: &Flow, refusal: Option<&Refusal>) -> Option<Action> {
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
    let next = buttons(bar, |ui| {
        let enabled = flow.can_go_on_without_key();
        // Once the key is out, Enter goes on, unless the person is elsewhere (the checkbox).
        let focus = accessibility::focus_is_free(ui);
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
        egui::TextEdit::singleline(text)
            .id(Id::unique(id))
            .password(!show)
            .desired_width(ui.available_width().min(320.0)),
    );
    let response = response.labelled_by(label.id);
    if focus {
        response.request_focus();
    }
    response.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter))
}

/// The three fields on the left, the live checklist on the right.
fn passwords(
    ui: &mut Ui,
    bar: &mut Ui,
    asked: &PasswordsAsked,
    refusal: Option<&Refusal>,
    fields: &mut Fields,
    entered: bool,
) -> Option<Action> {
    heading(ui, Some(3), texts::PASSWORDS_TITLE);
    let lines =
        texts_fr::need_passwords(asked.kind, &asked.mailbox, &asked.display_name, asked.policy);
    let mut submitted = false;
    let mut items = Vec::new();
    // The fields take a little less than half the width, so that the checklist's lines rarely
    // wrap: the longer list is what sets the step's height.
    let gap = ui.spacing().item_spacing.x * 2.0;
    let left_width = (ui.available_width() * 0.46).floor();
    let right_width = (ui.available_width() - left_width - gap).max(0.0);
    ui.horizontal_top(|ui| {
        ui.allocate_ui_with_layout(
            egui::vec2(left_width, 0.0),
            Layout::top_down(Align::Min),
            |left| {
                left.set_width(left_width);
                // Why the last typing was refused, above the fields to type again; otherwise whose
                // mailbox it is (the person has read it already when a notice is shown). The
                // next line says what the fields' labels say, the one after is the checklist's,
                // the last ("les caractères ne s'affichent pas") is for the terminal only.
                match refusal {
                    Some(refusal) => notice(left, refusal),
                    None => {
                        for line in lines.iter().take(1) {
                            left.label(line);
                        }
                    }
                }
                let show = fields.show;
                let old_label = texts::old_password_label(asked.kind);
                secret_field(left, old_label, OLD_ID, &mut fields.old, show, entered);
                secret_field(
                    left,
                    texts::new_password_label(),
                    NEW_ID,
                    &mut fields.new,
                    show,
                    false,
                );
                submitted = secret_field(
                    left,
                    texts::confirm_password_label(),
                    CONFIRM_ID,
                    &mut fields.confirm,
                    show,
                    false,
                );
                left.checkbox(&mut fields.show, texts::SHOW_PASSWORDS);
            },
        );
        ui.add_space(gap - ui.spacing().item_spacing.x);
        items = checklist(asked, &fields.old, &fields.new, &fields.confirm);
        ui.allocate_ui_with_layout(
            egui::vec2(right_width, 0.0),
            Layout::top_down(Align::Min),
            |right| {
                right.set_width(right_width);
                let palette = Palette::of(right.visuals());
                accessibility::heading(right, RichText::new(texts::CHECKLIST_TITLE).strong(), 2);
                // The lines of one list, closer together.
                right.spacing_mut().item_spacing.y = 2.0;
                for item in &items {
                    let (mark, color) =
                        if item.met { ("Oui :", palette.met) } else { ("Non :", palette.unmet) };
                    right.label(RichText::new(format!("{mark} {}", item.text)).color(color));
                }
            },
        );
    });
    let ready = !fields.old.is_empty() && all_met(&items);
    buttons(bar, |ui| {
        let clicked = primary(ui, texts::SUBMIT, ready, false);
        ((clicked || submitted) && ready).then(|| Action::Passwords {
            old: secrecy::SecretString::from(fields.old.as_str()),
            new: secrecy::SecretString::from(fields.new.as_str()),
            confirm: secrecy::SecretString::from(fields.confirm.as_str()),
        })
    })
}
