//! Identifier types. Each wraps a string or number and can only be built through its validating
//! constructor (or deserialisation, which runs the same check), so a `RoomName` in hand is a valid one.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::limits::{MAX_CLIENT_ID_LEN, MAX_INVITE_CODE_LEN, MAX_ROOM_NAME_LEN};

/// Why an identifier was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("room names are 1 to {MAX_ROOM_NAME_LEN} characters: lowercase letters, digits, '-' and '_', starting with a letter or digit (or '_' for a private room)")]
    RoomName,
    #[error("client ids are 1 to {MAX_CLIENT_ID_LEN} printable ASCII characters without spaces")]
    ClientId,
    #[error("message ids look like `<milliseconds>-<sequence>`, e.g. `1732550400000-0`")]
    MessageId,
    #[error("invite codes are 1 to {MAX_INVITE_CODE_LEN} letters, digits, '-' and '_'")]
    InviteCode,
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident, $valid:expr, $err:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Checks `value` against this identifier's rules.
            pub fn new(value: impl Into<String>) -> Result<Self, IdError> {
                let value = value.into();
                let valid: fn(&str) -> bool = $valid;
                if valid(&value) {
                    Ok(Self(value))
                } else {
                    Err($err)
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::new(s)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = String::deserialize(deserializer)?;
                Self::new(value).map_err(serde::de::Error::custom)
            }
        }
    };
}

string_id!(
    /// A room's name: `general`, `rust-users`, `team_7`. A name starting with `_` is a private room's
    /// (see [`RoomName::is_private`]).
    RoomName,
    |s| {
        let bytes = s.as_bytes();
        !bytes.is_empty()
            && bytes.len() <= MAX_ROOM_NAME_LEN
            && (bytes[0].is_ascii_alphanumeric() || bytes[0] == b'_')
            && bytes
                .iter()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-' || *b == b'_')
    },
    IdError::RoomName
);

string_id!(
    /// The id a client gives a message it sends, so that a retried send is stored and shown once.
    ClientId,
    |s| !s.is_empty() && s.len() <= MAX_CLIENT_ID_LEN && s.bytes().all(|b| b.is_ascii_graphic()),
    IdError::ClientId
);

string_id!(
    /// The secret of a single-use invite link (`https://<app>/#join=<code>`): the server issues 32 hex
    /// digits (128 random bits); any code of this shape may be tried, and every one that is not a live,
    /// unused link gets the same answer.
    InviteCode,
    |s| {
        !s.is_empty()
            && s.len() <= MAX_INVITE_CODE_LEN
            && s
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    },
    IdError::InviteCode
);

/// What starts every direct conversation's name.
const DIRECT_PREFIX: &str = "_dm-";

impl RoomName {
    /// A private room (its name starts with `_`): only the people in it may join it, read it or see who
    /// is there. Nobody brings one into being by joining it: its owner creates it, a direct conversation
    /// is opened. Public names start with a letter or digit, so the two never meet.
    pub fn is_private(&self) -> bool {
        self.0.starts_with('_')
    }

    /// A direct conversation between two people (private to them).
    pub fn is_direct(&self) -> bool {
        self.0.starts_with(DIRECT_PREFIX)
    }

    /// The direct conversation of two people, the same whichever of them asks: `_dm-` and 40 hex digits
    /// of a SHA-256 of the two user ids, sorted.
    pub fn direct(a: &str, b: &str) -> Self {
        let (first, second) = if a <= b { (a, b) } else { (b, a) };
        let digest = crate::sha256::digest(&[first.as_bytes(), &[0], second.as_bytes()].concat());
        let hex: String = digest[..20].iter().map(|b| format!("{b:02x}")).collect();
        Self(format!("{DIRECT_PREFIX}{hex}"))
    }

    /// What every private room `user_id` creates is named with: `_`, their [`handle`] and `-`. Only they
    /// may create a room under it, so nobody learns from a refused `create` that someone else's exists.
    pub fn private_prefix(user_id: &str) -> String {
        format!("_{}-", handle(user_id))
    }

    /// The private room `user_id` would create as `title` (lowercased, spaces to `-`, cut to fit), if
    /// that makes a valid name. Names are ASCII, so ASCII lowercasing is all a valid one needs (and the
    /// app, which calls this, does not carry Unicode's case tables).
    pub fn private(user_id: &str, title: &str) -> Result<Self, IdError> {
        let prefix = Self::private_prefix(user_id);
        let slug: String = title
            .trim()
            .to_ascii_lowercase()
            .replace(' ', "-")
            .chars()
            .take(MAX_ROOM_NAME_LEN - prefix.len())
            .collect();
        if slug.is_empty() {
            return Err(IdError::RoomName);
        }
        Self::new(format!("{prefix}{slug}"))
    }

    /// A private room's name without its owner's prefix (`plans` for `_3fa9c1-plans`); a public room's
    /// name as it is.
    pub fn title(&self) -> &str {
        match self.0.strip_prefix('_') {
            Some(rest) if !self.is_direct() => rest.split_once('-').map_or(rest, |(_, t)| t),
            _ => &self.0,
        }
    }
}

/// A short handle for a person, six hex digits of a hash of their id (FNV-1a, 64 bits): stable
/// everywhere, not a secret, and what tells two people with one name apart. `Guest 3fa9c1` uses it too.
pub fn handle(user_id: &str) -> String {
    let hash = user_id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{:06x}", hash >> 40)
}

/// A WebSocket connection's id, as API Gateway (or the local gateway) assigned it. Opaque to everyone else.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ConnectionId(pub String);

impl ConnectionId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A stored message's id, assigned by the registry: `<milliseconds>-<sequence>`, the shape of a Redis
/// stream id. Ids order messages within a room; compare them as values, not as strings
/// (`"…-10"` sorts before `"…-9"` as text).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageId {
    pub millis: u64,
    pub seq: u64,
}

impl MessageId {
    pub const fn new(millis: u64, seq: u64) -> Self {
        Self { millis, seq }
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.millis, self.seq)
    }
}

impl FromStr for MessageId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        let (millis, seq) = s.split_once('-').ok_or(IdError::MessageId)?;
        let digits = |part: &str| {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(IdError::MessageId);
            }
            part.parse::<u64>().map_err(|_| IdError::MessageId)
        };
        Ok(Self::new(digits(millis)?, digits(seq)?))
    }
}

impl Serialize for MessageId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for MessageId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_names_follow_the_rules() {
        for good in [
            "general",
            "a",
            "rust-users",
            "team_7",
            "7up",
            &"x".repeat(64),
        ] {
            assert!(RoomName::new(good).is_ok(), "{good} should be valid");
        }
        for bad in [
            "",
            "General",
            "-lead",
            "with space",
            "émoji",
            &"x".repeat(65),
            "a/b",
        ] {
            assert_eq!(
                RoomName::new(bad),
                Err(IdError::RoomName),
                "{bad:?} should be refused"
            );
        }
    }

    /// Private names start with `_`; a direct conversation's name is the same from either side and
    /// differs for every other pair; only its owner's prefix makes a created name.
    #[test]
    fn private_and_direct_names() {
        let plans = RoomName::private("ada", "Q3 plans").unwrap();
        assert!(plans.is_private() && !plans.is_direct());
        assert_eq!(plans.as_str(), format!("_{}-q3-plans", handle("ada")));
        assert_eq!(plans.title(), "q3-plans");
        assert!(plans.as_str().starts_with(&RoomName::private_prefix("ada")));
        assert!(!plans
            .as_str()
            .starts_with(&RoomName::private_prefix("grace")));
        let dm = RoomName::direct("ada", "grace");
        assert_eq!(dm, RoomName::direct("grace", "ada"));
        assert_ne!(dm, RoomName::direct("ada", "alan"));
        assert_ne!(RoomName::direct("a", "bc"), RoomName::direct("ab", "c"));
        assert!(dm.is_private() && dm.is_direct());
        assert!(RoomName::new(dm.as_str()).is_ok());
        assert!(!RoomName::new("general").unwrap().is_private());
        assert_eq!(RoomName::private("ada", "Bad/Name"), Err(IdError::RoomName));
        assert_eq!(handle("ada").len(), 6);
    }

    /// Direct names are what they always were: `_dm-` and the first 20 bytes, in hex, of the `sha2`
    /// crate's SHA-256 of the two ids (sorted) with a zero byte between, so rooms stored before keep
    /// their names.
    #[test]
    fn direct_names_are_the_sha256_of_both_ids() {
        use sha2::{Digest, Sha256};
        for (a, b) in [("ada", "grace"), ("9a2e-long-sub", "3fa9c1"), ("", "x")] {
            let (first, second) = if a <= b { (a, b) } else { (b, a) };
            let digest = Sha256::digest([first.as_bytes(), &[0], second.as_bytes()].concat());
            let hex: String = digest[..20].iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(RoomName::direct(a, b).as_str(), format!("_dm-{hex}"));
        }
    }

    #[test]
    fn client_ids_are_printable_ascii() {
        assert!(ClientId::new("c-1").is_ok());
        assert!(ClientId::new("0192f1e4-7c1b-7000-8000-000000000000").is_ok());
        for bad in ["", "has space", "tab\t", &"x".repeat(65), "ünï"] {
            assert_eq!(
                ClientId::new(bad),
                Err(IdError::ClientId),
                "{bad:?} should be refused"
            );
        }
    }

    #[test]
    fn message_ids_order_by_value_not_text() {
        let nine: MessageId = "1700000000000-9".parse().unwrap();
        let ten: MessageId = "1700000000000-10".parse().unwrap();
        let later: MessageId = "1700000000001-0".parse().unwrap();
        assert!(nine < ten && ten < later);
        assert_eq!(ten.to_string(), "1700000000000-10");
    }

    #[test]
    fn malformed_message_ids_are_refused() {
        for bad in [
            "",
            "1-",
            "-1",
            "1",
            "a-1",
            "1-2-3",
            "+1-2",
            "99999999999999999999999-0",
        ] {
            assert_eq!(bad.parse::<MessageId>(), Err(IdError::MessageId), "{bad:?}");
        }
    }

    #[test]
    fn deserialising_runs_the_same_checks() {
        assert!(serde_json::from_str::<RoomName>(r#""General""#).is_err());
        assert_eq!(
            serde_json::from_str::<MessageId>(r#""5-6""#).unwrap(),
            MessageId::new(5, 6)
        );
    }
}
