//! When a message asks for this person's attention outside the page: the choices they made (a tone or
//! not, which rooms are muted, kept in `localStorage` per person) and the decision for one live message.
//! The browser's side (the Notification API, the tone, whether the page is hidden) is [`crate::notify`].
//! Pure: tested natively.
//!
//! A live `message` frame alerts when the page is hidden (another tab, a minimised window), the message
//! is someone else's, its room is not muted, and it is in a direct conversation or names this person
//! ([`crate::mention`]). History and catch-up pages never alert: what was missed while away is the
//! unread count's to tell.

use protocol::{ChatMessage, RoomName};

use crate::mention::People;

/// A notification's text is cut to this many characters.
const MAX_ALERT_CHARS: usize = 160;

/// This person's choices, kept in this browser (not on the server: see app/README.md).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertSettings {
    /// A short tone plays with each alert.
    pub sound: bool,
    /// Rooms that raise nothing, and whose unread count is shown subdued.
    pub muted: Vec<RoomName>,
}

/// A notification to raise: which room it opens, its title and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub room: RoomName,
    pub title: String,
    pub body: String,
}

impl AlertSettings {
    pub fn is_muted(&self, room: &RoomName) -> bool {
        self.muted.contains(room)
    }

    pub fn set_muted(&mut self, room: &RoomName, muted: bool) {
        self.muted.retain(|r| r != room);
        if muted {
            self.muted.push(room.clone());
        }
    }

    /// The alert a live message raises for `me` (or none): `people` are who the room's mentions may
    /// name, with `me` as the reader; `label` is the room's name as people read it; `hidden` says
    /// whether the page is out of sight now.
    pub fn alert(
        &self,
        message: &ChatMessage,
        me: &str,
        people: &People,
        label: &str,
        hidden: bool,
    ) -> Option<Alert> {
        if !hidden || message.author.id == me || self.is_muted(&message.room) {
            return None;
        }
        let title = if message.room.is_direct() {
            message.author.name.clone()
        } else if people.names_reader(&message.body) {
            format!("{} in {label}", message.author.name)
        } else {
            return None;
        };
        let mut body: String = message.body.chars().take(MAX_ALERT_CHARS).collect();
        if body.len() < message.body.len() {
            body.push('…');
        }
        Some(Alert {
            room: message.room.clone(),
            title,
            body,
        })
    }
}

#[cfg(test)]
mod tests {
    use protocol::{ClientId, MessageId, User};
    use time::OffsetDateTime;

    use super::*;
    use crate::mention::Person;

    fn message(room: &RoomName, author: &str, body: &str) -> ChatMessage {
        ChatMessage {
            room: room.clone(),
            id: MessageId::new(1, 0),
            client_id: ClientId::new("c-1").unwrap(),
            author: User {
                id: author.into(),
                name: author.to_uppercase(),
                picture: None,
            },
            body: body.into(),
            sent_at: OffsetDateTime::UNIX_EPOCH,
            edited_at: None,
            deleted: false,
            rev: None,
            reactions: Vec::new(),
            mine: None,
        }
    }

    fn ada() -> People {
        People::new(
            Some(Person::new("Ada", "ada")),
            [Person::new("Grace", "grace")],
        )
    }

    fn general() -> RoomName {
        RoomName::new("general").unwrap()
    }

    /// The decision for `body` by `author` in `room`, with the page hidden or not.
    fn decide(
        settings: &AlertSettings,
        room: &RoomName,
        author: &str,
        body: &str,
        hidden: bool,
    ) -> Option<Alert> {
        settings.alert(
            &message(room, author, body),
            "ada",
            &ada(),
            "#general",
            hidden,
        )
    }

    #[test]
    fn a_mention_of_me_alerts_while_the_page_is_hidden() {
        let settings = AlertSettings::default();
        assert_eq!(
            decide(&settings, &general(), "grace", "@Ada look", true),
            Some(Alert {
                room: general(),
                title: "GRACE in #general".into(),
                body: "@Ada look".into(),
            })
        );
        assert_eq!(
            decide(&settings, &general(), "grace", "@Ada look", false),
            None,
            "the page is in sight"
        );
        assert_eq!(
            decide(&settings, &general(), "grace", "hello all", true),
            None,
            "an ordinary message"
        );
        assert_eq!(
            decide(&settings, &general(), "grace", "`@Ada`", true),
            None,
            "inside code"
        );
        assert_eq!(
            decide(&settings, &general(), "ada", "@Ada note to self", true),
            None,
            "my own"
        );
    }

    #[test]
    fn every_message_of_a_direct_conversation_alerts() {
        let dm = RoomName::direct("ada", "grace");
        let alert = decide(&AlertSettings::default(), &dm, "grace", "psst", true).unwrap();
        assert_eq!((alert.room, alert.title.as_str()), (dm.clone(), "GRACE"));
        assert_eq!(
            decide(
                &AlertSettings::default(),
                &dm,
                "ada",
                "sent elsewhere",
                true
            ),
            None
        );
    }

    #[test]
    fn a_muted_room_raises_nothing_until_unmuted() {
        let dm = RoomName::direct("ada", "grace");
        let mut settings = AlertSettings::default();
        settings.set_muted(&general(), true);
        settings.set_muted(&dm, true);
        assert_eq!(
            decide(&settings, &general(), "grace", "@Ada look", true),
            None
        );
        assert_eq!(decide(&settings, &dm, "grace", "psst", true), None);
        settings.set_muted(&dm, false);
        assert!(decide(&settings, &dm, "grace", "psst", true).is_some());
        assert!(settings.is_muted(&general()) && !settings.is_muted(&dm));
    }

    #[test]
    fn long_messages_are_cut() {
        let long = format!("@Ada {}", "é".repeat(400));
        let alert = decide(&AlertSettings::default(), &general(), "grace", &long, true).unwrap();
        assert_eq!(alert.body.chars().count(), MAX_ALERT_CHARS + 1);
        assert!(alert.body.ends_with('…'));
    }
}
