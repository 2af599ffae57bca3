//! `/rooms/:room`: the chat screen. Joins the room named in the URL (so a link to a room is an
//! invitation), marks it as the one on screen, and lays out the room list, the conversation and the
//! members. Signed out, it shows the sign-in card and comes back here afterwards.

use leptos::prelude::*;
use protocol::RoomName;

use crate::{
    auth_flow::Auth,
    client::ChatClient,
    components::{
        alerts::MuteButton,
        composer::Composer,
        members::Members,
        message_list::MessageList,
        panel::Panel,
        sidebar::{Lock, Sidebar},
        sign_in::SignIn,
        status::StatusBadge,
        typing::TypingLine,
    },
    connection::ConnectionStatus,
    location::Location,
    routes::landing::LAST_ROOM_KEY,
    storage::{self, Area},
};

#[component]
pub fn RoomPage() -> impl IntoView {
    let auth = expect_context::<Auth>();
    let client = expect_context::<ChatClient>();
    let location = expect_context::<Location>();
    let name = Memo::new(move |_| location.room());
    let room = Memo::new(move |_| RoomName::new(name.get()).ok());
    let running = Memo::new(move |_| client.status.get() != ConnectionStatus::SignedOut);
    let panel = RwSignal::new(Panel::None);
    // A refreshed token replaces the session; the screen must not be rebuilt for it.
    let signed_in = Memo::new(move |_| auth.session.with(Option::is_some));

    Effect::new(move |_| {
        let (Some(room), true) = (room.get(), running.get()) else {
            return;
        };
        client.join(&room);
        client.set_active(Some(room.clone()));
        storage::save(Area::Local, LAST_ROOM_KEY, &room.to_string());
        panel.set(Panel::None);
    });
    on_cleanup(move || client.set_active(None));
    // An invite link let this person into a room: show it.
    Effect::new(move |_| {
        if let Some(room) = client.arrived() {
            location.show_room(&room);
        }
    });
    // The tab's title says where you are and how much is unread (muted rooms aside), for when the tab
    // is in the background.
    Effect::new(move |_| {
        let alerts = client.alerts.get();
        let unread: u32 = client.state.with(|s| {
            s.rooms()
                .filter(|(room, _)| !alerts.is_muted(room))
                .map(|(_, r)| r.unread)
                .sum()
        });
        let place = room.get().map_or_else(
            || "Chatty".to_owned(),
            |r| format!("{} · Chatty", client.state.with(|s| s.label(&r))),
        );
        let title = if unread > 0 {
            format!("({unread}) {place}")
        } else {
            place
        };
        document().set_title(&title);
    });

    move || {
        if !signed_in.get() {
            let here = location.path_untracked();
            return view! { <SignIn return_to=here/> }.into_any();
        }
        view! {
            <div class="shell" class:show-rooms=move || panel.get() == Panel::Rooms
                class:show-members=move || panel.get() == Panel::Members>
                <Sidebar active=room panel/>
                {move || match room.get() {
                    Some(room) => view! { <RoomView room panel/> }.into_any(),
                    None => view! { <InvalidRoom name=name.get()/> }.into_any(),
                }}
                <div class="scrim" aria-hidden="true" on:click=move |_| panel.set(Panel::None)></div>
            </div>
        }
        .into_any()
    }
}

/// One room: its header, conversation, typing line and composer, and its members beside.
#[component]
fn RoomView(room: RoomName, panel: RwSignal<Panel>) -> impl IntoView {
    let client = expect_context::<ChatClient>();
    let title = client.state.with_untracked(|s| s.label(&room));
    let heading = {
        let room = room.clone();
        Memo::new(move |_| client.state.with(|s| s.label(&room)))
    };
    let mark = match (room.is_direct(), room.is_private()) {
        (true, _) => view! { <span class="hash" aria-hidden="true">"@"</span> }.into_any(),
        (false, true) => view! { <Lock/> }.into_any(),
        (false, false) => view! { <span class="hash" aria-hidden="true">"#"</span> }.into_any(),
    };
    let member_count = {
        let room = room.clone();
        Memo::new(move |_| {
            client
                .state
                .with(|s| s.room(&room).map_or(0, |r| r.members.len()))
        })
    };
    let notice = Memo::new(move |_| client.state.with(|s| s.notice.clone()));
    let toggle =
        move |which: Panel| panel.update(|p| *p = if *p == which { Panel::None } else { which });
    view! {
        <section class="room" aria-label=title.clone()>
            <header class="room-header">
                <button class="icon-button only-narrow" aria-label="Rooms"
                    on:click=move |_| toggle(Panel::Rooms)>
                    <span aria-hidden="true">"☰"</span>
                </button>
                <h1 class="room-title">{mark}
                    {move || heading.get().trim_start_matches('#').to_owned()}</h1>
                <StatusBadge/>
                <MuteButton room=room.clone()/>
                <button class="members-toggle" aria-label=move || format!("{} people here", member_count.get())
                    aria-expanded=move || (panel.get() == Panel::Members).to_string()
                    on:click=move |_| toggle(Panel::Members)>
                    <span aria-hidden="true" class="people-icon">"●"</span>
                    {move || member_count.get()}
                </button>
            </header>
            <Show when=move || notice.get().is_some()>
                <div class="notice" role="alert">
                    <span>{move || notice.get().unwrap_or_default()}</span>
                    <button class="link-button" on:click=move |_| client.dismiss_notice()>
                        "Dismiss"
                    </button>
                </div>
            </Show>
            <MessageList room=room.clone()/>
            <TypingLine room=room.clone()/>
            <Composer room=room.clone()/>
        </section>
        <Members room/>
    }
}

/// The URL names something that cannot be a room.
#[component]
fn InvalidRoom(name: String) -> impl IntoView {
    view! {
        <section class="room invalid">
            <div class="card">
                <h1>"That's not a room name"</h1>
                <p>{format!("“{name}” can't be a room. Room names use lowercase letters, digits, '-' and '_'.")}</p>
                <a class="button primary" href="/rooms/general">"Go to #general"</a>
            </div>
        </section>
    }
}
