//! The address bar, for the route table in [`crate::App`]: which page a path shows ([`Route::of`], pure and
//! tested natively), and [`Location`], the current path kept in a signal and moved by the app
//! ([`Location::navigate`]), by the browser's back and forward buttons, and by clicks on the app's own links,
//! which change the page without loading it again.
//!
//! A router crate did this before; these lines are all the app used of it, for a smaller download
//! (app/README.md, "Size").

use leptos::{ev, prelude::*};
use protocol::RoomName;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{HtmlAnchorElement, MouseEvent, UrlSearchParams};

/// The page a path shows. A path may end with one `/` more (`/rooms/general/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `/`: the landing page.
    Landing,
    /// `/auth/callback`: where the identity provider sends the browser back.
    Callback,
    /// `/rooms/:room`.
    Room,
    /// Anything else.
    NotFound,
}

impl Route {
    pub fn of(path: &str) -> Self {
        if room_in(path).is_some() {
            return Self::Room;
        }
        match path.strip_suffix('/').unwrap_or(path) {
            "" => Self::Landing,
            "/auth/callback" => Self::Callback,
            _ => Self::NotFound,
        }
    }
}

/// The `:room` of a `/rooms/:room` path, as the address bar has it (still escaped).
fn room_in(path: &str) -> Option<&str> {
    let path = path.strip_suffix('/').unwrap_or(path);
    path.strip_prefix("/rooms/")
        .filter(|room| !room.is_empty() && !room.contains('/'))
}

/// The current path, and the way to move it; provided as context by the app.
#[derive(Clone, Copy)]
pub struct Location {
    path: RwSignal<String>,
}

impl Location {
    /// Reads the address bar and follows it from now on: back and forward, and left clicks (without a
    /// modifier key) on links to this site that do not open elsewhere.
    pub fn listen() -> Self {
        let location = Self {
            path: RwSignal::new(current_path()),
        };
        let back_or_forward = window_event_listener(ev::popstate, move |_| location.follow());
        let click = window_event_listener(ev::click, move |ev| location.follow_link(&ev));
        on_cleanup(move || {
            back_or_forward.remove();
            click.remove();
        });
        location
    }

    /// The page the path shows (tracked).
    pub fn route(&self) -> Route {
        self.path.with(|path| Route::of(path))
    }

    /// The path, untracked.
    pub fn path_untracked(&self) -> String {
        self.path.get_untracked()
    }

    /// The room a `/rooms/:room` path names, unescaped (`decodeURIComponent`); empty on any other page.
    pub fn room(&self) -> String {
        self.path.with(|path| {
            room_in(path).map_or_else(String::new, |room| {
                js_sys::decode_uri_component(room)
                    .ok()
                    .and_then(|room| room.as_string())
                    .unwrap_or_else(|| room.to_owned())
            })
        })
    }

    /// The value of `key` in the address bar's query, unescaped, if it has one.
    pub fn query(&self, key: &str) -> Option<String> {
        let search = window().location().search().ok()?;
        UrlSearchParams::new_with_str(&search).ok()?.get(key)
    }

    /// Shows `to`, a path of this app (with its query, if any): a new entry in the history (none if it is
    /// where the tab is already), or with `replace` instead of the current one.
    pub fn navigate(&self, to: &str, replace: bool) {
        let Ok(history) = window().history() else {
            return;
        };
        let location = window().location();
        let here = format!(
            "{}{}{}",
            location.pathname().unwrap_or_default(),
            location.search().unwrap_or_default(),
            location.hash().unwrap_or_default()
        );
        let _ = if replace {
            history.replace_state_with_url(&JsValue::NULL, "", Some(to))
        } else if to != here {
            history.push_state_with_url(&JsValue::NULL, "", Some(to))
        } else {
            Ok(())
        };
        self.follow();
        window().scroll_to_with_x_and_y(0.0, 0.0);
    }

    /// Shows `room` (a new entry in the history).
    pub fn show_room(&self, room: &RoomName) {
        self.navigate(&format!("/rooms/{room}"), false);
    }

    /// Takes the path the address bar shows now.
    fn follow(&self) {
        let path = current_path();
        if self.path.with_untracked(|p| *p != path) {
            self.path.set(path);
        }
    }

    /// A click on a link to a page of this app: shown here instead of loaded again.
    fn follow_link(&self, ev: &MouseEvent) {
        if ev.default_prevented()
            || ev.button() != 0
            || ev.meta_key()
            || ev.alt_key()
            || ev.ctrl_key()
            || ev.shift_key()
        {
            return;
        }
        let link = ev
            .target()
            .and_then(|target| target.dyn_into::<web_sys::Element>().ok())
            .and_then(|element| element.closest("a").ok().flatten())
            .and_then(|a| a.dyn_into::<HtmlAnchorElement>().ok());
        let Some(link) = link else {
            return;
        };
        let external = link.rel().split([' ', '\t']).any(|word| word == "external");
        if link.href().is_empty()
            || !link.target().is_empty()
            || link.has_attribute("download")
            || external
            || Ok(link.origin()) != window().location().origin()
        {
            return;
        }
        ev.prevent_default();
        self.navigate(
            &format!("{}{}{}", link.pathname(), link.search(), link.hash()),
            false,
        );
    }
}

fn current_path() -> String {
    window().location().pathname().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each path shows the page the route table had for it, with or without a trailing `/`.
    #[test]
    fn paths_pick_their_page() {
        assert_eq!(Route::of("/"), Route::Landing);
        assert_eq!(Route::of(""), Route::Landing);
        assert_eq!(Route::of("/auth/callback"), Route::Callback);
        assert_eq!(Route::of("/auth/callback/"), Route::Callback);
        assert_eq!(Route::of("/rooms/general"), Route::Room);
        assert_eq!(room_in("/rooms/general"), Some("general"));
        assert_eq!(room_in("/rooms/general/"), Some("general"));
        assert_eq!(room_in("/rooms/caf%C3%A9"), Some("caf%C3%A9"));
        assert_eq!(room_in("/auth/callback"), None);
        assert_eq!(Route::of("/rooms/"), Route::NotFound);
        assert_eq!(Route::of("/rooms"), Route::NotFound);
        assert_eq!(Route::of("/rooms/a/b"), Route::NotFound);
        assert_eq!(Route::of("/auth"), Route::NotFound);
        assert_eq!(Route::of("/elsewhere"), Route::NotFound);
        assert_eq!(Route::of("//"), Route::NotFound);
    }
}
