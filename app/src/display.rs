//! How messages are laid out for reading: consecutive messages of one author grouped under one header,
//! day separators, the "new messages" line, local times, initials avatars and who reacted (message text
//! itself is [`crate::markup`]'s). Pure: the caller passes the time zone offset and today's date.

use protocol::{ChatMessage, MessageId, Reaction};
use time::{Date, Duration, OffsetDateTime, UtcOffset};

/// Messages by one author closer together than this share one header.
const GROUP_GAP: Duration = Duration::minutes(5);

/// One message as the list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub message: ChatMessage,
    /// Shows the author's avatar and name (the first of a group).
    pub starts_group: bool,
    /// A day separator goes above this message.
    pub day: Option<String>,
    /// The "new messages" line goes above this message.
    pub new_line: bool,
}

/// Lays out a room's messages (oldest first).
pub fn rows<'a>(
    messages: impl IntoIterator<Item = &'a ChatMessage>,
    marker: Option<MessageId>,
    offset: UtcOffset,
    today: Date,
) -> Vec<Row> {
    let mut rows: Vec<Row> = Vec::new();
    let mut previous: Option<(&ChatMessage, Date)> = None;
    for message in messages {
        let local = message.sent_at.to_offset(offset);
        let new_line = marker == Some(message.id);
        let new_day = previous.is_none_or(|(_, day)| day != local.date());
        let starts_group = new_day
            || new_line
            || previous.is_none_or(|(prev, _)| {
                prev.author.id != message.author.id || message.sent_at - prev.sent_at > GROUP_GAP
            });
        rows.push(Row {
            message: message.clone(),
            starts_group,
            day: new_day.then(|| day_label(local.date(), today)),
            new_line,
        });
        previous = Some((message, local.date()));
    }
    rows
}

/// "Today", "Yesterday", "Monday 18 November", or with the year when it is not this year.
pub fn day_label(day: Date, today: Date) -> String {
    if day == today {
        "Today".into()
    } else if today.previous_day() == Some(day) {
        "Yesterday".into()
    } else if day.year() == today.year() {
        format!("{} {} {}", day.weekday(), day.day(), day.month())
    } else {
        format!("{} {} {}", day.day(), day.month(), day.year())
    }
}

/// "14:05" in the reader's time zone.
pub fn clock(at: OffsetDateTime, offset: UtcOffset) -> String {
    let local = at.to_offset(offset);
    format!("{:02}:{:02}", local.hour(), local.minute())
}

/// `at` as RFC 3339 (for a `<time datetime>`), exactly as `time`'s `Rfc3339` format writes it (a test holds
/// the two together) without bringing its formatting machinery into the download: empty where that format
/// fails (a year outside 0–9999, an offset with seconds).
pub fn rfc3339(at: OffsetDateTime) -> String {
    let offset = at.offset();
    let (hours, minutes, seconds) = offset.as_hms();
    if !(0..10_000).contains(&at.year()) || hours.unsigned_abs() > 23 || seconds != 0 {
        return String::new();
    }
    let mut out = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    );
    if at.nanosecond() != 0 {
        out.push('.');
        out.push_str(format!("{:09}", at.nanosecond()).trim_end_matches('0'));
    }
    if offset.is_utc() {
        out.push('Z');
    } else {
        let sign = if offset.is_negative() { '-' } else { '+' };
        out.push_str(&format!(
            "{sign}{:02}:{:02}",
            hours.unsigned_abs(),
            minutes.unsigned_abs()
        ));
    }
    out
}

/// Up to two letters for an avatar: the initials of the first two words of a name, else its first letter.
pub fn initials(name: &str) -> String {
    let mut words = name
        .split(|c: char| c.is_whitespace() || matches!(c, '.' | '_' | '-' | '@'))
        .filter(|w| !w.is_empty());
    let first = words.next().and_then(|w| w.chars().next());
    let second = words.next().and_then(|w| w.chars().next());
    match (first, second) {
        (Some(a), Some(b)) => uppercase(&format!("{a}{b}")),
        (Some(a), None) => uppercase(a.encode_utf8(&mut [0; 4])),
        _ => "?".into(),
    }
}

/// `text` in lower case by Unicode's default rules, for comparing names whatever their case. In the browser
/// this is its own `String.prototype.toLowerCase` (the same rules), so the app's download does not carry
/// Rust's copy of Unicode's case tables (8 KB brotli); natively (the tests) it is `str::to_lowercase`.
pub fn lowercase(text: &str) -> String {
    if cfg!(target_arch = "wasm32") {
        js_sys::JsString::from(text).to_lower_case().into()
    } else {
        text.to_lowercase()
    }
}

/// `text` in upper case by Unicode's default rules; see [`lowercase`] for why the browser does it.
pub fn uppercase(text: &str) -> String {
    if cfg!(target_arch = "wasm32") {
        js_sys::JsString::from(text).to_upper_case().into()
    } else {
        text.to_uppercase()
    }
}

/// A stable hue (0–359) for a user id, so a person keeps their avatar colour everywhere.
pub fn hue(user_id: &str) -> u16 {
    // FNV-1a: tiny, stable across builds and platforms.
    let hash = user_id.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    (hash % 360) as u16
}

/// "Ann is typing…", "Ann and Bob are typing…", "Several people are typing…", or nothing.
pub fn typing_sentence(names: &[String]) -> Option<String> {
    match names {
        [] => None,
        [one] => Some(format!("{one} is typing…")),
        [one, two] => Some(format!("{one} and {two} are typing…")),
        _ => Some("Several people are typing…".into()),
    }
}

/// Who reacted, for a reaction chip's hover: "Ada", "Ada and Grace", "Ada, Grace and Lin", and past the
/// names a message carries, "Ada, Grace and 3 others".
pub fn who_reacted(reaction: &Reaction) -> String {
    let names: Vec<&str> = reaction.users.iter().map(|u| u.name.as_str()).collect();
    let others = (reaction.count as usize).saturating_sub(names.len());
    match (names.as_slice(), others) {
        ([], 0) => String::new(),
        ([], n) => people(n),
        ([one], 0) => (*one).to_owned(),
        (named, 0) => {
            let (last, rest) = named.split_last().expect("two names or more");
            format!("{} and {last}", rest.join(", "))
        }
        (named, n) => format!("{} and {}", named.join(", "), others_count(n)),
    }
}

fn people(n: usize) -> String {
    if n == 1 {
        "1 person".to_owned()
    } else {
        format!("{n} people")
    }
}

fn others_count(n: usize) -> String {
    if n == 1 {
        "1 other".to_owned()
    } else {
        format!("{n} others")
    }
}

#[cfg(test)]
mod tests {
    use protocol::{ClientId, Emoji, RoomName, User};
    use time::macros::{date, datetime, offset};

    use super::*;

    /// The app's RFC 3339 writes what `time`'s `Rfc3339` format does: whole seconds and fractions, UTC and
    /// offsets either side, and the years and offsets it refuses.
    #[test]
    fn rfc3339_is_times_own() {
        use time::format_description::well_known::Rfc3339;
        let base = datetime!(2026-03-05 07:08:09 UTC);
        let nanos = [0, 1, 10, 120_000_000, 123_456_789, 500_000_000, 999_999_999];
        let offsets = [
            offset!(UTC),
            offset!(+1),
            offset!(-5:30),
            offset!(+14),
            offset!(-0:30),
            offset!(+5:45:30),
        ];
        let shifts = [Duration::ZERO, Duration::hours(17)];
        let years = [2026, 1970, 0, 9, 9999, -1, -2026];
        for nano in nanos {
            for offset in offsets {
                for shift in shifts {
                    for year in years {
                        let at = (base + shift)
                            .replace_nanosecond(nano)
                            .unwrap()
                            .to_offset(offset)
                            .replace_year(year)
                            .unwrap();
                        let expected = at.format(&Rfc3339).unwrap_or_default();
                        assert_eq!(rfc3339(at), expected, "{at:?}");
                    }
                }
            }
        }
    }

    fn message(id: u64, author: &str, at: OffsetDateTime) -> ChatMessage {
        ChatMessage {
            room: RoomName::new("general").unwrap(),
            id: MessageId::new(id, 0),
            client_id: ClientId::new(format!("c{id}")).unwrap(),
            author: User {
                id: author.into(),
                name: author.into(),
                picture: None,
            },
            body: "hi".into(),
            sent_at: at,
            edited_at: None,
            deleted: false,
            rev: None,
            reactions: Vec::new(),
            mine: None,
        }
    }

    #[test]
    fn consecutive_messages_by_one_author_share_a_header() {
        let messages = [
            message(1, "ann", datetime!(2024-11-25 10:00 UTC)),
            message(2, "ann", datetime!(2024-11-25 10:04 UTC)),
            message(3, "bob", datetime!(2024-11-25 10:05 UTC)),
            message(4, "bob", datetime!(2024-11-25 10:20 UTC)),
            message(5, "bob", datetime!(2024-11-25 10:21 UTC)),
        ];
        let rows = rows(&messages, None, UtcOffset::UTC, date!(2024 - 11 - 25));
        let starts: Vec<bool> = rows.iter().map(|r| r.starts_group).collect();
        assert_eq!(
            starts,
            vec![true, false, true, true, false],
            "a long pause starts a new group"
        );
        assert_eq!(rows[0].day.as_deref(), Some("Today"));
        assert!(rows[1..].iter().all(|r| r.day.is_none()));
    }

    #[test]
    fn days_are_separated_in_the_readers_time_zone() {
        let messages = [
            message(1, "ann", datetime!(2024-11-24 22:30 UTC)),
            message(2, "ann", datetime!(2024-11-24 23:10 UTC)),
        ];
        let utc = rows(&messages, None, UtcOffset::UTC, date!(2024 - 11 - 25));
        assert_eq!(utc[0].day.as_deref(), Some("Yesterday"));
        assert!(utc[1].day.is_none());
        let berlin = rows(&messages, None, offset!(+1), date!(2024 - 11 - 25));
        assert_eq!(berlin[1].day.as_deref(), Some("Today"));
        assert!(berlin[1].starts_group, "a new day starts a new group");
        assert_eq!(clock(messages[1].sent_at, offset!(+1)), "00:10");
    }

    #[test]
    fn the_new_messages_line_breaks_a_group() {
        let messages = [
            message(1, "ann", datetime!(2024-11-25 10:00 UTC)),
            message(2, "ann", datetime!(2024-11-25 10:01 UTC)),
        ];
        let rows = rows(
            &messages,
            Some(MessageId::new(2, 0)),
            UtcOffset::UTC,
            date!(2024 - 11 - 25),
        );
        assert!(!rows[0].new_line);
        assert!(rows[1].new_line && rows[1].starts_group);
    }

    #[test]
    fn older_days_are_named() {
        let today = date!(2024 - 11 - 25);
        assert_eq!(
            day_label(date!(2024 - 11 - 18), today),
            "Monday 18 November"
        );
        assert_eq!(day_label(date!(2023 - 12 - 31), today), "31 December 2023");
    }

    #[test]
    fn initials_take_the_first_letters_of_two_words() {
        assert_eq!(initials("Ada Lovelace"), "AL");
        assert_eq!(initials("alice"), "A");
        assert_eq!(initials("grace.hopper@example.com"), "GH");
        assert_eq!(initials("  émile  zola "), "ÉZ");
        assert_eq!(initials(""), "?");
    }

    #[test]
    fn hues_are_stable_and_in_range() {
        assert_eq!(hue("6f1c"), hue("6f1c"));
        assert!(["a", "b", "some-long-user-id"]
            .iter()
            .all(|id| hue(id) < 360));
        assert_ne!(hue("alice"), hue("bob"));
    }

    /// A chip's hover names who reacted, and counts those the message does not name.
    #[test]
    fn who_reacted_names_people_then_counts_the_rest() {
        let reaction = |names: &[&str], count: u32| Reaction {
            emoji: Emoji::ThumbsUp,
            count,
            users: names
                .iter()
                .map(|n| User {
                    id: n.to_string(),
                    name: n.to_string(),
                    picture: None,
                })
                .collect(),
        };
        assert_eq!(who_reacted(&reaction(&["Ada"], 1)), "Ada");
        assert_eq!(
            who_reacted(&reaction(&["Ada", "Grace"], 2)),
            "Ada and Grace"
        );
        assert_eq!(
            who_reacted(&reaction(&["Ada", "Grace", "Lin"], 3)),
            "Ada, Grace and Lin"
        );
        assert_eq!(
            who_reacted(&reaction(&["Ada", "Grace"], 5)),
            "Ada, Grace and 3 others"
        );
        assert_eq!(who_reacted(&reaction(&["Ada"], 2)), "Ada and 1 other");
        assert_eq!(who_reacted(&reaction(&[], 4)), "4 people");
    }

    #[test]
    fn typing_reads_as_a_sentence() {
        let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(typing_sentence(&[]), None);
        assert_eq!(typing_sentence(&names(&["Ann"])).unwrap(), "Ann is typing…");
        assert_eq!(
            typing_sentence(&names(&["Ann", "Bob"])).unwrap(),
            "Ann and Bob are typing…"
        );
        assert_eq!(
            typing_sentence(&names(&["A", "B", "C"])).unwrap(),
            "Several people are typing…"
        );
    }
}
