//! Reading and writing JSON values in the browser's `localStorage` and `sessionStorage`. Storage can be
//! missing or full (private windows, quotas); the app then simply remembers less, so failures are
//! swallowed here rather than handled at every call.

use serde::{de::DeserializeOwned, Serialize};

/// Which of the browser's two stores.
#[derive(Debug, Clone, Copy)]
pub enum Area {
    /// Kept across reloads and restarts, shared by the origin's tabs.
    Local,
    /// Kept across reloads of one tab only.
    Session,
}

fn store(area: Area) -> Option<web_sys::Storage> {
    let window = web_sys::window()?;
    match area {
        Area::Local => window.local_storage().ok().flatten(),
        Area::Session => window.session_storage().ok().flatten(),
    }
}

pub fn load<T: DeserializeOwned>(area: Area, key: &str) -> Option<T> {
    let text = store(area)?.get_item(key).ok().flatten()?;
    serde_json::from_str(&text).ok()
}

pub fn save<T: Serialize>(area: Area, key: &str, value: &T) {
    if let (Some(store), Ok(text)) = (store(area), serde_json::to_string(value)) {
        let _ = store.set_item(key, &text);
    }
}

pub fn remove(area: Area, key: &str) {
    if let Some(store) = store(area) {
        let _ = store.remove_item(key);
    }
}
