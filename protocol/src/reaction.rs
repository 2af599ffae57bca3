//! Reactions: the small fixed set of emoji a person may react to a message with ([`Emoji`]), and what a
//! message carries about them ([`Reaction`]): per emoji, how many reacted and the first few names, never
//! everyone, so a message's frame stays small whatever the room's size.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::server::User;

/// One emoji of the fixed set; anything else is refused on receipt (`invalid_emoji`). On the wire, the
/// emoji itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
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

    /// The emoji as text (what the wire carries).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ThumbsUp => "👍",
            Self::Heart => "❤️",
            Self::Laugh => "😂",
            Self::Party => "🎉",
            Self::Surprised => "😮",
            Self::Sad => "😢",
        }
    }

    /// The emoji whose text is `text`, if it is one of the set.
    pub fn from_text(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == text)
    }
}

impl fmt::Display for Emoji {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The people who reacted to a message with one emoji: how many, and the first of them (at most
/// [`crate::limits::MAX_NAMED_REACTORS`], in the order they reacted, without pictures) to name on hover.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    }
}
