//! Reactions: the small fixed set of emoji a person may react to a message with ([`Emoji`]), and what a
//! message carries about them ([`Reaction`]): per emoji, how many reacted and the first few names, never
//! everyone, so a message's frame stays small whatever the room's size.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

use crate::server::User;

/// One emoji of the fixed set; anything else is refused on receipt (`invalid_emoji`). On the wire, the
/// emoji itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Emoji {
    #[serde(rename = "👍")]
    ThumbsUp,
    #[serde(rename = "❤️")]
    Heart,
    #[serde(rename = "😂")]
    Laugh,
    #[serde(rename = "🎉")]
    Party,
    #[serde(rename = "😮")]
    Surprised,
    #[serde(rename = "😢")]
    Sad,
}

impl Emoji {
    /// The whole set, in the order a message lists its reactions and the picker offers them.
    pub const ALL: [Emoji; 6] = [
        Self::ThumbsUp,
        Self::Heart,
        Self::Laugh,
        Self::Party,
        Self::Surprised,
        Self::Sad,
    ];

    /// Each of [`Emoji::ALL`] as text, in its order (what the wire carries).
    const TEXTS: [&'static str; 6] = ["👍", "❤️", "😂", "🎉", "😮", "😢"];

    /// The emoji as text (what the wire carries).
    pub fn as_str(self) -> &'static str {
        Self::TEXTS[self as usize]
    }

    /// The emoji whose text is `text`, if it is one of the set.
    pub fn from_text(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == text)
    }
}

/// Read by its text ([`crate::flat::deserialize_name`]), as the derived reader reads it (a test).
impl<'de> Deserialize<'de> for Emoji {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Self::ALL[crate::flat::deserialize_name(deserializer, &Self::TEXTS)?])
    }
}

impl fmt::Display for Emoji {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The people who reacted to a message with one emoji: how many, and the first of them (at most
/// [`crate::limits::MAX_NAMED_REACTORS`], in the order they reacted, without pictures) to name on hover.
/// Read by the server frames' own reader (`crate::server`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reaction {
    pub emoji: Emoji,
    pub count: u32,
    pub users: Vec<User>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every emoji's wire text is its `as_str`, and reads back as itself; nothing else reads as one.
    #[test]
    fn emoji_travel_as_themselves() {
        for emoji in Emoji::ALL {
            let json = serde_json::to_string(&emoji).unwrap();
            assert_eq!(json, format!("\"{}\"", emoji.as_str()));
            assert_eq!(serde_json::from_str::<Emoji>(&json).unwrap(), emoji);
            assert_eq!(Emoji::from_text(emoji.as_str()), Some(emoji));
        }
        // The heart without its variation selector is another text, so it is not one of the set.
        for other in ["\"❤\"", "\"ThumbsUp\"", "\"🍕\"", "\"\"", "1"] {
            assert!(serde_json::from_str::<Emoji>(other).is_err(), "{other}");
        }
        // The serialised names are the texts, in `ALL`'s order, and an unknown one is refused as serde's
        // derived reader refuses it.
        for (emoji, text) in Emoji::ALL.into_iter().zip(Emoji::TEXTS) {
            assert_eq!(serde_json::to_value(emoji).unwrap(), text);
        }
        let err = serde_json::from_str::<Emoji>("\"🍕\"")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(
                "unknown variant `🍕`, expected one of `👍`, `❤️`, `😂`, `🎉`, `😮`, `😢`"
            ),
            "{err}"
        );
    }
}
