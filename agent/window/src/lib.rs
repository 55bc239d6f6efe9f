//! The Sesame window (`sesame-window`): the guided password change on the person's desktop. It
//! talks only to the local agent service, over its socket and protocol (`sesame_local`), never to
//! the network; the service keeps the rotation's state, so closing the window loses nothing.
//!
//! - `flow`: the screens as a pure model, moved by the service's events and the person's actions;
//! - `link`: the connection thread (tokio) speaking the local protocol;
//! - `app`, `view`: the egui window; `texts`, `checklist`: its words and the live rule check;
//! - `accessibility`: how the window speaks to screen readers (names, headings, focus, announcer);
//! - `theme`, `palette`: the desktop's light or dark preference, the colours of each;
//! - `reminder`: when to remind the person, at most once a day, and the desktop notification;
//! - which day it is for the person (the workstation's time zone, not UTC) and how a date is
//!   written: `sesame_base::calendar`, shared with `sesame-agent status` and the letters.

pub mod accessibility;
pub mod app;
pub mod checklist;
pub mod flow;
pub mod link;
pub mod palette;
pub mod reminder;
pub mod texts;
pub mod theme;
pub mod view;
