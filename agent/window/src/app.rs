//! [`WindowApp`]: the glue between the [`Flow`], the [`Link`] to the service and the drawing
//! (`view`). Each frame it applies the service's updates, wipes the password fields when their
//! screen is left, polls `status` about once a second while a screen follows the key live, draws
//! the screen and hands the person's action to the flow. Used as is by eframe (`main`) and by the
//! headless test harness.

use std::mem::discriminant;

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use eframe::egui;

use time::OffsetDateTime;

use crate::accessibility;
use crate::flow::{Flow, Screen};
use crate::link::Link;
use crate::view::{self, Fields};
use sesame_base::calendar::Calendar;

/// How often `status` is asked while a screen follows the key.
pub const POLL_EVERY: Duration = Duration::from_millis(700);

/// The clock the window reads the date from (injected for the tests).
pub type Clock = Box<dyn Fn() -> OffsetDateTime>;

/// Which day it is for the person (injected for the tests).
pub type Days = Box<dyn Calendar>;

/// The window.
pub struct WindowApp {
    flow: Flow,
    link: Link,
    fields: Fields,
    context: Arc<OnceLock<egui::Context>>,
    last_poll: Option<Instant>,
    clock: Clock,
    calendar: Days,
    styled: bool,
    /// The desktop's light or dark preference, when the windowing system does not tell egui.
    desktop_theme: Option<egui::Theme>,
    /// The screen drawn last frame, to know when one is entered.
    drawn: Option<std::mem::Discriminant<Screen>>,
}

impl std::fmt::Debug for WindowApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WindowApp").field("screen", self.flow.screen()).finish_non_exhaustive()
    }
}

impl WindowApp {
    /// A window talking to the service at `socket`, counting days with `calendar`.
    pub fn new(
        socket: std::path::PathBuf,
        clock: Clock,
        calendar: Days,
    ) -> std::io::Result<WindowApp> {
        let context: Arc<OnceLock<egui::Context>> = Arc::new(OnceLock::new());
        let waker = context.clone();
        let link = Link::spawn(
            socket,
            Box::new(move || {
                if let Some(ctx) = waker.get() {
                    ctx.request_repaint();
                }
            }),
        )?;
        let flow = Flow::new();
        for command in flow.start() {
            link.send(command);
        }
        Ok(WindowApp {
            flow,
            link,
            fields: Fields::default(),
            context,
            last_poll: Some(Instant::now()),
            clock,
            calendar,
            styled: false,
            desktop_theme: None,
            drawn: None,
        })
    }

    /// The window in the desktop's light or dark `theme` (`theme::desktop`), for when the
    /// windowing system does not say (X11); `None`: light, unless the windowing system says dark.
    pub fn with_desktop_theme(mut self, theme: Option<egui::Theme>) -> WindowApp {
        self.desktop_theme = theme;
        self
    }

    /// The model, for the tests.
    pub fn flow(&self) -> &Flow {
        &self.flow
    }

    /// Draws one frame.
    pub fn show(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        let _ = self.context.get_or_init(|| ctx.clone());
        if !self.styled {
            view::style(&ctx, self.desktop_theme);
            self.styled = true;
            // This frame was laid out in egui's default style: draw the next one at once.
            ctx.request_repaint();
        }
        let before = discriminant(self.flow.screen());
        for update in self.link.drain() {
            for command in self.flow.on_update(update) {
                self.link.send(command);
            }
        }
        if self.flow.wants_live_key() {
            if self.last_poll.is_none_or(|at| at.elapsed() >= POLL_EVERY) {
                self.last_poll = Some(Instant::now());
                self.link.send(crate::flow::Command::Status);
            }
            ctx.request_repaint_after(POLL_EVERY);
        }
        self.wipe_if_left(&ctx, before);
        let now = (self.clock)();
        let before = discriminant(self.flow.screen());
        let entered = self.drawn != Some(before);
        if entered {
            tracing::info!("screen={}", self.flow.screen().name());
            self.drawn = Some(before);
        }
        accessibility::begin_frame(&ctx, &self.flow, entered);
        if let Some(action) =
            view::screen(ui, &self.flow, &mut self.fields, now, &*self.calendar, entered)
        {
            for command in self.flow.on_action(action) {
                self.link.send(command);
            }
            ctx.request_repaint();
        }
        accessibility::settle_focus(&ctx, entered);
        self.wipe_if_left(&ctx, before);
    }

    fn wipe_if_left(&mut self, ctx: &egui::Context, before: std::mem::Discriminant<Screen>) {
        if discriminant(self.flow.screen()) != before {
            // Dropping the fields zeroizes them; egui's own copy of each field's state goes too.
            self.fields = Fields::default();
            // The next frame enters a screen, even one of the same kind as the last drawn (the
            // passwords asked again after a refusal, with the service's answer in between).
            self.drawn = None;
            ctx.data_mut(|data| {
                for id in view::password_ids() {
                    data.remove::<egui::text_edit::TextEditState>(id);
                }
            });
        }
    }
}

/// The widest texture egui may make: its glyph atlas is as wide as the renderer allows (16,384
/// pixels with Mesa's software renderer) and grows in height, so a narrower one holds the same
/// glyphs in less memory, both in egui's copy and in the renderer's (see `tests/benches/README.md`,
/// `sesame-window`). The window shows no image.
pub const MAX_TEXTURE_SIDE: usize = 2048;

impl eframe::App for WindowApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.show(ui);
    }

    fn raw_input_hook(&mut self, _ctx: &egui::Context, raw_input: &mut egui::RawInput) {
        let side = raw_input.max_texture_side.unwrap_or(MAX_TEXTURE_SIDE);
        raw_input.max_texture_side = Some(side.min(MAX_TEXTURE_SIDE));
    }
}
