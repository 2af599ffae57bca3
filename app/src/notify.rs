//! The browser's side of alerts ([`crate::alerts`] decides): whether the page is hidden, the
//! Notification API's permission (asked only when the person presses the button), raising a
//! notification that brings the window forward and opens its room when clicked, and a short tone made
//! with Web Audio (no sound file to download).

use std::cell::RefCell;

use protocol::RoomName;
use wasm_bindgen::{closure::Closure, JsCast, JsValue};
use web_sys::{AudioContext, Notification, NotificationOptions};

use crate::alerts::Alert;

/// Where the browser stands on notifications for this site.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// This browser has no Notification API (or not on plain HTTP).
    Unsupported,
    /// Not asked yet: the button asks.
    Ask,
    Granted,
    /// Refused; only the browser's site settings can change it.
    Blocked,
}

/// Whether the page is out of sight (another tab, a minimised window): only then do messages alert.
pub fn page_hidden() -> bool {
    web_sys::window()
        .and_then(|w| w.document())
        .is_some_and(|d| d.hidden())
}

/// Where the browser stands now (`Notification.permission`, read as the string it is).
pub fn permission() -> Permission {
    let get = |of: &JsValue, key: &str| js_sys::Reflect::get(of, &JsValue::from_str(key)).ok();
    let answer = web_sys::window()
        .and_then(|window| get(&window, "Notification"))
        .filter(|api| !api.is_undefined())
        .and_then(|api| get(&api, "permission"))
        .and_then(|answer| answer.as_string());
    match answer.as_deref() {
        None => Permission::Unsupported,
        Some("granted") => Permission::Granted,
        Some("denied") => Permission::Blocked,
        Some(_) => Permission::Ask,
    }
}

/// Asks the browser for permission (it shows its own prompt); what it answered.
pub async fn request_permission() -> Permission {
    if let Ok(asked) = Notification::request_permission() {
        let _ = wasm_bindgen_futures::JsFuture::from(asked).await;
    }
    permission()
}

/// Raises `alert` if notifications are allowed, and plays the tone if `sound`; clicking the notification
/// brings the window forward and shows its room.
pub fn raise(alert: &Alert, sound: bool) {
    if permission() == Permission::Granted {
        let options = NotificationOptions::new();
        options.set_body(&alert.body);
        if let Ok(notification) = Notification::new_with_options(&alert.title, &options) {
            let room = alert.room.clone();
            let shown = notification.clone();
            let on_click = Closure::once_into_js(move || {
                if let Some(window) = web_sys::window() {
                    let _ = window.focus();
                }
                shown.close();
                show_room(&room);
            });
            notification.set_onclick(Some(on_click.unchecked_ref()));
        }
    }
    if sound {
        chime();
    }
}

/// Shows `/rooms/<room>` through the router: the address is pushed, and `popstate` (what the router
/// hears when the address changes under it) makes it follow.
fn show_room(room: &RoomName) {
    let Some(window) = web_sys::window() else {
        return;
    };
    if let Ok(history) = window.history() {
        let path = format!("/rooms/{room}");
        let _ = history.push_state_with_url(&JsValue::NULL, "", Some(&path));
        if let Ok(event) = web_sys::Event::new("popstate") {
            let _ = window.dispatch_event(&event);
        }
    }
}

thread_local! {
    /// One audio context for the page's life: browsers cap how many a page may open.
    static AUDIO: RefCell<Option<AudioContext>> = const { RefCell::new(None) };
}

/// A short, soft two-note tone. Browsers let a page play sound only after the person interacted with it,
/// so the tone is also played when they turn sound on, which unlocks the context for later.
pub fn chime() {
    AUDIO.with(|audio| {
        let mut audio = audio.borrow_mut();
        if audio.is_none() {
            *audio = AudioContext::new().ok();
        }
        if let Some(context) = audio.as_ref() {
            let _ = context.resume();
            let _ = tone(context);
        }
    });
}

/// An oscillator falling from A5 to E5 under a quick fade, a quarter of a second long.
fn tone(context: &AudioContext) -> Result<(), JsValue> {
    let now = context.current_time();
    let oscillator = context.create_oscillator()?;
    let gain = context.create_gain()?;
    oscillator.frequency().set_value_at_time(880.0, now)?;
    oscillator
        .frequency()
        .exponential_ramp_to_value_at_time(659.0, now + 0.12)?;
    gain.gain().set_value_at_time(0.15, now)?;
    gain.gain()
        .exponential_ramp_to_value_at_time(0.001, now + 0.25)?;
    oscillator.connect_with_audio_node(&gain)?;
    gain.connect_with_audio_node(&context.destination())?;
    oscillator.start()?;
    oscillator.stop_with_when(now + 0.25)
}
