//! `/auth/callback`: where the identity provider sends the browser back with `?code&state`. Trades the
//! code for tokens (PKCE) and returns to the page the sign-in started from.

use crate::{auth_flow::Auth, location::Location};
use leptos::{prelude::*, task::spawn_local};

#[component]
pub fn Callback() -> impl IntoView {
    let auth = expect_context::<Auth>();
    let location = expect_context::<Location>();
    let failure = RwSignal::new(None::<String>);
    let (code, state, error) = (
        location.query("code"),
        location.query("state"),
        location
            .query("error_description")
            .or_else(|| location.query("error")),
    );
    spawn_local(async move {
        match auth.finish_sign_in(code, state, error).await {
            Ok(return_to) => location.navigate(&return_to, true),
            Err(e) => failure.set(Some(e.to_string())),
        }
    });
    view! {
        <main class="splash">
            {move || match failure.get() {
                None => view! { <p role="status" aria-busy="true">"Signing you in…"</p> }.into_any(),
                Some(why) => view! {
                    <div class="card" role="alert">
                        <h1>"Sign-in didn't finish"</h1>
                        <p>{why}</p>
                        <a class="button primary" href="/">"Back to sign in"</a>
                    </div>
                }
                .into_any(),
            }}
        </main>
    }
}
