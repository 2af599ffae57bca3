//! Any path the route table does not know.

use leptos::prelude::*;

#[component]
pub fn NotFound() -> impl IntoView {
    view! {
        <main class="splash">
            <div class="card">
                <h1>"Nothing here"</h1>
                <p>"This page does not exist."</p>
                <a class="button primary" href="/">"Go to Chatty"</a>
            </div>
        </main>
    }
}
