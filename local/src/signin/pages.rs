//! The HTML the sign-in serves: the display-name form (`signin.html`, carrying the authorization
//! request through hidden fields) and the short pages that refuse a request, with every value escaped;
//! and the Content-Security-Policy they are served with, which allows the form's one inline `<style>` by
//! its hash and nothing else inline.

use std::sync::LazyLock;

use crate::security;

/// The sign-in pages' policy ([`security::sign_in_csp`] with `signin.html`'s style hash).
pub(super) fn csp() -> &'static str {
    static CSP: LazyLock<String> = LazyLock::new(|| {
        security::sign_in_csp(&security::inline_hashes(
            include_str!("signin.html"),
            "style",
        ))
    });
    &CSP
}

/// The page that refuses a display name outside the rules.
pub(super) const NAME_REFUSED: &str = "<p>Choose a display name of 1 to 32 characters.</p>";

/// The sign-in form, with `fields` (name, value) posted back as hidden inputs.
pub(super) fn sign_in(fields: &[(&str, &str)]) -> String {
    let hidden = fields
        .iter()
        .map(|(k, v)| {
            format!(
                r#"<input type="hidden" name="{k}" value="{}">"#,
                escape_html(v)
            )
        })
        .collect::<String>();
    include_str!("signin.html").replace("{{hidden}}", &hidden)
}

/// The page that refuses a malformed sign-in request, saying why.
pub(super) fn request_refused(error: &str) -> String {
    format!("<p>Sign-in request refused: {}</p>", escape_html(error))
}

fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The form's style is allowed by its hash, and nothing in the page needs more: no inline script, no
    /// style attribute, no event handler.
    #[test]
    fn the_policy_allows_exactly_the_pages_style() {
        let page = sign_in(&[("state", "s")]);
        assert_eq!(security::inline_hashes(&page, "style").len(), 1);
        assert!(csp().contains(&security::inline_hashes(&page, "style")[0]));
        assert!(!csp().contains("unsafe-inline"));
        assert!(!page.contains("<script") && !page.contains(" style="));
        let handler = |word: &str| word.starts_with("on") && word.contains('=');
        assert!(!page.split_whitespace().any(handler));
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            escape_html(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
