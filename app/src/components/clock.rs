//! The current time as a signal that ticks every second while the component using it is mounted: for
//! countdowns and for typing lines that expire.

use std::time::Duration;

use leptos::prelude::*;

/// Milliseconds since the epoch, updated every second until the calling component unmounts.
pub fn ticking_now() -> ReadSignal<f64> {
    let (now, set_now) = signal(js_sys::Date::now());
    if let Ok(handle) = set_interval_with_handle(
        move || set_now.set(js_sys::Date::now()),
        Duration::from_secs(1),
    ) {
        on_cleanup(move || handle.clear());
    }
    now
}
