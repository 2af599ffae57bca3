//! A person's avatar: their picture when the identity provider gave one over HTTPS, else their initials
//! on a colour derived from their id. Its tooltip names them with their handle, so two people with one
//! name can be told apart.

use leptos::prelude::*;
use protocol::{handle, User};

use crate::display::{hue, initials};

#[component]
pub fn Avatar(user: User) -> impl IntoView {
    let title = format!("{} · @{}", user.name, handle(&user.id));
    match user.picture.filter(|p| p.starts_with("https://")) {
        Some(picture) => view! {
            <img class="avatar" src=picture alt="" title=title referrerpolicy="no-referrer" loading="lazy"/>
        }
        .into_any(),
        None => view! {
            <span class="avatar" title=title style=format!("--hue:{}", hue(&user.id)) aria-hidden="true">
                {initials(&user.name)}
            </span>
        }
        .into_any(),
    }
}
