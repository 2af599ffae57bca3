//! Mentions: how a message names a person, finding those names in a body, and the composer's
//! autocomplete. Pure: tested natively.
//!
//! A mention is `@` and either a person's display name as the chat shows it (`@Ada Lovelace`, ASCII case
//! ignored) or their handle (`@3fa9c1`: [`protocol::handle`], six hex digits of their user id, shown
//! beside their name). It starts a word (`ada@example.com` names nobody) and the name ends one (`@Adam`
//! does not name Ada); where known names overlap (`Ada` and `Ada Lovelace`), the longest that fits wins.
//! Names are not unique, so `@Ada` names everyone called Ada, as saying "Ada" in a room would; the
//! autocomplete writes the handle instead when another person it knows shares the name (or the name
//! would not read back as one), so a pick from the list names exactly one person. Bodies stay plain
//! text: the convention needs nothing from the server, and a reader who knows nobody sees what was typed.

use std::ops::Range;

use protocol::{handle, User};

use crate::{
    display::lowercase,
    markup::{self, Span},
    state::RoomState,
};

/// At most this many people are suggested at once.
pub const MAX_SUGGESTIONS: usize = 8;

/// How far back from the caret an `@` still starts the mention being typed: the longest display name.
const MAX_QUERY_CHARS: usize = protocol::limits::MAX_NAME_CHARS;

/// Someone a mention can name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub name: String,
    pub handle: String,
}

impl Person {
    /// The person with display name `name` and user id `user_id`.
    pub fn new(name: &str, user_id: &str) -> Self {
        Self {
            name: name.to_owned(),
            handle: handle(user_id),
        }
    }
}

impl From<&User> for Person {
    fn from(user: &User) -> Self {
        Self::new(&user.name, &user.id)
    }
}

/// The people a body's mentions can name, as one reader sees them: the reader and the others known.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct People {
    reader: Option<Person>,
    /// Everyone known, the reader included.
    everyone: Vec<Person>,
}

impl People {
    /// The reader (none for nobody's view) and the others a body may name.
    pub fn new(reader: Option<Person>, others: impl IntoIterator<Item = Person>) -> Self {
        let everyone = reader.iter().cloned().chain(others).collect();
        Self { reader, everyone }
    }

    /// The people a message in `room` may name, as `me` (a user id) reads it: who is here now and who
    /// wrote what is shown. The reader's name is the one the server shows for them (in the room's
    /// presence, or on their messages); until either has arrived, only their handle names them.
    pub fn in_room(me: &str, room: &RoomState) -> Self {
        let known = || {
            room.members
                .iter()
                .chain(room.messages().map(|m| &m.author))
        };
        let reader = known()
            .find(|user| user.id == me)
            .map_or_else(|| Person::new("", me), Person::from);
        let mut people = Self::new(Some(reader), known().map(Person::from));
        // A run of messages by one author lists them once.
        people.everyone.dedup();
        people
    }

    /// Whether a message body names the reader (outside code and links), by name or handle.
    pub fn names_reader(&self, body: &str) -> bool {
        self.reader.is_some()
            && markup::parse(body, self)
                .iter()
                .any(|span| matches!(span, Span::Mention { you: true, .. }))
    }

    /// The mention at the start of `rest` (what follows an `@`): its length, and whether it names the
    /// reader. A name is tried before a handle, the longest first; either must end a word.
    fn named_at(&self, rest: &str) -> Option<(usize, bool)> {
        let fits = |word: &str| {
            rest.get(..word.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(word))
                && rest[word.len()..]
                    .chars()
                    .next()
                    .is_none_or(|c| !is_word(c))
        };
        let is_reader = |found: &Person| {
            self.reader.as_ref().is_some_and(|reader| {
                (!reader.name.is_empty()
                    && reader.name.len() == found.name.len()
                    && fits(&reader.name))
                    || (reader.handle == found.handle && fits(&reader.handle))
            })
        };
        let longest = self
            .everyone
            .iter()
            .filter(|p| !p.name.is_empty() && fits(&p.name))
            .max_by_key(|p| p.name.len());
        if let Some(person) = longest {
            return Some((person.name.len(), is_reader(person)));
        }
        self.everyone
            .iter()
            .find(|p| fits(&p.handle))
            .map(|person| (person.handle.len(), is_reader(person)))
    }
}

/// A mention in a body: where it is (the `@` included), and whether it names the reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub range: Range<usize>,
    pub you: bool,
}

/// The mentions of known people in `text[range]` (text without code or links), in order. Whether an
/// `@` starts a word looks at `text` before the range too. Each `@` tries every known person once, so
/// the cost is bounded by the `@`s times the people, whatever the body holds.
pub fn find(text: &str, range: Range<usize>, people: &People) -> Vec<Found> {
    let mut found = Vec::new();
    let mut from = range.start;
    while let Some(at) = text[from..range.end].find('@').map(|i| i + from) {
        from = at + 1;
        let starts_word = text[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !is_word(c) && c != '@');
        if !starts_word {
            continue;
        }
        if let Some((len, you)) = people.named_at(&text[at + 1..range.end]) {
            found.push(Found {
                range: at..at + 1 + len,
                you,
            });
            from = at + 1 + len;
        }
    }
    found
}

/// Letters, digits and `_` make words: a mention neither starts nor ends inside one.
fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The mention being typed in the composer: the `@` at byte `start`, and what follows it up to the caret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub start: usize,
    pub typed: String,
}

/// The mention being typed at byte `caret` of `text`, if any: the last `@` before the caret that starts
/// a word on the same line, at most a name's length back, not followed by a space.
pub fn query_at(text: &str, caret: usize) -> Option<Query> {
    let before = text.get(..caret)?;
    let start = before.rfind('@')?;
    let typed = &before[start + 1..];
    let starts_word = before[..start]
        .chars()
        .next_back()
        .is_none_or(|c| !is_word(c) && c != '@');
    let fits = typed.chars().count() <= MAX_QUERY_CHARS
        && !typed.contains('\n')
        && !typed.starts_with(char::is_whitespace);
    (starts_word && fits).then(|| Query {
        start,
        typed: typed.to_owned(),
    })
}

/// The members to offer for what was typed after the `@`, ignoring case: those whose name starts with
/// it first, then those with a later word of their name or their handle starting with it, each in the
/// members' order (presence lists them by name); never `me`, at most [`MAX_SUGGESTIONS`].
pub fn suggest(typed: &str, members: &[User], me: &str) -> Vec<User> {
    let typed = lowercase(typed);
    let others = || members.iter().filter(|user| user.id != me);
    let name_starts = |user: &User| lowercase(&user.name).starts_with(&typed);
    let other_starts = |user: &User| {
        lowercase(&user.name)
            .split_whitespace()
            .any(|word| word.starts_with(&typed))
            || handle(&user.id).starts_with(&typed)
    };
    others()
        .filter(|user| name_starts(user))
        .chain(others().filter(|user| !name_starts(user) && other_starts(user)))
        .take(MAX_SUGGESTIONS)
        .cloned()
        .collect()
}

/// What the autocomplete offers: the people listed and which of them is selected.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Suggestions {
    pub people: Vec<User>,
    pub selected: usize,
}

impl Suggestions {
    /// `people` listed, keeping the selection if the list is the one shown already (`self`).
    pub fn update(&self, people: Vec<User>) -> Self {
        let selected = if people == self.people {
            self.selected
        } else {
            0
        };
        Self { people, selected }
    }

    /// Moves the selection `down` (or up) by one, wrapping around.
    pub fn step(&mut self, down: bool) {
        let count = self.people.len().max(1);
        self.selected = (self.selected + if down { 1 } else { count - 1 }) % count;
    }

    /// The person selected, if any is listed.
    pub fn chosen(&self) -> Option<&User> {
        self.people.get(self.selected)
    }
}

/// How the autocomplete writes a mention of `pick`: `@Name`, or `@handle` when someone else in `people`
/// has the same name (as mentions compare names) or the name holds what formatting would take apart
/// (a backtick, an address).
pub fn mention_of(pick: &User, people: &[User]) -> String {
    let shared = people
        .iter()
        .any(|p| p.id != pick.id && p.name.eq_ignore_ascii_case(&pick.name));
    if shared || pick.name.contains('`') || pick.name.contains("://") {
        format!("@{}", handle(&pick.id))
    } else {
        format!("@{}", pick.name)
    }
}

/// `text` with the query (from its `@` to byte `caret`) replaced by a mention of `pick` and a space
/// (unless a space follows already): the new text, and the caret after the mention.
pub fn complete(
    text: &str,
    query: &Query,
    caret: usize,
    pick: &User,
    people: &[User],
) -> (String, usize) {
    let rest = &text[caret..];
    let mut mention = mention_of(pick, people);
    if !rest.starts_with(char::is_whitespace) {
        mention.push(' ');
    }
    let caret = query.start + mention.len() + usize::from(rest.starts_with(' '));
    (format!("{}{mention}{rest}", &text[..query.start]), caret)
}

/// The byte offset of UTF-16 offset `units` in `text` (a textarea's `selectionStart` counts UTF-16
/// units); past the end, the end.
pub fn byte_offset(text: &str, units: u32) -> usize {
    let mut counted = 0;
    for (at, c) in text.char_indices() {
        if counted >= units as usize {
            return at;
        }
        counted += c.len_utf16();
    }
    text.len()
}

/// The UTF-16 offset of byte `at` in `text`, for putting a textarea's caret there.
pub fn utf16_offset(text: &str, at: usize) -> u32 {
    text[..at].encode_utf16().count() as u32
}

#[cfg(test)]
mod tests {
    use protocol::ServerFrame;

    use super::*;
    use crate::state::ChatState;

    fn user(id: &str, name: &str) -> User {
        User {
            id: id.into(),
            name: name.into(),
            picture: None,
        }
    }

    fn people(reader: Option<&User>, others: &[User]) -> People {
        People::new(reader.map(Person::from), others.iter().map(Person::from))
    }

    /// The mentions `people` finds in `text`, as (mention, names the reader).
    fn mentions<'a>(text: &'a str, people: &People) -> Vec<(&'a str, bool)> {
        find(text, 0..text.len(), people)
            .into_iter()
            .map(|f| (&text[f.range], f.you))
            .collect()
    }

    #[test]
    fn a_name_or_handle_after_an_at_is_a_mention_ignoring_ascii_case() {
        let ada = user("ada-id", "Ada Lovelace");
        let grace = user("grace-id", "Grace");
        let known = people(Some(&ada), std::slice::from_ref(&grace));
        let ada_handle = format!("@{}", handle("ada-id"));
        let text = format!("hi @ada lovelace, @Grace and {ada_handle}!");
        assert_eq!(
            mentions(&text, &known),
            [
                ("@ada lovelace", true),
                ("@Grace", false),
                (ada_handle.as_str(), true)
            ]
        );
        let grace_handle = format!("(@{})", handle("grace-id").to_uppercase());
        assert_eq!(
            mentions(&grace_handle, &known),
            [(&grace_handle[1..grace_handle.len() - 1], false)]
        );
    }

    #[test]
    fn a_mention_starts_and_ends_a_word() {
        let known = people(Some(&user("a", "Ada")), &[]);
        for text in [
            "ada@example.com",
            "@Adam",
            "@Ada_x",
            "@@Ada",
            "@ Ada",
            "@Ad",
            "a@Ada",
        ] {
            assert!(mentions(text, &known).is_empty(), "{text}");
        }
        for text in ["@Ada", "@Ada's", "(@Ada)", "**@Ada**", "@Ada,@Ada"] {
            assert!(!mentions(text, &known).is_empty(), "{text}");
        }
        assert_eq!(
            mentions("é@Ada @Adaé", &known),
            [],
            "letters beyond ASCII too"
        );
    }

    /// Two people called Ada are both named by `@Ada`; `Ada Lovelace` is named by her whole name only,
    /// which is not a mention of an `Ada` reading it.
    #[test]
    fn the_longest_known_name_wins_and_shared_names_name_everyone() {
        let me = user("me", "Ada");
        let other_ada = user("other", "ada");
        let lovelace = user("lovelace", "Ada Lovelace");
        let known = people(Some(&me), &[other_ada, lovelace]);
        assert_eq!(
            mentions("@Ada Lovelace", &known),
            [("@Ada Lovelace", false)]
        );
        assert_eq!(mentions("@Ada Byron", &known), [("@Ada", true)]);
        assert_eq!(mentions("@ADA", &known), [("@ADA", true)]);
        let lovelace_reads = people(Some(&user("lovelace", "Ada Lovelace")), &[me]);
        assert_eq!(mentions("@Ada hi", &lovelace_reads), [("@Ada", false)]);
    }

    /// A handle names one person: the reader is named by theirs, not by another's.
    #[test]
    fn handles_tell_people_with_one_name_apart() {
        let me = user("me", "Ada");
        let other = user("other", "Ada");
        let known = people(Some(&me), std::slice::from_ref(&other));
        let theirs = format!("@{} hi", handle("other"));
        assert_eq!(mentions(&theirs, &known), [(&theirs[..7], false)]);
        assert_eq!(
            mentions(&format!("@{}x", handle("me")), &known),
            [],
            "a handle ends a word too"
        );
        assert_eq!(
            mentions("@3fa9c1", &known),
            [],
            "unknown handles name nobody"
        );
    }

    /// Whether a message names its reader looks at the formatted text: not inside code, not in links.
    #[test]
    fn mentions_in_code_or_links_name_nobody() {
        let me = user("me", "Ada");
        let known = people(Some(&me), &[]);
        assert!(known.names_reader("thanks **@Ada**!"));
        for body in ["`@Ada`", "```\n@Ada\n```", "https://x.org/@Ada", "Ada"] {
            assert!(!known.names_reader(body), "{body}");
        }
        assert!(!People::default().names_reader("@Ada"));
    }

    /// Hostile bodies stay cheap: each `@` tries each known person once.
    #[test]
    fn many_ats_and_many_people_stay_bounded() {
        let crowd: Vec<User> = (0..1_000)
            .map(|i| user(&format!("u{i}"), &format!("Person {i}")))
            .collect();
        let known = people(Some(&user("me", "Ada")), &crowd);
        let body = "@ ".repeat(protocol::limits::MAX_BODY_CHARS / 2);
        assert!(mentions(&body, &known).is_empty());
        let body = "@Person 999 ".repeat(300);
        assert_eq!(mentions(&body, &known).len(), 300);
    }

    /// In a room, the reader is named by the name the server shows for them (their presence); before
    /// it arrives, by their handle alone.
    #[test]
    fn in_a_room_the_reader_is_named_as_the_server_shows_them() {
        let general = protocol::RoomName::new("general").unwrap();
        let mut state = ChatState::new("ada-id", []);
        state.join(&general);
        let known = |s: &ChatState| People::in_room("ada-id", s.room(&general).unwrap());
        let by_handle = format!("@{} hi", handle("ada-id"));
        assert!(!known(&state).names_reader("@Ada hi"));
        assert!(known(&state).names_reader(&by_handle));
        let members = vec![user("ada-id", "Ada"), user("g", "Grace")];
        state.apply(
            &ServerFrame::Presence {
                room: general.clone(),
                members,
                rev: 0,
            },
            0.0,
        );
        assert!(known(&state).names_reader("@Ada hi"));
        assert!(known(&state).names_reader(&by_handle));
        assert!(!known(&state).names_reader("@Grace hi"));
    }

    #[test]
    fn the_query_is_the_at_being_typed_on_this_line() {
        let q = |text: &str| query_at(text, text.len()).map(|q| (q.start, q.typed));
        assert_eq!(q("hi @Ad"), Some((3, "Ad".into())));
        assert_eq!(q("@"), Some((0, String::new())));
        assert_eq!(
            q("hi @Ada Lo"),
            Some((3, "Ada Lo".into())),
            "names have spaces"
        );
        assert_eq!(q("mail ada@ex"), None);
        assert_eq!(q("@ "), None);
        assert_eq!(q("@Ada\nhi"), None);
        assert_eq!(q(&format!("@{}", "a".repeat(MAX_QUERY_CHARS + 1))), None);
        assert_eq!(query_at("@Ad rest", 3).map(|q| q.typed), Some("Ad".into()));
        assert_eq!(query_at("é", 1), None, "a caret inside a character");
    }

    #[test]
    fn suggestions_put_name_prefixes_first_and_never_me() {
        let members = [
            user("2", "ada"),
            user("me", "Adam"),
            user("4", "Adele"),
            user("3", "Grace"),
            user("1", "Zed Adams"),
        ];
        let names = |typed: &str| -> Vec<String> {
            suggest(typed, &members, "me")
                .into_iter()
                .map(|u| u.name)
                .collect()
        };
        assert_eq!(names("Ad"), ["ada", "Adele", "Zed Adams"]);
        assert_eq!(names(""), ["ada", "Adele", "Grace", "Zed Adams"]);
        assert_eq!(names(&handle("3")), ["Grace"]);
        assert!(names("x").is_empty());
        let crowd: Vec<User> = (0..20)
            .map(|i| user(&i.to_string(), &format!("a{i}")))
            .collect();
        assert_eq!(suggest("a", &crowd, "me").len(), MAX_SUGGESTIONS);
    }

    /// The selection wraps around both ways and stays on its person while the same list is shown.
    #[test]
    fn the_selection_wraps_and_survives_the_same_list() {
        let people = vec![user("a", "A"), user("b", "B"), user("c", "C")];
        let mut list = Suggestions::default().update(people.clone());
        assert_eq!(list.chosen().map(|u| u.id.as_str()), Some("a"));
        list.step(false);
        assert_eq!(list.chosen().map(|u| u.id.as_str()), Some("c"));
        list.step(true);
        list.step(true);
        assert_eq!(list.selected, 1);
        assert_eq!(list.update(people.clone()).selected, 1, "the same list");
        assert_eq!(
            list.update(people[..2].to_vec()).selected,
            0,
            "another list"
        );
        let mut empty = Suggestions::default();
        empty.step(true);
        assert_eq!(empty.chosen(), None);
    }

    /// A pick becomes `@Name ` with the caret after it, or the handle when the name is shared.
    #[test]
    fn completing_writes_the_name_or_the_handle_when_the_name_is_shared() {
        let ada = user("ada", "Ada Lovelace");
        let grace = user("grace", "Grace");
        let room = [ada.clone(), grace.clone()];
        let text = "hi @Ad";
        let query = query_at(text, text.len()).unwrap();
        let (done, caret) = complete(text, &query, text.len(), &ada, &room);
        assert_eq!(done, "hi @Ada Lovelace ");
        assert_eq!(caret, done.len());

        let text = "@gr and more";
        let query = query_at(text, 3).unwrap();
        let (done, caret) = complete(text, &query, 3, &grace, &room);
        assert_eq!(done, "@Grace and more");
        assert_eq!(&done[caret..], "and more");

        let twin = user("twin", "ada lovelace");
        let (done, _) = complete(
            "@a",
            &query_at("@a", 2).unwrap(),
            2,
            &ada,
            &[ada.clone(), twin],
        );
        assert_eq!(done, format!("@{} ", handle("ada")));
        let odd = user("odd", "x`y");
        assert_eq!(mention_of(&odd, &[]), format!("@{}", handle("odd")));
    }

    /// What autocomplete writes is what mention finding reads back, for the person picked.
    #[test]
    fn a_completed_mention_names_the_person_picked() {
        let ada = user("ada", "Ada");
        let twin = user("twin", "Ada");
        let room = [ada.clone(), twin.clone()];
        for (pick, reader) in [(&ada, &ada), (&twin, &twin)] {
            let (body, _) = complete("@A", &query_at("@A", 2).unwrap(), 2, pick, &room);
            let other = if reader.id == ada.id { &twin } else { &ada };
            assert!(mentions(&body, &people(Some(reader), std::slice::from_ref(other)))[0].1);
            assert!(!mentions(&body, &people(Some(other), std::slice::from_ref(reader)))[0].1);
        }
    }

    #[test]
    fn textarea_offsets_count_utf16_units() {
        let text = "a😀é@b";
        assert_eq!(byte_offset(text, 0), 0);
        assert_eq!(
            byte_offset(text, 3),
            5,
            "the emoji is two units, four bytes"
        );
        assert_eq!(byte_offset(text, 4), 7);
        assert_eq!(byte_offset(text, 99), text.len());
        for at in [0, 1, 5, 7, 8, text.len()] {
            assert_eq!(byte_offset(text, utf16_offset(text, at)), at);
        }
    }
}
