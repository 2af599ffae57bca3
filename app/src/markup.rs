//! Message formatting: cuts a message body into [`Span`]s — plain text, inline code, fenced code
//! blocks, `http(s)` links and mentions of people, each marked bold and/or italic — which the message
//! list turns into elements (never HTML: every piece of the body ends up in a text node or an `href`).
//!
//! The syntax is the common chat subset of Markdown:
//! - ```` ```code block``` ```` (a first line that is one word, like `rust`, names the language and is
//!   dropped), then `` `inline code` `` between two lone backticks: nothing inside code is formatted;
//! - `**bold**`, `*italic*`, `***both***`: a marker opens before a non-space and closes after one; a run
//!   of more than three asterisks, or a marker left unclosed, stays text;
//! - `http://` and `https://` addresses starting a word become links; no other scheme does
//!   (`javascript:` and `data:` stay text), and trailing punctuation stays text ("see https://x.org.");
//! - `@Name` and `@handle` of a person the reader knows are mentions ([`crate::mention`]), outside code
//!   and links, found before emphasis so a name's own asterisks stay in it.
//!
//! Every pass moves forward only, so a body is parsed in time linear in its length whatever it holds
//! (32 KB of asterisks or backticks included). Pure: tested natively.

use std::ops::Range;

use crate::mention::{self, People};

/// Bold and italic, as the surrounding markers left them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Emphasis {
    pub bold: bool,
    pub italic: bool,
}

/// A piece of a message body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Span {
    Text(String, Emphasis),
    /// `` `inline code` ``.
    Code(String, Emphasis),
    /// An `http://` or `https://` address, safe to put in an `href`.
    Link(String, Emphasis),
    /// A fenced ```` ``` ```` block, shown on its own lines.
    CodeBlock(String),
    /// `@Name` or `@handle` as written, naming one of `people`; `you` when it names the reader.
    Mention {
        text: String,
        emphasis: Emphasis,
        you: bool,
    },
}

/// Cuts a message body into spans, in order, finding mentions of `people`. Adjacent text with the same
/// emphasis is one span.
pub fn parse(body: &str, people: &People) -> Vec<Span> {
    let mut out = Vec::new();
    for (piece, is_block) in code_blocks(body) {
        if is_block {
            out.push(Span::CodeBlock(piece.to_owned()));
        } else {
            inline(piece, people, &mut out);
        }
    }
    out
}

const FENCE: &str = "```";

/// Splits off fenced code blocks: `(text, false)` and `(code, true)` in order. Fences pair up in order;
/// an odd last fence, or a pair around nothing, stays text. The line break next to a fence goes with it.
fn code_blocks(body: &str) -> Vec<(&str, bool)> {
    let mut out = Vec::new();
    let mut text_from = 0;
    let mut search_from = 0;
    while let Some(open) = body[search_from..].find(FENCE).map(|i| i + search_from) {
        let content_from = open + FENCE.len();
        let Some(close) = body[content_from..].find(FENCE).map(|i| i + content_from) else {
            break;
        };
        let code = block_content(&body[content_from..close]);
        if code.trim().is_empty() {
            search_from = close + FENCE.len();
            continue;
        }
        let before = &body[text_from..open];
        let before = before.strip_suffix('\n').unwrap_or(before);
        if !before.is_empty() {
            out.push((before, false));
        }
        out.push((code, true));
        text_from = close + FENCE.len();
        if body[text_from..].starts_with('\n') {
            text_from += 1;
        }
        search_from = text_from;
    }
    if text_from < body.len() {
        out.push((&body[text_from..], false));
    }
    out
}

/// What a code block shows: without a first line naming the language (or left empty) and without the
/// line break before the closing fence.
fn block_content(raw: &str) -> &str {
    let raw = match raw.split_once('\n') {
        Some((first, rest))
            if first
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '#' | '-' | '_' | '.')) =>
        {
            rest
        }
        _ => raw,
    };
    raw.strip_suffix('\n').unwrap_or(raw)
}

/// One step of inline text before emphasis is resolved.
#[derive(Debug)]
enum Token<'a> {
    Text(&'a str),
    Code(&'a str),
    Link(&'a str),
    Mention(&'a str, bool),
    /// A run of one to three asterisks that may open or close emphasis.
    Marker(Marker<'a>),
}

#[derive(Debug)]
struct Marker<'a> {
    text: &'a str,
    /// What the run stands for: `*` italic, `**` bold, `***` both.
    kind: Emphasis,
    can_open: bool,
    can_close: bool,
    /// The kinds paired with another marker (set when the pair closes); the rest of the run is text.
    paired: Emphasis,
}

/// Formats text outside code blocks: inline code, then links and mentions, then emphasis, appended to
/// `out`.
fn inline(text: &str, people: &People, out: &mut Vec<Span>) {
    let mut tokens = Vec::new();
    let mut from = 0;
    while let Some(open) = single_backtick(text, from) {
        let Some(close) = single_backtick(text, open + 1) else {
            break;
        };
        plain(text, from..open, people, &mut tokens);
        tokens.push(Token::Code(&text[open + 1..close]));
        from = close + 1;
    }
    plain(text, from..text.len(), people, &mut tokens);
    pair_markers(&mut tokens);
    spans(tokens, out);
}

/// Where the next lone backtick at or after `from` is: inline code is between two of them. Longer runs
/// (` `` `, an unpaired ```` ``` ````) are text, and code may hold them.
fn single_backtick(text: &str, mut from: usize) -> Option<usize> {
    while let Some(start) = text[from..].find('`').map(|i| i + from) {
        let len = text[start..].bytes().take_while(|&b| b == b'`').count();
        if len == 1 {
            return Some(start);
        }
        from = start + len;
    }
    None
}

/// Cuts `text[range]` (no code in it) into text, links, mentions and asterisk markers.
fn plain<'a>(text: &'a str, range: Range<usize>, people: &People, tokens: &mut Vec<Token<'a>>) {
    let mut from = range.start;
    while let Some(start) = find_link_start(&text[from..range.end]).map(|i| i + from) {
        let tail = &text[start..range.end];
        let word = &tail[..tail.find(char::is_whitespace).unwrap_or(tail.len())];
        let link = word.trim_end_matches(['.', ',', ';', ':', '!', '?', ')', '"', '\'', '*']);
        let scheme_len = if link.starts_with("https://") { 8 } else { 7 };
        if link.len() <= scheme_len {
            // "https://" alone: text.
            mentions(text, from..start + word.len(), people, tokens);
            from = start + word.len();
        } else {
            mentions(text, from..start, people, tokens);
            tokens.push(Token::Link(link));
            from = start + link.len();
        }
    }
    mentions(text, from..range.end, people, tokens);
}

/// Cuts `text[range]` (no code, no links) into mentions of `people`, and text and asterisk runs.
fn mentions<'a>(text: &'a str, range: Range<usize>, people: &People, tokens: &mut Vec<Token<'a>>) {
    let mut from = range.start;
    for found in mention::find(text, range.clone(), people) {
        emphasis(text, from..found.range.start, tokens);
        from = found.range.end;
        tokens.push(Token::Mention(&text[found.range], found.you));
    }
    emphasis(text, from..range.end, tokens);
}

/// Where the next `http://` or `https://` starting a word begins.
fn find_link_start(text: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(found) = text[from..].find("http").map(|i| i + from) {
        let at_word_start = text[..found]
            .chars()
            .next_back()
            .is_none_or(|c| c.is_whitespace() || matches!(c, '(' | '"' | '\'' | '*'));
        let tail = &text[found..];
        if at_word_start && (tail.starts_with("http://") || tail.starts_with("https://")) {
            return Some(found);
        }
        from = found + 4;
    }
    None
}

/// Cuts `text[range]` (no code, no links) into text and asterisk runs. Whether a run may open or close
/// looks at its neighbours in all of `text`, so a run next to code or a link sees a non-space.
fn emphasis<'a>(text: &'a str, range: Range<usize>, tokens: &mut Vec<Token<'a>>) {
    let mut text_from = range.start;
    let mut from = range.start;
    while let Some(start) = text[from..range.end].find('*').map(|i| i + from) {
        let len = text[start..range.end]
            .bytes()
            .take_while(|&b| b == b'*')
            .count();
        let end = start + len;
        from = end;
        if len > 3 {
            continue;
        }
        if text_from < start {
            tokens.push(Token::Text(&text[text_from..start]));
        }
        let before = text[..start].chars().next_back();
        let after = text[end..].chars().next();
        tokens.push(Token::Marker(Marker {
            text: &text[start..end],
            kind: Emphasis {
                bold: len >= 2,
                italic: len != 2,
            },
            can_open: after.is_some_and(|c| !c.is_whitespace()),
            can_close: before.is_some_and(|c| !c.is_whitespace()),
            paired: Emphasis::default(),
        }));
        text_from = end;
    }
    if text_from < range.end {
        tokens.push(Token::Text(&text[text_from..range.end]));
    }
}

/// Pairs markers left to right: a marker that can close ends the open emphasis of its kinds, one that
/// can open starts it (a later opener replaces an earlier unclosed one, which stays text). Bold and
/// italic are tracked apart, so they may nest or cross; the spans are flat either way.
fn pair_markers(tokens: &mut [Token<'_>]) {
    let mut open_bold: Option<usize> = None;
    let mut open_italic: Option<usize> = None;
    for i in 0..tokens.len() {
        let Token::Marker(marker) = &tokens[i] else {
            continue;
        };
        let (kind, can_open, can_close) = (marker.kind, marker.can_open, marker.can_close);
        let closing = Emphasis {
            bold: can_close && kind.bold && open_bold.is_some(),
            italic: can_close && kind.italic && open_italic.is_some(),
        };
        if closing != Emphasis::default() {
            if closing.bold {
                pair(tokens, open_bold.take(), i, |e| &mut e.bold);
            }
            if closing.italic {
                pair(tokens, open_italic.take(), i, |e| &mut e.italic);
            }
        } else if can_open {
            if kind.bold {
                open_bold = Some(i);
            }
            if kind.italic {
                open_italic = Some(i);
            }
        }
    }
}

/// Marks the opener at `open` and the closer at `close` as paired for one kind of emphasis.
fn pair(
    tokens: &mut [Token<'_>],
    open: Option<usize>,
    close: usize,
    kind: fn(&mut Emphasis) -> &mut bool,
) {
    for at in open.into_iter().chain([close]) {
        if let Token::Marker(marker) = &mut tokens[at] {
            *kind(&mut marker.paired) = true;
        }
    }
}

/// Turns paired markers into emphasis on what lies between them (the unpaired part of a run stays
/// text), merging adjacent text.
fn spans(tokens: Vec<Token<'_>>, out: &mut Vec<Span>) {
    let mut emphasis = Emphasis::default();
    for token in tokens {
        match token {
            Token::Marker(Marker { text, paired, .. }) => {
                // A run's paired asterisks are markup: one for italic, two for bold.
                let markup = usize::from(paired.bold) * 2 + usize::from(paired.italic);
                push_text(&text[markup..], emphasis, out);
                emphasis.bold ^= paired.bold;
                emphasis.italic ^= paired.italic;
            }
            Token::Text(text) => push_text(text, emphasis, out),
            Token::Code(code) => out.push(Span::Code(code.to_owned(), emphasis)),
            Token::Link(url) => out.push(Span::Link(url.to_owned(), emphasis)),
            Token::Mention(text, you) => out.push(Span::Mention {
                text: text.to_owned(),
                emphasis,
                you,
            }),
        }
    }
}

fn push_text(text: &str, emphasis: Emphasis, out: &mut Vec<Span>) {
    match out.last_mut() {
        Some(Span::Text(last, last_emphasis)) if *last_emphasis == emphasis => last.push_str(text),
        _ if text.is_empty() => {}
        _ => out.push(Span::Text(text.to_owned(), emphasis)),
    }
}

#[cfg(test)]
mod tests {
    use protocol::limits::{MAX_BODY_CHARS, MAX_FRAME_BYTES};

    use super::*;
    use crate::mention::Person;

    /// Formatting alone, with nobody known to mention.
    fn parse(body: &str) -> Vec<Span> {
        super::parse(body, &People::default())
    }

    const PLAIN: Emphasis = Emphasis {
        bold: false,
        italic: false,
    };
    const BOLD: Emphasis = Emphasis {
        bold: true,
        italic: false,
    };
    const ITALIC: Emphasis = Emphasis {
        bold: false,
        italic: true,
    };
    const BOTH: Emphasis = Emphasis {
        bold: true,
        italic: true,
    };

    fn text(s: &str, emphasis: Emphasis) -> Span {
        Span::Text(s.into(), emphasis)
    }

    /// The body as the reader sees it: every span's visible text, concatenated.
    fn shown(spans: &[Span]) -> String {
        spans
            .iter()
            .map(|span| match span {
                Span::Text(s, _)
                | Span::Code(s, _)
                | Span::Link(s, _)
                | Span::CodeBlock(s)
                | Span::Mention { text: s, .. } => s.as_str(),
            })
            .collect()
    }

    #[test]
    fn bold_italic_and_both() {
        assert_eq!(
            parse("a **b** *c* ***d*** e"),
            vec![
                text("a ", PLAIN),
                text("b", BOLD),
                text(" ", PLAIN),
                text("c", ITALIC),
                text(" ", PLAIN),
                text("d", BOTH),
                text(" e", PLAIN),
            ]
        );
        assert_eq!(
            parse("**bold *and italic* inside**"),
            vec![
                text("bold ", BOLD),
                text("and italic", BOTH),
                text(" inside", BOLD),
            ]
        );
    }

    #[test]
    fn markers_that_open_or_close_nothing_stay_text() {
        for body in [
            "2 * 3 * 4",
            "**not closed",
            "not opened**",
            "* list item",
            "** spaced **",
            "****",
            "a ****b**** c",
        ] {
            assert_eq!(parse(body), vec![text(body, PLAIN)], "{body}");
        }
        assert_eq!(
            parse("*a **b*"),
            vec![text("a **b", ITALIC)],
            "an unclosed bold inside italic is text"
        );
        assert_eq!(
            parse("***a** b"),
            vec![text("*", PLAIN), text("a", BOLD), text(" b", PLAIN)],
            "the unpaired asterisk of a run stays"
        );
    }

    #[test]
    fn crossed_markers_still_make_flat_spans() {
        assert_eq!(
            parse("*a **b* c**"),
            vec![text("a ", ITALIC), text("b", BOTH), text(" c", BOLD)]
        );
    }

    #[test]
    fn inline_code_is_literal() {
        assert_eq!(
            parse("run `cargo *test* ``x`` y` now"),
            vec![
                text("run ", PLAIN),
                Span::Code("cargo *test* ``x`` y".into(), PLAIN),
                text(" now", PLAIN),
            ]
        );
        assert_eq!(
            parse("**`x`**"),
            vec![Span::Code("x".into(), BOLD)],
            "markers next to code see a non-space"
        );
        for body in [
            "empty `` pair",
            "one ` tick",
            "``` unclosed fence `then a tick",
        ] {
            assert_eq!(parse(body), vec![text(body, PLAIN)], "{body}");
        }
    }

    #[test]
    fn fenced_blocks_keep_their_lines_and_drop_the_language() {
        assert_eq!(
            parse("look:\n```rust\nfn main() {\n    *x* `y`\n}\n```\nok?"),
            vec![
                text("look:", PLAIN),
                Span::CodeBlock("fn main() {\n    *x* `y`\n}".into()),
                text("ok?", PLAIN),
            ]
        );
        assert_eq!(
            parse("```one line```"),
            vec![Span::CodeBlock("one line".into())]
        );
        assert_eq!(parse("``` unclosed"), vec![text("``` unclosed", PLAIN)]);
        assert_eq!(parse("``````"), vec![text("``````", PLAIN)]);
    }

    #[test]
    fn only_http_addresses_become_links() {
        assert_eq!(
            parse("see https://example.com/a?b=1. and http://x.org"),
            vec![
                text("see ", PLAIN),
                Span::Link("https://example.com/a?b=1".into(), PLAIN),
                text(". and ", PLAIN),
                Span::Link("http://x.org".into(), PLAIN),
            ]
        );
        for body in [
            "javascript:alert(1) <script>x</script>",
            "data:text/html,<b>x</b>",
            "xhttps://a.b",
            "https:// nothing",
            "[x](javascript:alert(1))",
        ] {
            assert_eq!(parse(body), vec![text(body, PLAIN)], "{body}");
        }
        assert_eq!(
            parse("(https://a.b)"),
            vec![
                text("(", PLAIN),
                Span::Link("https://a.b".into(), PLAIN),
                text(")", PLAIN),
            ]
        );
        assert_eq!(
            parse("**https://a.b/x_y**"),
            vec![Span::Link("https://a.b/x_y".into(), BOLD)]
        );
        assert_eq!(
            parse("`https://a.b`"),
            vec![Span::Code("https://a.b".into(), PLAIN)],
            "no link inside code"
        );
        assert!(parse("").is_empty());
    }

    /// HTML in a body is text: the markers go, every other character shows as typed; a mention of a
    /// person whose name looks like HTML is text too.
    #[test]
    fn html_is_text() {
        let body = "<img src=x onerror=alert(1)> **<b>hi</b>** &amp;";
        assert_eq!(
            shown(&parse(body)),
            "<img src=x onerror=alert(1)> <b>hi</b> &amp;"
        );
        let people = People::new(None, [Person::new("<b onclick=x>", "b")]);
        let body = "@<b onclick=x> hi";
        let spans = super::parse(body, &people);
        assert_eq!(shown(&spans), body);
        assert!(matches!(&spans[0], Span::Mention { text, .. } if text == "@<b onclick=x>"));
    }

    /// Mentions of people the reader knows are spans of their own, emphasised like the text around
    /// them, never inside code or links; a name's asterisks stay in the name.
    #[test]
    fn mentions_are_spans_outside_code_and_links() {
        let people = People::new(
            Some(Person::new("Ada", "ada")),
            [Person::new("Gr*ce", "grace")],
        );
        assert_eq!(
            super::parse(
                "hi **@Ada** and @Gr*ce `@Ada` https://x.org/@Ada @Bob",
                &people
            ),
            vec![
                text("hi ", PLAIN),
                Span::Mention {
                    text: "@Ada".into(),
                    emphasis: BOLD,
                    you: true
                },
                text(" and ", PLAIN),
                Span::Mention {
                    text: "@Gr*ce".into(),
                    emphasis: PLAIN,
                    you: false
                },
                text(" ", PLAIN),
                Span::Code("@Ada".into(), PLAIN),
                text(" ", PLAIN),
                Span::Link("https://x.org/@Ada".into(), PLAIN),
                text(" @Bob", PLAIN),
            ]
        );
    }

    /// Hostile bodies far past the protocol's limits: each finishes (every pass is linear) and shows
    /// all of its text.
    #[test]
    fn hostile_bodies_parse_in_one_pass() {
        let huge = MAX_FRAME_BYTES;
        let bodies = [
            "*".repeat(huge),
            "*a".repeat(huge / 2),
            "**a ".repeat(huge / 4),
            "a* ".repeat(huge / 3),
            "`".repeat(huge),
            "```".repeat(huge / 3),
            "``` `".repeat(huge / 5),
            "http".repeat(huge / 4),
            "https://".repeat(huge / 8),
            "*`*".repeat(huge / 3),
            "<b>*".repeat(huge / 4),
        ];
        for body in &bodies {
            let spans = parse(body);
            assert!(spans.len() <= body.len(), "at most one span per byte");
            assert!(shown(&spans).len() <= body.len());
        }
        let stars = "*".repeat(MAX_BODY_CHARS);
        assert_eq!(parse(&stars), vec![text(&stars, PLAIN)]);
        let people = People::new(Some(Person::new("Ada", "ada")), [Person::new("*", "x")]);
        for body in ["@Ada*".repeat(huge / 5), "@*@".repeat(huge / 3)] {
            let spans = super::parse(&body, &people);
            assert!(spans.len() <= body.len() && shown(&spans).len() <= body.len());
            assert!(spans.iter().any(|s| matches!(s, Span::Mention { .. })));
        }
    }
}
