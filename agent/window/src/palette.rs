//! The colours that carry a meaning in the window ("Oui"/"Non" of the checklist, the notices) and
//! the light theme's text, per theme, each of contrast at least 4.5:1 (WCAG AA) on the theme's
//! background.

use eframe::egui::{Color32, Visuals};

/// Body text on the light theme (egui's default grey is too pale).
pub const LIGHT_TEXT: Color32 = Color32::from_gray(35);

/// The colours that carry a meaning, per theme, each of contrast at least 4.5:1 (WCAG AA) on the
/// theme's background.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Palette {
    /// A checklist line met ("Oui").
    pub met: Color32,
    /// A checklist line not met ("Non") and the notices.
    pub unmet: Color32,
}

impl Palette {
    /// The palette of `visuals`' theme.
    pub fn of(visuals: &Visuals) -> Palette {
        if visuals.dark_mode {
            Palette {
                met: Color32::from_rgb(0x6c, 0xd9, 0x86),
                unmet: Color32::from_rgb(0xff, 0x9a, 0x8a),
            }
        } else {
            Palette {
                met: Color32::from_rgb(0x17, 0x6b, 0x28),
                unmet: Color32::from_rgb(0xa8, 0x28, 0x18),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use eframe::egui::{self, Theme};

    use super::*;

    /// WCAG's relative luminance.
    fn luminance(color: Color32) -> f64 {
        let channel = |c: u8| {
            let c = f64::from(c) / 255.0;
            if c <= 0.039_28 { c / 12.92 } else { ((c + 0.055) / 1.055).powf(2.4) }
        };
        0.2126 * channel(color.r()) + 0.7152 * channel(color.g()) + 0.0722 * channel(color.b())
    }

    /// WCAG's contrast ratio, 1 to 21.
    fn contrast(a: Color32, b: Color32) -> f64 {
        let (a, b) = (luminance(a), luminance(b));
        (a.max(b) + 0.05) / (a.min(b) + 0.05)
    }

    #[test]
    fn the_meaningful_colours_have_aa_contrast_in_both_themes() {
        let ctx = egui::Context::default();
        crate::view::style(&ctx, None);
        for theme in [Theme::Light, Theme::Dark] {
            let style = ctx.style_of(theme);
            let visuals = &style.visuals;
            let background = visuals.panel_fill;
            let palette = Palette::of(visuals);
            let text = visuals.text_color();
            for (what, color) in [("met", palette.met), ("unmet", palette.unmet), ("text", text)] {
                let ratio = contrast(color, background);
                assert!(ratio >= 4.5, "{theme:?} {what}: {ratio:.2}:1");
            }
        }
    }
}
