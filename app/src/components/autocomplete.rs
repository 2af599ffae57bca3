//! The composer's `@` autocomplete: while the caret follows an `@` and the start of a name, the room's
//! members who match are listed above the composer ([`crate::mention`] decides who, and what a pick
//! writes). ↑/↓ move through them, Enter or Tab or a click picks (the focus stays in the composer),
//! Escape closes the list until that `@` is gone. The composer's `aria-expanded` and
//! `aria-activedescendant` are set here as the list changes.

use leptos::{ev::KeyboardEvent, html::Textarea, prelude::*};
use protocol::{handle, RoomName};

use crate::{
    client::ChatClient,
    mention::{self, Suggestions},
};

/// The autocomplete of one composer.
#[derive(Clone, Copy)]
pub struct Autocomplete {
    client: ChatClient,
    room: StoredValue<RoomName>,
    textarea: NodeRef<Textarea>,
    /// Who is offered now (nobody while the list is closed), and which is selected.
    list: RwSignal<Suggestions>,
    /// The `@` whose list was closed (picked from, or Escape), until it goes.
    closed_at: StoredValue<Option<usize>>,
}

impl Autocomplete {
    /// The autocomplete of the composer `textarea` in `room`, listing the room's members.
    pub fn new(client: ChatClient, room: RoomName, textarea: NodeRef<Textarea>) -> Self {
        Self {
            client,
            room: StoredValue::new(room),
            textarea,
            list: RwSignal::new(Suggestions::default()),
            closed_at: StoredValue::new(None),
        }
    }

    /// The text changed: lists the members matching the mention being typed at the caret, if any.
    pub fn follow_caret(&self) {
        let typed = self
            .at_caret()
            .and_then(|(text, caret)| mention::query_at(&text, caret));
        let people = match typed {
            Some(typed) if self.closed_at.get_value() != Some(typed.start) => {
                let me = self.client.user().unwrap_or_default();
                self.members(|members| mention::suggest(&typed.typed, members, &me))
            }
            Some(_) => Vec::new(),
            None => {
                self.closed_at.set_value(None);
                Vec::new()
            }
        };
        self.show(self.list.with_untracked(|list| list.update(people)));
    }

    /// Hides the list and forgets which `@` was closed (the composer lost the focus, or its text was
    /// sent): the next `@` typed opens it again.
    pub fn reset(&self) {
        self.closed_at.set_value(None);
        self.show(Suggestions::default());
    }

    /// Takes the keys the open list uses (↑, ↓, Enter, Tab, Escape): whether it took this one.
    pub fn steer(&self, ev: &KeyboardEvent) -> bool {
        let mut list = self.list.get_untracked();
        if list.people.is_empty() || ev.is_composing() {
            return false;
        }
        match ev.key().as_str() {
            "ArrowDown" | "ArrowUp" => {
                list.step(ev.key() == "ArrowDown");
                self.show(list);
            }
            "Enter" | "Tab" if !ev.shift_key() => self.pick(list.selected),
            "Escape" => {
                let start = self
                    .at_caret()
                    .and_then(|(text, caret)| mention::query_at(&text, caret))
                    .map(|typed| typed.start);
                self.closed_at.set_value(start);
                self.show(Suggestions::default());
            }
            _ => return false,
        }
        ev.prevent_default();
        true
    }

    /// Writes the mention of the `index`th person listed in place of what was typed after the `@`, the
    /// caret after it.
    fn pick(&self, index: usize) {
        let (Some(el), Some((text, caret))) = (self.textarea.get_untracked(), self.at_caret())
        else {
            return;
        };
        let user = self
            .list
            .with_untracked(|list| list.people.get(index).cloned());
        let (Some(user), Some(typed)) = (user, mention::query_at(&text, caret)) else {
            return;
        };
        // Whether the name is shared is judged against everyone here, not only those listed.
        let (text, caret) =
            self.members(|members| mention::complete(&text, &typed, caret, &user, members));
        el.set_value(&text);
        let units = mention::utf16_offset(&text, caret);
        let _ = el.set_selection_range(units, units);
        let _ = el.focus();
        self.closed_at.set_value(Some(typed.start));
        self.show(Suggestions::default());
        self.room
            .with_value(|room| self.client.set_draft(room, &text));
    }

    /// Shows `list` and tells assistive technology what is open and selected.
    fn show(&self, list: Suggestions) {
        // The composer may be gone: Chromium fires `blur` at a focused textarea as it leaves the page (the
        // session ended, the room was left), after its view, this node reference included, was disposed.
        if let Some(el) = self.textarea.try_get_untracked().flatten() {
            let open = !list.people.is_empty();
            let _ = el.set_attribute("aria-expanded", if open { "true" } else { "false" });
            let _ = match open {
                true => el.set_attribute(
                    "aria-activedescendant",
                    &format!("mention-{}", list.selected),
                ),
                false => el.remove_attribute("aria-activedescendant"),
            };
        }
        self.list.set(list);
    }

    /// Reads the room's members (who is here now, by name).
    fn members<T>(&self, read: impl FnOnce(&[protocol::User]) -> T) -> T {
        self.client.state.with_untracked(|s| {
            self.room
                .with_value(|room| read(s.room(room).map_or(&[][..], |r| &r.members[..])))
        })
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

/// The list of people to mention, above the composer, while someone matches.
#[component]
pub fn MentionList(autocomplete: Autocomplete) -> impl IntoView {
    move || {
        autocomplete.list.with(|list| {
            let options = list
                .people
                .iter()
                .enumerate()
                .map(|(i, user)| {
                    view! {
                        <li role="option" id=format!("mention-{i}")
                            aria-selected=(i == list.selected).to_string()
                            on:mousedown=move |ev| {
                                // Keeps the focus (and the caret) in the composer.
                                ev.prevent_default();
                                autocomplete.pick(i);
                            }>
                            <span class="member-name">{user.name.clone()}</span>
                            <span class="handle">{format!("@{}", handle(&user.id))}</span>
                        </li>
                    }
                })
                .collect::<Vec<_>>();
            (!options.is_empty()).then(|| {
                view! {
                    <ul class="mention-list" id="mention-list" role="listbox"
                        aria-label="People to mention">
                        {options}
                    </ul>
                }
            })
        })
    }
}
