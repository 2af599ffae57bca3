//! The person's alert controls: in the room list, notifications (a button that asks the browser, never
//! anything on load; then whether they are on or blocked) and the tone; in a room's header, muting it.

use leptos::{prelude::*, task::spawn_local};
use protocol::RoomName;

use crate::{
    client::ChatClient,
    notify::{self, Permission},
};

/// "Enable notifications" until the browser was asked, then where it stands; and the tone's switch.
#[component]
pub fn AlertSettings() -> impl IntoView {
    let client = expect_context::<ChatClient>();
    let permission = RwSignal::new(notify::permission());
    let ask = move |_| {
        spawn_local(async move {
            permission.set(notify::request_permission().await);
        });
    };
    let sound = Memo::new(move |_| client.alerts.with(|a| a.sound));
    // One button that says where things stand, and asks only while nothing was asked.
    let state = move || match permission.get() {
        Permission::Ask => "Enable notifications",
        Permission::Granted => "Notifications on",
        Permission::Blocked => "Notifications blocked in this browser",
        Permission::Unsupported => "No notifications here",
    };
    view! {
        <div class="alert-settings">
            <button class="link-button alert-state" on:click=ask
                class:on=move || permission.get() == Permission::Granted
                disabled=move || permission.get() != Permission::Ask>
                {state}
            </button>
            <label class="sound-toggle">
                <input type="checkbox" prop:checked=sound on:change=move |ev| {
                    let on = event_target_checked(&ev);
                    if on {
                        // Played now, while the person is clicking, so the browser allows it later.
                        notify::chime();
                    }
                    client.set_sound(on);
                }/>
                "Sound"
            </label>
        </div>
    }
}

/// Mutes or unmutes a room: a muted room raises no notification or tone, and its unread count is subdued.
#[component]
pub fn MuteButton(room: RoomName) -> impl IntoView {
    let client = expect_context::<ChatClient>();
    let muted = {
        let room = room.clone();
        Memo::new(move |_| client.alerts.with(|a| a.is_muted(&room)))
    };
    view! {
        <button class="icon-button mute" aria-label="Mute room"
            aria-pressed=move || muted.get().to_string()
            title="Mute: no notifications from this room"
            on:click=move |_| client.set_muted(&room, !muted.get_untracked())>
            // The slash across the bell shows while muted (style.css, by `aria-pressed`).
            <svg viewBox="0 0 16 16" aria-hidden="true">
                <path fill="currentColor" d="M8 1.5A4.5 4.5 0 0 0 3.5 6v2.6L2 11v1h12v-1l-1.5-2.4V6A4.5 4.5 0 0 0 8 1.5zM6.2 13a1.9 1.9 0 0 0 3.6 0z"/>
                <path class="slash" d="M2 2l12 12"/>
            </svg>
        </button>
    }
}
