//! The browser entry point: mounts [`chatty_app::App`] on the page's `<body>`.

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(chatty_app::App);
}
