//! Who is in the room now (from `presence` frames), beside the conversation on wide screens and as a
//! drawer on narrow ones.

use leptos::prelude::*;
use protocol::RoomName;

use crate::{auth_flow::Auth, client::ChatClient, components::avatar::Avatar};

#[component]
pub fn Members(room: RoomName) -> impl IntoView {
    let client = expect_context::<ChatClient>();
    let auth = expect_context::<Auth>();
    let me = Memo::new(move |_| auth.session.with(|s| s.as_ref().map(|s| s.sub.clone())));
    let label = format!("People in #{room}");
    let members = Memo::new(move |_| {
        client
            .state
            .with(|s| s.room(&room).map(|r| r.members.clone()).unwrap_or_default())
    });
    view! {
        <aside class="members" aria-label=label>
            <h2 class="section-title">"Online — " {move || members.get().len()}</h2>
            <ul class="member-list">
                <For each=move || members.get() key=|user| user.id.clone() let:user>
                    <li class="member">
                        <Avatar user=user.clone()/>
                        <span class="member-name">{user.name.clone()}</span>
                        <Show when={
                            let id = user.id.clone();
                            move || me.get().as_deref() == Some(id.as_str())
                        }>
                            <span class="you">"you"</span>
                        </Show>
                    </li>
                </For>
            </ul>
        </aside>
    }
}
