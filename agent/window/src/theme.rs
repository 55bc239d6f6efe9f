//! The desktop's light or dark preference, for when the windowing system does not tell egui (X11
//! never does): `GTK_THEME` first (`Adwaita:dark`), then the XDG desktop portal's
//! `org.freedesktop.appearance color-scheme` (GNOME, KDE, Xfce…), asked over D-Bus and waited for
//! at most [`PORTAL_WAIT`]. `None` when the desktop says nothing: the window is then light.

use std::time::Duration;

use eframe::egui::Theme;

/// How long the portal is waited for at start (the window opens light or dark, not both).
pub const PORTAL_WAIT: Duration = Duration::from_millis(300);

/// What the desktop prefers, `None` when it says nothing.
pub fn desktop() -> Option<Theme> {
    if let Some(theme) = std::env::var("GTK_THEME").ok().as_deref().and_then(from_gtk_theme) {
        return Some(theme);
    }
    portal()
}

/// The theme a `GTK_THEME` value asks for: `Adwaita:dark` or `Adwaita-dark` is dark,
/// `Adwaita:light` light, a bare name says nothing.
pub fn from_gtk_theme(value: &str) -> Option<Theme> {
    let value = value.trim().to_ascii_lowercase();
    if value.ends_with(":dark") || value.ends_with("-dark") {
        Some(Theme::Dark)
    } else if value.ends_with(":light") {
        Some(Theme::Light)
    } else {
        None
    }
}

/// The theme the portal's `color-scheme` asks for: 1 dark, 2 light, 0 (no preference) nothing.
pub fn from_color_scheme(value: u32) -> Option<Theme> {
    match value {
        1 => Some(Theme::Dark),
        2 => Some(Theme::Light),
        _ => None,
    }
}

/// Asks the portal on a thread of its own, waiting at most [`PORTAL_WAIT`].
#[cfg(all(unix, not(target_os = "macos")))]
fn portal() -> Option<Theme> {
    let (answer, answered) = std::sync::mpsc::channel();
    let asked = std::thread::Builder::new().name("color-scheme".to_owned()).spawn(move || {
        let _ = answer.send(zbus::block_on(color_scheme()));
    });
    if asked.is_err() {
        return None;
    }
    match answered.recv_timeout(PORTAL_WAIT) {
        Ok(Ok(value)) => from_color_scheme(value),
        Ok(Err(error)) => {
            tracing::debug!(%error, "no colour scheme from the desktop portal");
            None
        }
        Err(_) => None,
    }
}

#[cfg(not(all(unix, not(target_os = "macos"))))]
fn portal() -> Option<Theme> {
    None
}

#[cfg(all(unix, not(target_os = "macos")))]
async fn color_scheme() -> zbus::Result<u32> {
    let connection = zbus::Connection::session().await?;
    let reply = connection
        .call_method(
            Some("org.freedesktop.portal.Desktop"),
            "/org/freedesktop/portal/desktop",
            Some("org.freedesktop.portal.Settings"),
            "ReadOne",
            &("org.freedesktop.appearance", "color-scheme"),
        )
        .await?;
    let value: zbus::OwnedVariant = reply.body().deserialize()?;
    u32::try_from(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_desktops_words_map_to_a_theme() {
        assert_eq!(from_gtk_theme("Adwaita:dark"), Some(Theme::Dark));
        assert_eq!(from_gtk_theme("Adwaita-dark"), Some(Theme::Dark));
        assert_eq!(from_gtk_theme("Adwaita:light"), Some(Theme::Light));
        assert_eq!(from_gtk_theme("Adwaita"), None);
        assert_eq!(from_gtk_theme(""), None);
        assert_eq!(from_color_scheme(0), None);
        assert_eq!(from_color_scheme(1), Some(Theme::Dark));
        assert_eq!(from_color_scheme(2), Some(Theme::Light));
    }
}
