//! `/`: the front door. Signed in, it forwards to the last room visited; signed out, it shows the
//! sign-in card.

use leptos::prelude::*;
use protocol::RoomName;

use crate::{
    auth_flow::Auth,
    components::sign_in::SignIn,
    location::Location,
    state::DEFAULT_ROOM,
    storage::{self, Area},
};

/// Where the last visited room's name is remembered.
pub const LAST_ROOM_KEY: &str = "chatty.last-room";

#[component]
pub fn Landing() -> impl IntoView {
    let auth = expect_context::<Auth>();
    let location = expect_context::<Location>();
    move || {
        if auth.session.with(Option::is_some) {
            let room = storage::load::<String>(Area::Local, LAST_ROOM_KEY)
                .and_then(|r| RoomName::new(r).ok())
                .map_or_else(|| DEFAULT_ROOM.to_owned(), |r| r.to_string());
            location.navigate(&format!("/rooms/{room}"), false);
            ().into_any()
        } else {
            view! { <SignIn return_to="/".to_owned()/> }.into_any()
        }
    }
}
