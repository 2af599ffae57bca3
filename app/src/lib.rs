//! Chatty's browser app: a Leptos single-page app that signs in with OAuth 2.0 + PKCE, keeps one
//! WebSocket to the chat server, and shows rooms, messages, members and typing.
//!
//! # Layout
//! - [`App`] (here): loads `/config.json`, provides the [`auth_flow::Auth`] and [`client::ChatClient`]
//!   contexts, keeps an opened invite link's code (`/#join=<code>`) for the chat to redeem, and holds
//!   the whole route table.
//! - [`location`](mod@location): the address bar: which page a path shows, and moving between pages
//!   without reloading.
//! - [`routes`]: one page per route: the landing page (`/`), the sign-in callback (`/auth/callback`),
//!   a room (`/rooms/:room`).
//! - [`components`]: the pieces of the chat screen; each takes what it shows as props.
//! - [`client`]: the chat client context: signals for the state, outbox, drafts and connection status,
//!   and the actions (join, send, retry, load older) that turn into frames; components change those
//!   signals only through its methods.
//! - [`ws`]: the only code that touches the WebSocket: connect, ping, rotate, reconnect with backoff.
//! - [`notify`]: the browser's side of alerts: notifications (asked for only from a button), the tone.
//! - [`auth_flow`]: the browser side of sign-in: redirects, token calls, session storage.
//! - Pure and tested natively: [`state`] (what the screen shows, folded from server frames, in
//!   [`sorted_map`]s), [`outbox`] (pending messages and drafts), [`auth`] (PKCE, token bodies, claims,
//!   with [`base64url`]), [`backoff`], [`connection`] (status and keep-alive timing),
//!   [`display`] (grouping, times, initials), [`markup`] (message formatting: code, bold, italic,
//!   links, mentions), [`mention`] (who a body names, the composer's `@` autocomplete), [`alerts`]
//!   (which live messages notify, muted rooms), [`location`](mod@location)'s route table.
//! - [`config`] fetches the runtime configuration (through [`http`], the browser's `fetch`); [`storage`]
//!   wraps the browser's storage.

pub mod alerts;
pub mod auth;
pub mod auth_flow;
pub mod backoff;
pub mod base64url;
pub mod client;
pub mod components;
pub mod config;
pub mod connection;
pub mod display;
pub mod http;
pub mod location;
pub mod markup;
pub mod mention;
pub mod notify;
pub mod outbox;
pub mod routes;
pub mod sorted_map;
pub mod state;
pub mod storage;
pub mod ws;

use leptos::prelude::*;
use protocol::{AppConfig, InviteCode};

use crate::{
    auth_flow::Auth,
    client::{ChatClient, JOIN_KEY},
    location::{Location, Route},
    storage::Area,
};

/// The whole app: configuration first, then the routes.
#[component]
pub fn App() -> impl IntoView {
    // Loaded once, into a plain signal: a resource would add Leptos's async machinery to the download for
    // this one fetch.
    let config = RwSignal::new(None);
    leptos::task::spawn_local(async move { config.set(Some(config::load().await)) });
    move || match config.get() {
        None => view! { <div class="splash" aria-busy="true">"Loading Chatty…"</div> }.into_any(),
        Some(Err(error)) => view! {
            <main class="splash" role="alert">
                <h1>"Chatty can't start"</h1>
                <p>{error}</p>
            </main>
        }
        .into_any(),
        Some(Ok(config)) => view! { <Chatty config/> }.into_any(),
    }
}

/// The app once configured: the sign-in and chat contexts, and the route table.
#[component]
fn Chatty(config: AppConfig) -> impl IntoView {
    keep_join_code();
    let auth = Auth::new(config);
    let client = ChatClient::new();
    let location = Location::listen();
    provide_context(auth);
    provide_context(client);
    provide_context(location);
    // Connect while someone is signed in; a refreshed token for the same person changes nothing.
    Effect::new(move |_| {
        let user = auth.session.with(|s| s.as_ref().map(|s| s.sub.clone()));
        match user {
            Some(user) if client.user().as_deref() != Some(user.as_str()) => {
                if client.user().is_some() {
                    client.stop();
                }
                client.start(auth, user);
            }
            None if client.user().is_some() => client.stop(),
            _ => {}
        }
    });
    // The route table. A page is built when the path moves to it, and stays while the path moves within
    // it (from room to room).
    let route = Memo::new(move |_| location.route());
    move || match route.get() {
        Route::Landing => view! { <routes::landing::Landing/> }.into_any(),
        Route::Callback => view! { <routes::callback::Callback/> }.into_any(),
        Route::Room => view! { <routes::room::RoomPage/> }.into_any(),
        Route::NotFound => view! { <routes::not_found::NotFound/> }.into_any(),
    }
}

/// An invite link was opened (`/#join=<code>`): its code waits in this tab's session storage for the chat
/// to start (after a sign-in, if need be, whose round trip it survives there), and leaves the address bar,
/// so neither the history nor a bookmark keeps it. The fragment never reaches a server.
fn keep_join_code() {
    let location = window().location();
    let code = location
        .hash()
        .ok()
        .and_then(|hash| hash.strip_prefix("#join=").map(str::to_owned));
    let Some(code) = code else {
        return;
    };
    if let Ok(code) = InviteCode::new(code) {
        storage::save(Area::Session, JOIN_KEY, &code);
    }
    let here = format!(
        "{}{}",
        location.pathname().unwrap_or_default(),
        location.search().unwrap_or_default()
    );
    if let Ok(history) = window().history() {
        let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&here));
    }
}
