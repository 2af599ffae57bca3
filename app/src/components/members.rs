//! Who is in the room now (from `presence` frames), beside the conversation on wide screens and as a
//! drawer on narrow ones. Each name carries the person's handle (two "Alex"s are two handles), and a
//! button to write to them directly; in a private room, the people met in other rooms can be invited, and
//! anyone else with a single-use invite link.

use leptos::prelude::*;
use protocol::{handle, limits::INVITE_LINK_TTL_SECS, RoomName, User};

use crate::{auth_flow::Auth, client::ChatClient, components::avatar::Avatar, location::Location};

#[component]
pub fn Members(room: RoomName) -> impl IntoView {
    let client = expect_context::<ChatClient>();
    let auth = expect_context::<Auth>();
    let me = Memo::new(move |_| auth.session.with(|s| s.as_ref().map(|s| s.sub.clone())));
    let label = format!(
        "People in {}",
        client.state.with_untracked(|s| s.label(&room))
    );
    let members = {
        let room = room.clone();
        Memo::new(move |_| {
            client
                .state
                .with(|s| s.room(&room).map(|r| r.members.clone()).unwrap_or_default())
        })
    };
    let invitable = {
        let room = room.clone();
        Memo::new(move |_| client.state.with(|s| s.invitable(&room)))
    };
    let can_invite = room.is_private() && !room.is_direct();
    let room = StoredValue::new(room);
    view! {
        <aside class="members" aria-label=label>
            <h2 class="section-title">"Online — " {move || members.get().len()}</h2>
            <ul class="member-list">
                <For each=move || members.get() key=|user| user.id.clone() let:user>
                    {
                        let mine = {
                            let id = user.id.clone();
                            move || me.get().as_deref() == Some(id.as_str())
                        };
                        view! {
                            <li class="member">
                                <Person user=user.clone()/>
                                <Show when=mine.clone() fallback={
                                    let user = user.clone();
                                    move || view! { <MessageButton user=user.clone()/> }
                                }>
                                    <span class="you">"you"</span>
                                </Show>
                            </li>
                        }
                    }
                </For>
            </ul>
            {can_invite.then(|| view! { <InviteLinkBox room=room.get_value()/> })}
            {can_invite.then(|| view! {
                <Show when=move || invitable.with(|people| !people.is_empty())>
                    <h2 class="section-title">"Invite"</h2>
                    <ul class="member-list invite-list">
                        <For each=move || invitable.get() key=|user| user.id.clone() let:user>
                            {

                                let invited = RwSignal::new(false);
                                let person = user.clone();
                                view! {
                                    <li class="member">
                                        <Person user=user.clone()/>
                                        <button class="link-button" disabled=move || invited.get()
                                            aria-label=format!("Invite {}", user.name)
                                            on:click=move |_| {
                                                room.with_value(|room| client.invite(room, &person));
                                                invited.set(true);
                                            }>
                                            {move || if invited.get() { "Invited" } else { "Invite" }}
                                        </button>
                                    </li>
                                }
                            }
                        </For>
                    </ul>
                </Show>
            })}
        </aside>
    }
}

/// A private room's single-use invite link: a button asks for one, and the newest shows as an address to
/// copy. It lets in whoever signs in with it first, once, for a week.
#[component]
fn InviteLinkBox(room: RoomName) -> impl IntoView {
    let client = expect_context::<ChatClient>();
    let copied = RwSignal::new(false);
    let link = {
        let room = room.clone();
        Memo::new(move |_| {
            client.state.with(|s| {
                s.invite_link(&room).map(|(code, _)| {
                    let origin = window().location().origin().unwrap_or_default();
                    format!("{origin}/#join={code}")
                })
            })
        })
    };
    let days = INVITE_LINK_TTL_SECS / (24 * 60 * 60);
    let copy = move |_| {
        if let Some(url) = link.get_untracked() {
            let _ = window().navigator().clipboard().write_text(&url);
            copied.set(true);
        }
    };
    view! {
        <h2 class="section-title">"Invite link"</h2>
        <div class="invite-link">
            <Show when=move || link.with(Option::is_some)>
                <div class="invite-url-row">
                    <input class="invite-url" readonly aria-label="Invite link"
                        prop:value=move || link.get().unwrap_or_default()
                        on:focus=move |ev| {
                            if let Some(input) = ev.target().and_then(|t| {
                                wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlInputElement>(t).ok()
                            }) {
                                input.select();
                            }
                        }/>
                    <button class="link-button" on:click=copy>
                        {move || if copied.get() { "Copied" } else { "Copy" }}
                    </button>
                </div>
                <p class="invite-hint">
                    {format!("Lets in the first person who opens it, once, for {days} days.")}
                </p>
            </Show>
            <button class="button invite-new" on:click=move |_| {
                copied.set(false);
                client.invite_link(&room);
            }>
                {move || if link.with(Option::is_some) { "New link" } else { "Create invite link" }}
            </button>
        </div>
    }
}

/// A person's avatar, name and handle (`@3fa9c1`, from their user id: the same everywhere).
#[component]
fn Person(user: User) -> impl IntoView {
    let tag = format!("@{}", handle(&user.id));
    let title = format!("{} · {tag}", user.name);
    view! {
        <Avatar user=user.clone()/>
        <span class="member-name" title=title>
            {user.name.clone()}
            " "
            <span class="handle">{tag}</span>
        </span>
    }
}

/// Opens the direct conversation with `user` and shows it.
#[component]
fn MessageButton(user: User) -> impl IntoView {
    let client = expect_context::<ChatClient>();
    let location = expect_context::<Location>();
    let label = format!("Message {}", user.name);
    view! {
        <button class="link-button dm-button" aria-label=label title="Direct message"
            on:click=move |_| {
                if let Some(room) = client.open_dm(&user) {
                    location.show_room(&room);
                }
            }>
            "Message"
        </button>
    }
}
