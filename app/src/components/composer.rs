//! The message composer: Enter sends, Shift+Enter starts a new line. The draft is kept per room (and
//! across reloads); the text is checked with the protocol's own rules before it is queued; a counter
//! appears near the 4,000-character limit. While the connection is down, messages are queued and shown
//! as pending; with no network at all, or signed out, the composer is disabled and says why.
//! Typing `@` and the start of a name lists the room's members who match ([`mention`]): arrow keys move,
//! Enter or Tab or a click picks, Escape closes; a pick writes the mention.

use leptos::{ev::KeyboardEvent, html::Textarea, prelude::*};
use protocol::{handle, limits::MAX_BODY_CHARS, RoomName, User};

use crate::{
    client::ChatClient,
    components::avatar::Avatar,
    connection::ConnectionStatus,
    mention::{self, Query},
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
    let members = {
        let room = room.clone();
        Memo::new(move |_| {
            client
                .state
                .with(|s| s.room(&room).map(|r| r.members.clone()).unwrap_or_default())
        })
    };
    // The mention being typed, and the `@` whose list was closed (picked from, or Escape) until it goes.
    let query = RwSignal::new(None::<Query>);
    let closed_at = StoredValue::new(None::<usize>);
    let selected = RwSignal::new(0usize);
    let suggestions = Memo::new(move |_| {
        let me = client.user().unwrap_or_default();
        query.with(|q| {
            q.as_ref()
                .map(|q| members.with(|m| mention::suggest(&q.typed, m, &me)))
                .unwrap_or_default()
        })
    });
    let open = move || suggestions.with(|s| !s.is_empty());
    let listed = move || {
        let numbered: Vec<(usize, User)> = suggestions.get().into_iter().enumerate().collect();
        numbered
    };
    // The text and the caret (a byte offset) as the textarea has them now.
    let at_caret = move || {
        let el = textarea.get_untracked()?;
        let text = el.value();
        let units = el.selection_start().ok().flatten().unwrap_or(0);
        let caret = mention::byte_offset(&text, units);
        Some((text, caret))
    };
    let follow_caret = move || {
        let found = at_caret().and_then(|(text, caret)| mention::query_at(&text, caret));
        let Some(found) = found else {
            closed_at.set_value(None);
            query.set(None);
            return;
        };
        if closed_at.get_value() == Some(found.start) {
            query.set(None);
            return;
        }
        if query.with_untracked(|q| q.as_ref().map(|q| q.start)) != Some(found.start) {
            selected.set(0);
        }
        query.set(Some(found));
    };
    let pick = {
        let room = room.clone();
        Callback::new(move |user: User| {
            let (Some(el), Some((text, caret))) = (textarea.get_untracked(), at_caret()) else {
                return;
            };
            let Some(typed) = mention::query_at(&text, caret) else {
                return;
            };
            let (text, caret) =
                members.with_untracked(|m| mention::complete(&text, &typed, caret, &user, m));
            el.set_value(&text);
            let units = mention::utf16_offset(&text, caret);
            let _ = el.set_selection_range(units, units);
            let _ = el.focus();
            closed_at.set_value(Some(typed.start));
            query.set(None);
            client.set_draft(&room, &text);
        })
    };
    // Keys the open list takes: whether it took this one.
    let steer = move |ev: &KeyboardEvent| -> bool {
        let count = suggestions.with_untracked(Vec::len);
        if count == 0 || ev.is_composing() {
            return false;
        }
        match ev.key().as_str() {
            "ArrowDown" => selected.update(|i| *i = (*i + 1) % count),
            "ArrowUp" => selected.update(|i| *i = (*i + count - 1) % count),
            "Enter" | "Tab" if !ev.shift_key() => {
                let chosen =
                    suggestions.with_untracked(|s| s.get(selected.get_untracked()).cloned());
                if let Some(user) = chosen {
                    pick.run(user);
                }
            }
            "Escape" => {
                closed_at.set_value(query.with_untracked(|q| q.as_ref().map(|q| q.start)));
                query.set(None);
            }
            _ => return false,
        }
        ev.prevent_default();
        true
    };
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
                    set_error.set(None);
                }
                Err(why) => set_error.set(Some(why)),
            }
        }
    };
    let on_keydown = {
        let send = send.clone();
        move |ev: KeyboardEvent| {
            if steer(&ev) {
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
            follow_caret();
        }
    };
    let label = format!("Message #{room}");
    view! {
        <form class="composer" on:submit=move |ev| {
            ev.prevent_default();
            send();
        }>
            <Show when=open>
                <ul class="mention-list" id="mention-list" role="listbox" aria-label="People to mention">
                    <For each=listed key=|(i, user)| (*i, user.id.clone()) let:item>
                        {
                            let (i, user) = item;
                            let tag = format!("@{}", handle(&user.id));
                            let chosen = user.clone();
                            view! {
                                <li role="option" id=format!("mention-{i}")
                                    class:selected=move || selected.get() == i
                                    aria-selected=move || (selected.get() == i).to_string()
                                    on:mouseenter=move |_| selected.set(i)
                                    on:mousedown=move |ev| {
                                        // Keeps the focus (and the caret) in the composer.
                                        ev.prevent_default();
                                        pick.run(chosen.clone());
                                    }>
                                    <Avatar user=user.clone()/>
                                    <span class="member-name">{user.name.clone()}</span>
                                    <span class="handle">{tag}</span>
                                </li>
                            }
                        }
                    </For>
                </ul>
            </Show>
            <div class="composer-box" class:disabled=move || disabled_reason().is_some()>
                <textarea rows="1" aria-label=label.clone() placeholder=label node_ref=textarea
                    prop:value=move || draft.get()
                    disabled=move || disabled_reason().is_some()
                    aria-describedby="composer-hint"
                    aria-autocomplete="list" aria-controls="mention-list"
                    aria-expanded=move || open().to_string()
                    aria-activedescendant=move || open().then(|| format!("mention-{}", selected.get()))
                    on:keydown=on_keydown on:input=on_input
                    on:click=move |_| follow_caret()
                    on:blur=move |_| query.set(None)></textarea>
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
