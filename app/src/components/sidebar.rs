//! The room list: the rooms this person is in (public ones with `#`, private ones with a lock), their
//! direct conversations apart (the other person's avatar and name), each with its unread count; a field
//! to join or create a room by name (private when ticked), the alert settings, and who is signed in with
//! the sign-out button. The list is the server's, the same on every device; a muted room's count is
//! subdued.

use leptos::prelude::*;
use protocol::{handle, RoomName, User};

use crate::{
    auth_flow::Auth,
    client::ChatClient,
    components::{alerts::AlertSettings, avatar::Avatar, panel::Panel},
    location::Location,
};

#[component]
pub fn Sidebar(active: Memo<Option<RoomName>>, panel: RwSignal<Panel>) -> impl IntoView {
    let client = expect_context::<ChatClient>();
    let auth = expect_context::<Auth>();
    let location = expect_context::<Location>();
    let listed = move |direct: bool| {
        Memo::new(move |_| {
            let alerts = client.alerts.get();
            client.state.with(|s| {
                s.rooms()
                    .filter(|(room, _)| room.is_direct() == direct)
                    .map(|(room, state)| Listed {
                        room: room.clone(),
                        label: s.label(room),
                        unread: state.unread,
                        with: state.with.clone(),
                        muted: alerts.is_muted(room),
                    })
                    .collect::<Vec<_>>()
            })
        })
    };
    let rooms = listed(false);
    let dms = listed(true);
    let total = Memo::new(move |_| client.state.with(|s| s.rooms().count()));
    let me = Memo::new(move |_| {
        auth.session.with(|s| {
            s.as_ref().map(|s| User {
                id: s.sub.clone(),
                name: s.name.clone(),
                picture: s.picture.clone(),
            })
        })
    });
    let (typed, set_typed) = signal(String::new());
    let (private, set_private) = signal(false);
    let (error, set_error) = signal(None::<String>);
    let join = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let name = typed
            .get_untracked()
            .trim()
            .to_ascii_lowercase()
            .replace(' ', "-");
        let room = if private.get_untracked() {
            client.create_private(&name)
        } else {
            RoomName::new(name.trim_start_matches('#'))
                .map_err(|e| e.to_string())
                .and_then(|room| match room.is_private() {
                    true => Err(protocol::IdError::RoomName.to_string()),
                    false => Ok(room),
                })
        };
        match room {
            Ok(room) => {
                set_typed.set(String::new());
                set_error.set(None);
                panel.set(Panel::None);
                location.show_room(&room);
            }
            Err(e) => set_error.set(Some(e)),
        }
    };
    view! {
        <nav class="sidebar" aria-label="Rooms">
            <div class="brand"><span class="logo" aria-hidden="true"></span>"Chatty"</div>
            <h2 class="section-title">"Rooms"</h2>
            <ul class="room-list">
                <For each=move || rooms.get() key=Listed::key let:item>
                    <RoomLink item can_leave=total.with(|n| *n > 1) active panel/>
                </For>
            </ul>
            <Show when=move || dms.with(|d| !d.is_empty())>
                <h2 class="section-title">"Direct messages"</h2>
                <ul class="room-list dm-list">
                    <For each=move || dms.get() key=Listed::key let:item>
                        <RoomLink item can_leave=total.with(|n| *n > 1) active panel/>
                    </For>
                </ul>
            </Show>
            <form class="join-form" on:submit=join>
                <label for="join-room" class="visually-hidden">"Join or create a room"</label>
                <input id="join-room" type="text" placeholder="Room name" autocomplete="off"
                    maxlength="64" prop:value=typed
                    on:input=move |ev| set_typed.set(event_target_value(&ev))
                    aria-invalid=move || error.get().is_some().to_string()
                    aria-describedby="join-error"/>
                <label class="private-toggle">
                    <input type="checkbox" prop:checked=private
                        on:change=move |ev| set_private.set(event_target_checked(&ev))/>
                    "Private"
                </label>
                <button class="button" type="submit">
                    {move || if private.get() { "Create" } else { "Join" }}
                </button>
                <p id="join-error" class="field-error" role="alert">{move || error.get()}</p>
            </form>
            <AlertSettings/>
            <div class="me">
                {move || me.get().map(|user| view! {
                    <Avatar user=user.clone()/>
                    <span class="me-name" title=format!("{} · @{}", user.name, handle(&user.id))>
                        {user.name.clone()}
                    </span>
                })}
                <button class="link-button" on:click=move |_| {
                    client.sign_out();
                    auth.sign_out();
                }>"Sign out"</button>
            </div>
        </nav>
    }
}

/// The mark of a private room: a padlock (drawn, as headless and minimal systems lack emoji fonts).
#[component]
pub fn Lock() -> impl IntoView {
    view! {
        <svg class="lock" viewBox="0 0 16 16" role="img" aria-label="Private">
            <title>"Private"</title>
            <path fill="currentColor" d="M4 7V5a4 4 0 1 1 8 0v2h1v8H3V7h1zm2 0h4V5a2 2 0 1 0-4 0v2z"/>
        </svg>
    }
}

/// One room or direct conversation as the list shows it.
#[derive(Debug, Clone, PartialEq)]
struct Listed {
    room: RoomName,
    label: String,
    unread: u32,
    with: Option<User>,
    muted: bool,
}

impl Listed {
    fn key(&self) -> (RoomName, String, u32, bool) {
        (
            self.room.clone(),
            self.label.clone(),
            self.unread,
            self.muted,
        )
    }
}

/// One room in the list, with its unread count (subdued when muted) and a button to leave it (unless it
/// is the last one).
/// Leaving the room on screen moves to another room.
#[component]
fn RoomLink(
    item: Listed,
    can_leave: bool,
    active: Memo<Option<RoomName>>,
    panel: RwSignal<Panel>,
) -> impl IntoView {
    let Listed {
        room,
        label,
        unread,
        with,
        muted,
    } = item;
    let client = expect_context::<ChatClient>();
    let location = expect_context::<Location>();
    let is_active = {
        let room = room.clone();
        move || active.get().as_ref() == Some(&room)
    };
    let current = is_active.clone();
    let href = format!("/rooms/{room}");
    let leave_label = format!("Leave {label}");
    let leave = {
        let room = room.clone();
        move |_| {
            let was_active = active.get_untracked().as_ref() == Some(&room);
            client.leave(&room);
            let next = client
                .state
                .with_untracked(|s| s.rooms().next().map(|(r, _)| r.clone()));
            if let (true, Some(next)) = (was_active, next) {
                location.show_room(&next);
            }
        }
    };
    view! {
        <li class="room-item" class:active=is_active>
            <a href=href aria-current=move || current().then_some("page")
                on:click=move |_| panel.set(Panel::None)>
                {match (&with, room.is_private()) {
                    (Some(user), _) => view! {
                        <span title=format!("{} · @{}", user.name, handle(&user.id))>
                            <Avatar user=user.clone()/>
                        </span>
                    }.into_any(),
                    (None, true) => view! { <Lock/> }.into_any(),
                    (None, false) => view! { <span class="hash" aria-hidden="true">"#"</span> }.into_any(),
                }}
                <span class="room-name">{label.trim_start_matches('#').to_owned()}</span>
                {(unread > 0).then(|| view! {
                    <span class="badge" class:muted=muted
                        aria-label=format!("{unread} unread{}", if muted { ", muted" } else { "" })>
                        {unread.min(99)}
                    </span>
                })}
            </a>
            {can_leave.then(|| view! {
                <button class="leave" aria-label=leave_label title="Leave room" on:click=leave>"×"</button>
            })}
        </li>
    }
}
