//! The RFC 3339 dates and times the server's frames carry (`sent_at`, `edited_at`, `expires_at`), read by
//! [`parse`], which accepts exactly what `time`'s `Rfc3339` format does and gives the same instant (a test
//! holds the two together), without `time`'s parsing machinery: the browser app reads every frame with it,
//! and downloads whatever it reaches (app/README.md, "Size"). Frames are written with `time`'s own format.
//! Use as `#[serde(with = "crate::rfc3339")]`, or `crate::rfc3339::option` for an optional one.

use std::fmt;

use serde::{de, Deserialize, Deserializer, Serializer};
use time::{Date, Month, OffsetDateTime, Time, UtcOffset};

/// `text` as an RFC 3339 date and time: `2024-11-25T16:00:00Z`, with a fraction of a second
/// (`…00.25Z`) or an offset (`…00+01:00`) if it has one. As `time` reads it: any one byte between the
/// date and the time, `z` for `Z`, at most 9 digits of the fraction counted (the rest ignored), and a
/// leap second (`23:59:60` at the end of a month, UTC) read as the nanosecond before it.
pub fn parse(text: &str) -> Option<OffsetDateTime> {
    let bytes = text.as_bytes();
    // The fixed part: `YYYY-MM-DD?hh:mm:ss`, with any byte at `?`.
    if bytes.len() < 19
        || [4, 7].map(|i| bytes[i]) != [b'-'; 2]
        || [13, 16].map(|i| bytes[i]) != [b':'; 2]
    {
        return None;
    }
    let number = |from: usize, to: usize| {
        bytes[from..to].iter().try_fold(0u16, |n, &b| {
            b.is_ascii_digit().then(|| n * 10 + u16::from(b - b'0'))
        })
    };
    let year = number(0, 4)?;
    let [month, day, hour, minute, mut second] =
        [5, 8, 11, 14, 17].map(|at| number(at, at + 2).map(|n| n as u8));
    let mut rest = &bytes[19..];
    let mut nanosecond = 0;
    if let [b'.', digits @ ..] = rest {
        let count = digits.iter().take_while(|b| b.is_ascii_digit()).count();
        if count == 0 {
            return None;
        }
        nanosecond = digits[..count.min(9)]
            .iter()
            .zip([
                100_000_000,
                10_000_000,
                1_000_000,
                100_000,
                10_000,
                1_000,
                100,
                10,
                1,
            ])
            .map(|(&b, scale)| u32::from(b - b'0') * scale)
            .sum();
        rest = &digits[count..];
    }
    let offset = match rest {
        [b'Z' | b'z'] => UtcOffset::UTC,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let two = |a: u8, b: u8| {
                (a.is_ascii_digit() && b.is_ascii_digit())
                    .then(|| ((a - b'0') * 10 + b - b'0') as i8)
            };
            let (hours, minutes) = (two(*h1, *h2).filter(|h| *h <= 23)?, two(*m1, *m2)?);
            let sign = if *sign == b'-' { -1 } else { 1 };
            UtcOffset::from_hms(sign * hours, sign * minutes, 0).ok()?
        }
        _ => return None,
    };
    let leap_second = second == Some(60);
    if leap_second {
        second = Some(59);
        nanosecond = 999_999_999;
    }
    let date =
        Date::from_calendar_date(i32::from(year), Month::try_from(month?).ok()?, day?).ok()?;
    let time = Time::from_hms_nano(hour?, minute?, second?, nanosecond).ok()?;
    let at = date.with_time(time).assume_offset(offset);
    if leap_second {
        // Only the last second of a month, in UTC, may be a leap second.
        let utc = at.checked_to_offset(UtcOffset::UTC)?;
        let last_of_month = utc.date().next_day().is_none_or(|next| next.day() == 1);
        if (utc.hour(), utc.minute(), utc.second()) != (23, 59, 59) || !last_of_month {
            return None;
        }
    }
    Some(at)
}

/// Writes `at` with `time`'s `Rfc3339` format.
pub fn serialize<S: Serializer>(at: &OffsetDateTime, serializer: S) -> Result<S::Ok, S::Error> {
    time::serde::rfc3339::serialize(at, serializer)
}

/// Reads an RFC 3339 string with [`parse`].
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<OffsetDateTime, D::Error> {
    deserializer.deserialize_str(Rfc3339Visitor)
}

/// An optional date and time: absent or `null` is `None`.
pub mod option {
    use super::*;

    /// Writes `at` with `time`'s `Rfc3339` format, `null` for `None`.
    pub fn serialize<S: Serializer>(
        at: &Option<OffsetDateTime>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        time::serde::rfc3339::option::serialize(at, serializer)
    }

    /// Reads `null` or an RFC 3339 string with [`parse`].
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<OffsetDateTime>, D::Error> {
        Ok(Option::<Stamp>::deserialize(deserializer)?.map(|Stamp(at)| at))
    }

    /// One date and time, for `Option`'s reader.
    struct Stamp(OffsetDateTime);

    impl<'de> Deserialize<'de> for Stamp {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            super::deserialize(deserializer).map(Stamp)
        }
    }
}

struct Rfc3339Visitor;

impl de::Visitor<'_> for Rfc3339Visitor {
    type Value = OffsetDateTime;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("an RFC3339-formatted `OffsetDateTime`")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<OffsetDateTime, E> {
        parse(text).ok_or_else(|| E::invalid_value(de::Unexpected::Str(text), &self))
    }
}

#[cfg(test)]
mod tests {
    use time::format_description::well_known::Rfc3339;

    use super::*;

    /// `time`'s reading of `text`: what [`parse`] must give.
    fn times(text: &str) -> Option<OffsetDateTime> {
        OffsetDateTime::parse(text, &Rfc3339).ok()
    }

    /// Every date and time `time` writes reads back as itself, and [`parse`] agrees with `time` on
    /// each of them.
    #[test]
    fn what_time_writes_reads_back() {
        let base = time::macros::datetime!(2024-02-28 21:30:05 UTC);
        let nanos = [0, 1, 10, 120_000_000, 123_456_789, 999_999_999];
        let offsets = [
            (0, 0),
            (1, 0),
            (-5, -30),
            (14, 0),
            (0, -30),
            (23, 59),
            (-23, -59),
        ];
        for day in 0..400 {
            for nano in nanos {
                for (hours, minutes) in offsets {
                    let offset = UtcOffset::from_hms(hours, minutes, 0).unwrap();
                    let at = (base + time::Duration::hours(day * 29 + 7))
                        .replace_nanosecond(nano)
                        .unwrap()
                        .to_offset(offset);
                    let text = at.format(&Rfc3339).unwrap();
                    assert_eq!(parse(&text), Some(at), "{text}");
                    assert_eq!(parse(&text), times(&text), "{text}");
                }
            }
        }
    }

    /// Whatever the text, [`parse`] reads it as `time` does, or refuses it as `time` does: every edit of
    /// a byte of some valid and nearly valid dates and times, every cut of them, and the edge cases by
    /// name (separators, case, long fractions, leap seconds, offsets out of range, months' lengths).
    #[test]
    fn it_reads_and_refuses_what_time_does() {
        let named = [
            "2024-11-25T16:00:00Z",
            "2024-11-25t16:00:00z",
            "2024-11-25 16:00:00Z",
            "2024-11-25_16:00:00Z",
            "2024-11-25é16:00:00Z",
            "2024-11-2516:00:00Z",
            "2024-11-25T16:00:00.Z",
            "2024-11-25T16:00:00.1Z",
            "2024-11-25T16:00:00.1234567891234Z",
            "2024-11-25T16:00:00.999999999999+01:00",
            "2024-11-25T16:00:00+00:00",
            "2024-11-25T16:00:00-00:00",
            "2024-11-25T16:00:00+24:00",
            "2024-11-25T16:00:00+23:60",
            "2024-11-25T16:00:00+23:59",
            "2024-11-25T16:00:00+1:00",
            "2024-11-25T16:00:00+0100",
            "2024-11-25T16:00:00",
            "2024-11-25T16:00:00ZZ",
            "2024-11-25T16:00:00Z ",
            " 2024-11-25T16:00:00Z",
            "2024-11-25T24:00:00Z",
            "2024-11-25T23:60:00Z",
            "2024-11-25T23:59:61Z",
            "2024-12-31T23:59:60Z",
            "2024-12-31T23:59:60.5Z",
            "2024-06-30T23:59:60Z",
            "2024-06-29T23:59:60Z",
            "2024-06-30T22:59:60Z",
            "2024-07-01T00:59:60+01:00",
            "2024-06-30T18:59:60-05:00",
            "2024-02-29T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2000-02-29T00:00:00Z",
            "1900-02-29T00:00:00Z",
            "2024-04-31T00:00:00Z",
            "2024-00-10T00:00:00Z",
            "2024-13-10T00:00:00Z",
            "2024-01-00T00:00:00Z",
            "0000-01-01T00:00:00Z",
            "9999-12-31T23:59:59.999999999Z",
            "9999-12-31T23:59:60Z",
            "+2024-11-25T16:00:00Z",
            "-2024-11-25T16:00:00Z",
            "2024-1-25T16:00:00Z",
            "2024/11/25T16:00:00Z",
            "2024-11-25T16-00:00Z",
            "",
            "Z",
        ];
        for text in named {
            assert_eq!(parse(text), times(text), "{text:?}");
        }
        let bytes = [
            b'0', b'1', b'2', b'5', b'6', b'9', b'-', b':', b'.', b'+', b'Z', b'z', b'T', b' ',
            b'x',
        ];
        for text in [
            "2024-11-25T16:00:00Z",
            "2024-12-31T23:59:60.123+05:30",
            "2000-02-29T09:09:09.9-09:09",
        ] {
            for at in 0..=text.len() {
                let cut = &text[..at];
                assert_eq!(parse(cut), times(cut), "{cut:?}");
                for byte in bytes {
                    let mut edited = text.as_bytes().to_vec();
                    if at < edited.len() {
                        edited[at] = byte;
                    } else {
                        edited.push(byte);
                    }
                    let edited = String::from_utf8(edited).unwrap();
                    assert_eq!(parse(&edited), times(&edited), "{edited:?}");
                    let mut inserted = text.as_bytes().to_vec();
                    inserted.insert(at, byte);
                    let inserted = String::from_utf8(inserted).unwrap();
                    assert_eq!(parse(&inserted), times(&inserted), "{inserted:?}");
                }
            }
        }
    }

    /// As a field: a string it reads, `null` or absence for an optional one, and anything else refused, as
    /// `time`'s serde helpers do.
    #[test]
    fn as_a_field_it_reads_as_times_helpers_do() {
        #[derive(Debug, PartialEq, serde::Deserialize)]
        struct Ours {
            #[serde(with = "crate::rfc3339")]
            at: OffsetDateTime,
            #[serde(default, with = "crate::rfc3339::option")]
            maybe: Option<OffsetDateTime>,
        }
        #[derive(Debug, PartialEq, serde::Deserialize)]
        struct Times {
            #[serde(with = "time::serde::rfc3339")]
            at: OffsetDateTime,
            #[serde(default, with = "time::serde::rfc3339::option")]
            maybe: Option<OffsetDateTime>,
        }
        for json in [
            r#"{"at":"2024-11-25T16:00:00Z"}"#,
            r#"{"at":"2024-11-25T16:00:00Z","maybe":null}"#,
            r#"{"at":"2024-11-25T16:00:00Z","maybe":"2024-11-25T17:00:00.5+01:00"}"#,
            r#"{"at":"2024-11-25T16:00:00Z","maybe":"2024-11-25"}"#,
            r#"{"at":"2024-11-25T16:00:00Z","maybe":5}"#,
            r#"{"at":"2024-11-25T16:00:00Z","maybe":[]}"#,
            r#"{"at":null}"#,
            r#"{"at":1732550400}"#,
            r#"{"at":"not a date"}"#,
            r#"{"maybe":"2024-11-25T16:00:00Z"}"#,
        ] {
            let ours = serde_json::from_str::<Ours>(json).map(|o| (o.at, o.maybe));
            let times = serde_json::from_str::<Times>(json).map(|t| (t.at, t.maybe));
            assert_eq!(ours.ok(), times.ok(), "{json}");
        }
    }
}
