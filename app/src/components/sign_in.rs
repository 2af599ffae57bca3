//! The sign-in card: what Chatty is and one button that starts the OAuth sign-in (straight to Google
//! when the deployment names it as the identity provider).

use leptos::prelude::*;

use crate::auth_flow::Auth;

#[component]
pub fn SignIn(return_to: String) -> impl IntoView {
    let auth = expect_context::<Auth>();
    let provider = auth.config.with_value(|c| c.auth.identity_provider.clone());
    let label = match provider.as_deref() {
        Some(provider) => format!("Continue with {provider}"),
        None => "Sign in".to_owned(),
    };
    view! {
        <main class="landing">
            <div class="card sign-in">
                <div class="brand big"><span class="logo" aria-hidden="true"></span>"Chatty"</div>
                <h1>"Talk in rooms that keep up with you."</h1>
                <ul class="selling-points">
                    <li>"Messages arrive the moment they're sent."</li>
                    <li>"Drop offline? Nothing is lost: Chatty catches up and sends what you wrote."</li>
                    <li>"Make a room by naming it, share the link, and you're talking."</li>
                </ul>
                <button class="button primary wide" on:click=move |_| auth.sign_in(&return_to)>
                    {label}
                </button>
            </div>
        </main>
    }
}
