//! "Ann is typing…" under the conversation. It keeps its height when empty, so the list never jumps.

use leptos::prelude::*;
use protocol::RoomName;

use crate::{client::ChatClient, components::clock::ticking_now, display::typing_sentence};

#[component]
pub fn TypingLine(room: RoomName) -> impl IntoView {
    let client = expect_context::<ChatClient>();
    let now = ticking_now();
    let sentence = Memo::new(move |_| {
        let now = now.get();
        client
            .state
            .with(|s| typing_sentence(&s.typing_names(&room, now)))
    });
    view! {
        <div class="typing" aria-live="polite">
            <Show when=move || sentence.get().is_some()>
                <span class="typing-dots" aria-hidden="true"><i></i><i></i><i></i></span>
            </Show>
            <span>{move || sentence.get().unwrap_or_default()}</span>
        </div>
    }
}
