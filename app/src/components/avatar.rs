//! A person's avatar: their picture when the identity provider gave one over HTTPS, else their initials
//! on a colour derived from their id.

use leptos::prelude::*;
use protocol::User;

use crate::display::{hue, initials};

#[component]
pub fn Avatar(user: User) -> impl IntoView {
    match user.picture.filter(|p| p.starts_with("https://")) {
        Some(picture) => view! {
            <img class="avatar" src=picture alt="" referrerpolicy="no-referrer" loading="lazy"/>
        }
        .into_any(),
        None => view! {
            <span class="avatar" style=format!("--hue:{}", hue(&user.id)) aria-hidden="true">
                {initials(&user.name)}
            </span>
        }
        .into_any(),
    }
}
