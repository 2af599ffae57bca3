//! The connection status badge in the room header (`role="status"`, so screen readers hear changes),
//! with "Retry now" while waiting to reconnect. The browser coming back online retries at once too.

use leptos::prelude::*;

use crate::{client::ChatClient, components::clock::ticking_now, connection::ConnectionStatus};

#[component]
pub fn StatusBadge() -> impl IntoView {
    let client = expect_context::<ChatClient>();
    let now = ticking_now();
    let status = client.status;
    let back_online = window_event_listener(leptos::ev::online, move |_| client.retry_now());
    on_cleanup(move || back_online.remove());
    let waiting = move || matches!(status.get(), ConnectionStatus::Reconnecting { .. });
    view! {
        <div class=move || format!("status {}", status.get().class()) role="status">
            <span class="dot" aria-hidden="true"></span>
            // The clock only says when to redraw: the countdown is computed from the time of drawing, so a
            // new wait is not overstated by up to a second when the status changes between ticks.
            <span class="status-label">
                {move || {
                    now.track();
                    status.get().label(js_sys::Date::now())
                }}
            </span>
        </div>
        <Show when=waiting>
            <button class="link-button retry" on:click=move |_| client.retry_now()>"Retry now"</button>
        </Show>
    }
}
