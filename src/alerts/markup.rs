//! Laying text out for receivers that count characters and reserve some of them: escaping
//! that never cuts inside an entity, and cutting long texts with "…".

/// Escapes `text` with `escape` and keeps the result within `max` characters, cutting at a
/// character boundary *before* an escape sequence (never inside `&amp;`) and ending a cut text
/// with "…". Receivers count characters, not bytes, so neither do we.
pub fn fit(text: &str, max: usize, escape: fn(char) -> Option<&'static str>) -> String {
    let full = escape_prefix(text, usize::MAX, escape);
    if full.chars().count() <= max {
        return full;
    }
    let mut cut = escape_prefix(text, max.saturating_sub(1), escape);
    cut.push('…');
    cut
}

/// The longest escaped prefix of `text` that fits in `room` characters.
pub fn escape_prefix(text: &str, room: usize, escape: fn(char) -> Option<&'static str>) -> String {
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let (piece_len, piece) = match escape(c) {
            Some(entity) => (entity.chars().count(), Some(entity)),
            None => (1, None),
        };
        if used + piece_len > room {
            break;
        }
        match piece {
            Some(entity) => out.push_str(entity),
            None => out.push(c),
        }
        used += piece_len;
    }
    out
}

/// No escaping, for plain-text fields.
pub fn no_escape(_: char) -> Option<&'static str> {
    None
}

/// `&`, `<` and `>`: the three characters both Slack's mrkdwn and Telegram's HTML reserve.
pub fn escape_html_text(c: char) -> Option<&'static str> {
    match c {
        '&' => Some("&amp;"),
        '<' => Some("&lt;"),
        '>' => Some("&gt;"),
        _ => None,
    }
}

/// The three of [`escape_html_text`] and `"`: text inside a double-quoted HTML attribute (the
/// report link's `href` in Telegram).
pub fn escape_html_attribute(c: char) -> Option<&'static str> {
    match c {
        '"' => Some("&quot;"),
        c => escape_html_text(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_escapes_and_never_cuts_inside_an_entity() {
        assert_eq!(fit("a<b", 10, escape_html_text), "a&lt;b");
        // "a&lt;" is 5 characters: with 5 of room and "…" to add, "&lt;" no longer fits whole.
        assert_eq!(fit("a<bcdef", 5, escape_html_text), "a…");
        assert_eq!(fit("a<bcdef", 6, escape_html_text), "a&lt;…");
        assert_eq!(fit("abc", 3, no_escape), "abc");
        assert_eq!(fit("abcd", 3, no_escape), "ab…");
        assert_eq!(fit("жжжж", 3, no_escape), "жж…");
    }
}
