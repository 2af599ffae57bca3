//! What text from people may carry onto everyone else's screen. Display names come from the identity
//! provider's profile, unchecked there, and are shown to a whole room; message bodies are typed by anyone in
//! it. Characters that reorder or hide text let one person pass for another (`"\u{202E}ecila"` renders as
//! `alice`, `"al\u{200B}ice"` looks like `alice` but is not), so:
//! - [`display_name`] cleans a claimed name (the verifier applies it to every ID token, whoever issued it);
//! - [`strip_bidi_overrides`] takes the explicit direction overrides, embeddings and isolates out of a body
//!   ([`crate::ClientFrame::parse`] applies it to every `send`).
//!
//! The rules are written out in `PROTOCOL.md` ("Names and bodies").

use crate::{ids::handle, limits::MAX_NAME_CHARS};

/// Explicit bidirectional embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069): they turn
/// the text after them around until the end of the paragraph, so what is shown is not what was written.
fn is_bidi_override(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Everything a display name loses: the bidi overrides, the implicit direction marks
/// (U+200E, U+200F, U+061C), characters that render as nothing or as blank (zero-width spaces and joiners,
/// the word joiner and invisible operators, the byte order mark, the soft hyphen, the combining grapheme
/// joiner, Hangul and Braille blanks, the Mongolian vowel separator, tag characters, interlinear annotation
/// and other format controls) and every control character.
fn is_hidden_in_names(c: char) -> bool {
    is_bidi_override(c)
        || c.is_control()
        || matches!(
            c,
            '\u{200E}' | '\u{200F}' | '\u{061C}'
                | '\u{200B}'..='\u{200D}'
                | '\u{2060}'..='\u{2064}'
                | '\u{206A}'..='\u{206F}'
                | '\u{FEFF}'
                | '\u{00AD}'
                | '\u{034F}'
                | '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}'
                | '\u{2800}'
                | '\u{17B4}' | '\u{17B5}'
                | '\u{180E}'
                | '\u{FFF9}'..='\u{FFFB}'
                | '\u{1BCA0}'..='\u{1BCA3}'
                | '\u{1D173}'..='\u{1D17A}'
                | '\u{E0000}'..='\u{E007F}'
        )
}

/// The name everyone sees for the person with id `user_id` who claims `claimed` (an ID token's `name`).
///
/// The claimed name loses every character [`is_hidden_in_names`] lists, has each run of whitespace
/// collapsed to one space, is trimmed, and is cut to [`MAX_NAME_CHARS`] characters (Unicode scalar values).
/// When nothing is left, or what is left contains an email address, the name is `Guest` and a short handle
/// derived from the id: the same for the same person every time, and saying nothing the id does not.
pub fn display_name(claimed: Option<&str>, user_id: &str) -> String {
    let visible: String = claimed
        .unwrap_or_default()
        .chars()
        .filter(|&c| c.is_whitespace() || !is_hidden_in_names(c))
        .collect();
    let collapsed = visible.split_whitespace().collect::<Vec<_>>().join(" ");
    let cut: String = collapsed.chars().take(MAX_NAME_CHARS).collect();
    let name = cut.trim_end();
    if name.is_empty() || contains_email(name) {
        guest_name(user_id)
    } else {
        name.to_owned()
    }
}

/// A message body without the bidi overrides (U+202A–U+202E, U+2066–U+2069). Everything else, the
/// implicit direction marks that right-to-left writing needs included, is kept.
pub fn strip_bidi_overrides(body: &str) -> String {
    body.chars().filter(|&c| !is_bidi_override(c)).collect()
}

/// Whether any word of `name` has the shape `local@domain.tld`; the full-width and small at signs count
/// as `@`, since they read as one.
fn contains_email(name: &str) -> bool {
    name.split_whitespace().any(|word| {
        let word = word.replace(['\u{FF20}', '\u{FE6B}'], "@");
        let Some((local, domain)) = word.rsplit_once('@') else {
            return false;
        };
        let labels: Vec<&str> = domain.split('.').collect();
        !local.is_empty() && labels.len() >= 2 && labels.iter().all(|label| !label.is_empty())
    })
}

/// `Guest` and the person's [`handle`] (the id itself is in every frame that carries the name).
fn guest_name(user_id: &str) -> String {
    format!("Guest {}", handle(user_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clean(name: &str) -> String {
        display_name(Some(name), "user-1")
    }

    /// A name with nothing to hide comes through as it is, whatever its script.
    #[test]
    fn ordinary_names_are_kept() {
        for name in [
            "Alice Liddell",
            "Zoë O'Brien-Łukasz",
            "محمد",
            "李小龙",
            "🦀 Ferris",
        ] {
            assert_eq!(clean(name), name);
        }
    }

    /// Explicit overrides, embeddings and isolates, and the implicit marks, are all removed from names:
    /// `"\u{202E}ecila"` would render as `alice`.
    #[test]
    fn names_lose_bidi_controls() {
        for c in ('\u{202A}'..='\u{202E}')
            .chain('\u{2066}'..='\u{2069}')
            .chain(['\u{200E}', '\u{200F}', '\u{061C}'])
        {
            assert_eq!(
                clean(&format!("{c}al{c}ice{c}")),
                "alice",
                "U+{:04X}",
                c as u32
            );
        }
        assert_eq!(clean("\u{202E}ecila"), "ecila");
    }

    /// Zero-width and otherwise invisible characters are removed, so two names that look the same are the
    /// same string.
    #[test]
    fn names_lose_invisible_characters() {
        for c in [
            '\u{200B}',
            '\u{200C}',
            '\u{200D}',
            '\u{2060}',
            '\u{2063}',
            '\u{FEFF}',
            '\u{00AD}',
            '\u{034F}',
            '\u{3164}',
            '\u{115F}',
            '\u{2800}',
            '\u{180E}',
            '\u{E0041}',
            '\u{1D173}',
        ] {
            assert_eq!(clean(&format!("al{c}ice")), "alice", "U+{:04X}", c as u32);
        }
    }

    /// Control characters go; whitespace of any kind (tabs, newlines, no-break and ideographic spaces, line
    /// separators) becomes one space between words and none at either end.
    #[test]
    fn control_characters_go_and_whitespace_collapses() {
        assert_eq!(clean("a\u{7}l\u{1B}[31mice\u{7F}\u{85}"), "al[31mice");
        assert_eq!(
            clean("  Ada\t\n\u{A0}\u{3000}\u{2028} Lovelace \r\n"),
            "Ada Lovelace"
        );
        assert_eq!(clean("Ada \u{200B} Lovelace"), "Ada Lovelace");
    }

    /// Names are cut to 64 characters (scalar values, never inside one), and a space left at the cut is
    /// trimmed.
    #[test]
    fn names_are_cut_to_64_characters() {
        assert_eq!(MAX_NAME_CHARS, 64);
        assert_eq!(clean(&"é".repeat(64)), "é".repeat(64));
        assert_eq!(clean(&"é".repeat(100)), "é".repeat(64));
        assert_eq!(clean(&"🦀".repeat(65)).chars().count(), 64);
        let space_at_the_cut = format!("{} tail", "x".repeat(63));
        assert_eq!(clean(&space_at_the_cut), "x".repeat(63));
        let hidden_before_the_cut = format!("{}{}", "\u{200B}".repeat(100), "y".repeat(64));
        assert_eq!(clean(&hidden_before_the_cut), "y".repeat(64));
    }

    /// No name, an empty one, one with nothing visible, and one that is or holds an email address all give
    /// the neutral name, which is the same for the same id and different for another.
    #[test]
    fn empty_names_and_emails_fall_back_to_a_guest_name() {
        let guest = display_name(None, "user-1");
        assert!(guest.starts_with("Guest "), "{guest}");
        assert_eq!(guest.len(), "Guest ".len() + 6);
        for name in [
            "",
            "   ",
            "\u{202E}\u{200B}\u{FEFF}",
            "alice@example.com",
            " alice.liddell+chat@mail.example.co.uk ",
            "Alice alice@example.com",
            "alice＠example.com",
            "al\u{200B}ice@exa\u{200B}mple.com",
        ] {
            assert_eq!(clean(name), guest, "{name:?}");
        }
        assert_eq!(display_name(None, "user-1"), guest, "stable");
        assert_ne!(display_name(None, "user-2"), guest, "per person");
        assert!(!guest.contains("user"), "the id is not spelled out");
    }

    /// An at sign alone does not make an address: handles and "at" names stay.
    #[test]
    fn at_signs_that_are_not_addresses_stay() {
        for name in ["@alice", "alice@", "Ada @ home", "a@b", "x@.com"] {
            assert_eq!(clean(name), name);
        }
    }

    /// Bodies lose only the explicit overrides, embeddings and isolates; the implicit marks right-to-left
    /// text needs, zero-width joiners in emoji and line breaks stay.
    #[test]
    fn bodies_lose_only_bidi_overrides() {
        for c in ('\u{202A}'..='\u{202E}').chain('\u{2066}'..='\u{2069}') {
            assert_eq!(
                strip_bidi_overrides(&format!("a{c}b")),
                "ab",
                "U+{:04X}",
                c as u32
            );
        }
        let kept = "שלום\u{200F} world 👩\u{200D}💻\nline two\u{200B}";
        assert_eq!(strip_bidi_overrides(kept), kept);
    }
}
