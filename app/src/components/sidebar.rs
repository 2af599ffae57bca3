//! The room list: the rooms this person is in (with unread counts), a field to join or create a room by
//! name, and who is signed in with the sign-out button.

use leptos::prelude::*;
use leptos_router::hooks::use_navigate;
use protocol::{RoomName, User};

use crate::{
    auth_flow::Auth,
    client::ChatClient,
    components::{avatar::Avatar, panel::Panel},
};

#[component]
pub fn Sidebar(active: Memo<Option<RoomName>>, panel: RwSignal<Panel>) -> impl IntoView {
    let client = expect_context::<ChatClient>();
    let auth = expect_context::<Auth>();
    let navigate = use_navigate();
    let rooms = Memo::new(move |_| {
        client.state.with(|s| {
            s.rooms()
                .map(|(room, state)| (room.clone(), state.unread))
                .collect::<Vec<_>>()
        })
    });
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
    let (error, set_error) = signal(None::<String>);
    let join = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let name = typed
            .get_untracked()
            .trim()
            .to_lowercase()
            .replace(' ', "-");
        match RoomName::new(name.trim_start_matches('#')) {
            Ok(room) => {
                set_typed.set(String::new());
                set_error.set(None);
                panel.set(Panel::None);
                navigate(&format!("/rooms/{room}"), Default::default());
            }
            Err(e) => set_error.set(Some(e.to_string())),
        }
    };
    view! {
        <nav class="sidebar" aria-label="Rooms">
            <div class="brand"><span class="logo" aria-hidden="true"></span>"Chatty"</div>
            <h2 class="section-title">"Rooms"</h2>
            <ul class="room-list">
                <For each=move || rooms.get() key=|(room, unread)| (room.clone(), *unread) let:item>
                    <RoomLink room=item.0 unread=item.1 can_leave=rooms.with(|r| r.len() > 1) active panel/>
                </For>
            </ul>
            <form class="join-form" on:submit=join>
                <label for="join-room" class="visually-hidden">"Join or create a room"</label>
                <input id="join-room" type="text" placeholder="Room name" autocomplete="off"
                    maxlength="64" prop:value=typed
                    on:input=move |ev| set_typed.set(event_target_value(&ev))
                    aria-invalid=move || error.get().is_some().to_string()
                    aria-describedby="join-error"/>
                <button class="button" type="submit">"Join"</button>
                <p id="join-error" class="field-error" role="alert">{move || error.get()}</p>
            </form>
            <div class="me">
                {move || me.get().map(|user| view! {
                    <Avatar user=user.clone()/>
                    <span class="me-name" title=user.name.clone()>{user.name.clone()}</span>
                })}
                <button class="link-button" on:click=move |_| {
                    client.sign_out();
                    auth.sign_out();
                }>"Sign out"</button>
            </div>
        </nav>
    }
}

/// One room in the list, with its unread count and a button to leave it (unless it is the last one).
/// Leaving the room on screen moves to another room.
#[component]
fn RoomLink(
    room: RoomName,
    unread: u32,
    can_leave: bool,
    active: Memo<Option<RoomName>>,
    panel: RwSignal<Panel>,
) -> impl IntoView {
    let client = expect_context::<ChatClient>();
    let navigate = use_navigate();
    let is_active = {
        let room = room.clone();
        move || active.get().as_ref() == Some(&room)
    };
    let current = is_active.clone();
    let href = format!("/rooms/{room}");
    let leave_label = format!("Leave #{room}");
    let leave = {
        let room = room.clone();
        move |_| {
            let was_active = active.get_untracked().as_ref() == Some(&room);
            client.leave(&room);
            let next = client
                .state
                .with_untracked(|s| s.rooms().next().map(|(r, _)| r.clone()));
            if let (true, Some(next)) = (was_active, next) {
                navigate(&format!("/rooms/{next}"), Default::default());
            }
        }
    };
    view! {
        <li class="room-item" class:active=is_active>
            <a href=href aria-current=move || current().then_some("page")
                on:click=move |_| panel.set(Panel::None)>
                <span class="hash" aria-hidden="true">"#"</span>
                <span class="room-name">{room.to_string()}</span>
                {(unread > 0).then(|| view! {
                    <span class="badge" aria-label=format!("{unread} unread")>{unread.min(99)}</span>
                })}
            </a>
            {can_leave.then(|| view! {
                <button class="leave" aria-label=leave_label title="Leave room" on:click=leave>"×"</button>
            })}
        </li>
    }
}
