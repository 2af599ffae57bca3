//! The composer's `@` autocomplete: while the caret follows an `@` and the start of a name, the room's
//! members who match are listed above the composer ([`crate::mention`] decides who and what a pick
//! writes). ↑/↓ move through them, Enter or Tab or a click picks (the focus stays in the composer),
//! Escape closes the list until that `@` is gone.

use leptos::{ev::KeyboardEvent, html::Textarea, prelude::*};
use protocol::{handle, RoomName, User};

use crate::{
    client::ChatClient,
    components::avatar::Avatar,
    mention::{self, Query},
};

/// The autocomplete of one composer: what is typed after the `@`, who matches, which is selected.
#[derive(Clone, Copy)]
pub struct Autocomplete {
    client: ChatClient,
    room: StoredValue<RoomName>,
    textarea: NodeRef<Textarea>,
    members: Memo<Vec<User>>,
    /// The mention being typed, if any.
    query: RwSignal<Option<Query>>,
    /// The `@` whose list was closed (picked from, or Escape), until it goes.
    closed_at: StoredValue<Option<usize>>,
    selected: RwSignal<usize>,
    suggestions: Memo<Vec<User>>,
}

impl Autocomplete {
    /// The autocomplete of the composer `textarea` in `room`, listing the room's members.
    pub fn new(room: RoomName, textarea: NodeRef<Textarea>) -> Self {
        let client = expect_context::<ChatClient>();
        let members = {
            let room = room.clone();
            Memo::new(move |_| {
                client
                    .state
                    .with(|s| s.room(&room).map(|r| r.members.clone()).unwrap_or_default())
            })
        };
        let query = RwSignal::new(None::<Query>);
        let suggestions = Memo::new(move |_| {
            let me = client.user().unwrap_or_default();
            query.with(|q| {
                q.as_ref()
                    .map(|q| members.with(|m| mention::suggest(&q.typed, m, &me)))
                    .unwrap_or_default()
            })
        });
        Self {
            client,
            room: StoredValue::new(room),
            textarea,
            members,
            query,
            closed_at: StoredValue::new(None),
            selected: RwSignal::new(0),
            suggestions,
        }
    }

    /// Whether the list shows (someone matches what is typed).
    pub fn is_open(&self) -> bool {
        self.suggestions.with(|s| !s.is_empty())
    }

    /// The id of the selected option, while the list shows.
    pub fn active_option(&self) -> Option<String> {
        self.is_open()
            .then(|| format!("mention-{}", self.selected.get()))
    }

    /// The text changed or the caret moved: finds the mention being typed at the caret, if any.
    pub fn follow_caret(&self) {
        let Some(found) = self
            .at_caret()
            .and_then(|(text, caret)| mention::query_at(&text, caret))
        else {
            self.closed_at.set_value(None);
            self.query.set(None);
            return;
        };
        if self.closed_at.get_value() == Some(found.start) {
            self.query.set(None);
            return;
        }
        if self.query.with_untracked(|q| q.as_ref().map(|q| q.start)) != Some(found.start) {
            self.selected.set(0);
        }
        self.query.set(Some(found));
    }

    /// Hides the list (the composer lost the focus); typing brings it back.
    pub fn close(&self) {
        self.query.set(None);
    }

    /// Takes the keys the open list uses (↑, ↓, Enter, Tab, Escape): whether it took this one.
    pub fn steer(&self, ev: &KeyboardEvent) -> bool {
        let count = self.suggestions.with_untracked(Vec::len);
        if count == 0 || ev.is_composing() {
            return false;
        }
        match ev.key().as_str() {
            "ArrowDown" => self.selected.update(|i| *i = (*i + 1) % count),
            "ArrowUp" => self.selected.update(|i| *i = (*i + count - 1) % count),
            "Enter" | "Tab" if !ev.shift_key() => {
                let selected = self.selected.get_untracked();
                if let Some(user) = self
                    .suggestions
                    .with_untracked(|s| s.get(selected).cloned())
                {
                    self.pick(&user);
                }
            }
            "Escape" => {
                let start = self.query.with_untracked(|q| q.as_ref().map(|q| q.start));
                self.closed_at.set_value(start);
                self.query.set(None);
            }
            _ => return false,
        }
        ev.prevent_default();
        true
    }

    /// Writes the mention of `user` in place of what was typed after the `@`, caret after it.
    fn pick(&self, user: &User) {
        let (Some(el), Some((text, caret))) = (self.textarea.get_untracked(), self.at_caret())
        else {
            return;
        };
        let Some(typed) = mention::query_at(&text, caret) else {
            return;
        };
        let (text, caret) = self
            .members
            .with_untracked(|m| mention::complete(&text, &typed, caret, user, m));
        el.set_value(&text);
        let units = mention::utf16_offset(&text, caret);
        let _ = el.set_selection_range(units, units);
        let _ = el.focus();
        self.closed_at.set_value(Some(typed.start));
        self.query.set(None);
        self.room
            .with_value(|room| self.client.set_draft(room, &text));
    }

    /// The composer's text and its caret (a byte offset), as the textarea has them now.
    fn at_caret(&self) -> Option<(String, usize)> {
        let el = self.textarea.get_untracked()?;
        let text = el.value();
        let units = el.selection_start().ok().flatten().unwrap_or(0);
        let caret = mention::byte_offset(&text, units);
        Some((text, caret))
    }
}

/// The list of people to mention, above the composer; hidden while nobody matches.
#[component]
pub fn MentionList(autocomplete: Autocomplete) -> impl IntoView {
    let selected = autocomplete.selected;
    let options = move || {
        autocomplete
            .suggestions
            .get()
            .into_iter()
            .enumerate()
            .map(|(i, user)| {
                let tag = format!("@{}", handle(&user.id));
                let chosen = user.clone();
                view! {
                    <li role="option" id=format!("mention-{i}")
                        aria-selected=move || (selected.get() == i).to_string()
                        on:mouseenter=move |_| selected.set(i)
                        on:mousedown=move |ev| {
                            // Keeps the focus (and the caret) in the composer.
                            ev.prevent_default();
                            autocomplete.pick(&chosen);
                        }>
                        <Avatar user=user.clone()/>
                        <span class="member-name">{user.name}</span>
                        <span class="handle">{tag}</span>
                    </li>
                }
            })
            .collect::<Vec<_>>()
    };
    view! {
        <ul class="mention-list" id="mention-list" role="listbox" aria-label="People to mention"
            hidden=move || !autocomplete.is_open()>
            {options}
        </ul>
    }
}
