//! Logs name no person by default: texts that may quote one (a provider's
//! error, a refused event's reason) go through [`redact`], which masks
//! email addresses and phone numbers. `set_log_identifiers(true)` (the
//! worker's `runtime.log_identifiers`, for debugging) leaves them as they
//! are. Profile ids are pseudonymous hashes and are logged as they are.

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};

static LOG_IDENTIFIERS: AtomicBool = AtomicBool::new(false);

/// Whether logs may show identifiers (process-wide; off by default).
pub fn set_log_identifiers(on: bool) {
    LOG_IDENTIFIERS.store(on, Ordering::Relaxed);
}

/// `text` with email addresses and phone numbers masked, unless logging
/// identifiers was switched on.
pub fn redact(text: &str) -> Cow<'_, str> {
    if LOG_IDENTIFIERS.load(Ordering::Relaxed) || !text.chars().any(|c| c == '@' || c == '+') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if looks_like_identifier(word) {
            out.push_str("[redacted]");
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in text.chars() {
        if c.is_whitespace() || matches!(c, '<' | '>' | '"' | '\'' | ',' | ';' | '(' | ')') {
            flush(&mut word, &mut out);
            out.push(c);
        } else {
            word.push(c);
        }
    }
    flush(&mut word, &mut out);
    Cow::Owned(out)
}

fn looks_like_identifier(word: &str) -> bool {
    let email = word
        .split_once('@')
        .is_some_and(|(user, domain)| !user.is_empty() && domain.contains('.'));
    let digits = word.chars().filter(char::is_ascii_digit).count();
    let phone = word.starts_with('+') && digits >= 7;
    email || phone
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_numbers_are_masked_unless_switched_on() {
        let text = "550 5.1.1 <ana@example.com>: no such user; +4915112345678 unreachable, 3 tries";
        assert_eq!(
            redact(text),
            "550 5.1.1 <[redacted]>: no such user; [redacted] unreachable, 3 tries"
        );
        assert_eq!(
            redact("field `userId`: must be a string"),
            "field `userId`: must be a string"
        );
        set_log_identifiers(true);
        assert_eq!(redact(text), text);
        set_log_identifiers(false);
    }
}
