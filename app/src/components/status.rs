//! The connection status badge in the room header (`role="status"`, so screen readers hear changes).

use leptos::prelude::*;

use crate::{client::ChatClient, components::clock::ticking_now};

#[component]
pub fn StatusBadge() -> impl IntoView {
    let client = expect_context::<ChatClient>();
    let now = ticking_now();
    let status = client.status;
    view! {
        <div class=move || format!("status {}", status.get().class()) role="status">
            <span class="dot" aria-hidden="true"></span>
            <span class="status-label">{move || status.get().label(now.get())}</span>
        </div>
    }
}
