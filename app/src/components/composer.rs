//! The message composer: Enter sends, Shift+Enter starts a new line. The draft is kept per room (and
//! across reloads); the text is checked with the protocol's own rules before it is queued; a counter
//! appears near the 4,000-character limit. While the connection is down, messages are queued and shown
//! as pending; with no network at all, or signed out, the composer is disabled and says why. Typing `@`
//! opens the mention autocomplete ([`Autocomplete`]), which takes the keys it needs while open.

use leptos::{ev::KeyboardEvent, html::Textarea, prelude::*};
use protocol::{limits::MAX_BODY_CHARS, RoomName};

use crate::{
    client::ChatClient,
    components::autocomplete::{Autocomplete, MentionList},
    connection::ConnectionStatus,
};

/// The counter shows when fewer than this many characters are left.
const COUNTER_FROM: usize = 500;

#[component]
pub fn Composer(room: RoomName) -> impl IntoView {
    let client = expect_context::<ChatClient>();
    let network = browser_online();
    let draft = {
        let room = room.clone();
        Memo::new(move |_| client.drafts.with(|d| d.get(&room).to_owned()))
    };
    let (error, set_error) = signal(None::<String>);
    let left = move || MAX_BODY_CHARS as i64 - draft.with(|d| d.chars().count()) as i64;
    let disabled_reason = move || {
        if !network.get() {
            Some("You're offline. Check your network connection to send messages.")
        } else if client.status.get() == ConnectionStatus::SignedOut {
            Some("You're signed out.")
        } else {
            None
        }
    };
    let hint = move || match client.status.get() {
        ConnectionStatus::Reconnecting { .. } | ConnectionStatus::Connecting => {
            Some("Not connected: what you send now goes out as soon as Chatty reconnects.")
        }
        _ => None,
    };
    let textarea = NodeRef::<Textarea>::new();
    let autocomplete = Autocomplete::new(client, room.clone(), textarea);
    let send = {
        let room = room.clone();
        move || {
            let body = draft.get_untracked();
            if body.trim().is_empty() {
                return;
            }
            match client.post(&room, body) {
                Ok(()) => {
                    client.set_draft(&room, "");
                    autocomplete.reset();
                    set_error.set(None);
                }
                Err(why) => set_error.set(Some(why)),
            }
        }
    };
    let on_keydown = {
        let send = send.clone();
        move |ev: KeyboardEvent| {
            if autocomplete.steer(&ev) {
                return;
            }
            if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() {
                ev.prevent_default();
                send();
            }
        }
    };
    let on_input = {
        let room = room.clone();
        move |ev| {
            let text = event_target_value(&ev);
            set_error.set(None);
            if !text.trim().is_empty() {
                client.typing(&room);
            }
            client.set_draft(&room, &text);
            autocomplete.follow_caret();
        }
    };
    let label = format!("Message #{room}");
    view! {
        <form class="composer" on:submit=move |ev| {
            ev.prevent_default();
            send();
        }>
            <MentionList autocomplete/>
            <div class="composer-box" class:disabled=move || disabled_reason().is_some()>
                <textarea rows="1" aria-label=label.clone() placeholder=label node_ref=textarea
                    prop:value=move || draft.get()
                    disabled=move || disabled_reason().is_some()
                    aria-describedby="composer-hint"
                    aria-autocomplete="list" aria-controls="mention-list" aria-expanded="false"
                    on:keydown=on_keydown on:input=on_input
                    on:blur=move |_| autocomplete.reset()></textarea>
                <button class="send" type="submit" aria-label="Send"
                    disabled=move || disabled_reason().is_some() || draft.with(|d| d.trim().is_empty()) || left() < 0>
                    <svg viewBox="0 0 24 24" aria-hidden="true"><path d="M3.4 20.4 21 12 3.4 3.6 3.4 10.2 15 12 3.4 13.8z"/></svg>
                </button>
            </div>
            <div class="composer-meta" id="composer-hint">
                <span class=move || if error.get().is_some() { "hint error" } else { "hint" } role="status">
                    {move || error.get().or_else(|| disabled_reason().or_else(hint).map(str::to_owned))}
                </span>
                <Show when=move || { left() < COUNTER_FROM as i64 }>
                    <span class="counter" class:over=move || { left() < 0 }>{left}</span>
                </Show>
            </div>
        </form>
    }
}

/// Whether the browser has a network connection (`navigator.onLine`, kept current by its events).
fn browser_online() -> ReadSignal<bool> {
    let online = web_sys::window().is_none_or(|w| w.navigator().on_line());
    let (network, set_network) = signal(online);
    let up = window_event_listener(leptos::ev::online, move |_| set_network.set(true));
    let down = window_event_listener(leptos::ev::offline, move |_| set_network.set(false));
    on_cleanup(move || {
        up.remove();
        down.remove();
    });
    network
}
