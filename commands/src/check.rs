//! State-free rules: the `Check` every event payload implements (`Event::check` calls it), and
//! the rules on texts, words and numbers the payloads share (docs/commands.md §3).
//!
//! A rule belongs here when the payload alone decides it. Rules that need the views (exists,
//! owner, retired, already done) or the time (due in the past) are `decide`'s.

use crate::market::{MAX_PRICE, Tier};
use crate::rejection::Rejection;
use crate::units::Units;

/// The state-free rules of one event payload. `decide` checks every event it makes; the folds
/// (and `MemState`) ignore an event that fails.
pub(crate) trait Check {
    /// `Ok` if the payload keeps its kind's rules; else the first rule it breaks.
    fn check(&self) -> Result<(), Rejection>;
}

/// A persona name: text of 1 to 64 characters, no control characters at all, no white space at
/// either end.
pub(crate) fn name(name: &str) -> Result<(), Rejection> {
    text("name", name, 1, 64)?;
    if name.chars().any(char::is_control) {
        return Err(Rejection::ControlCharacterInName(name.to_owned()));
    }
    if name.trim() != name {
        return Err(Rejection::WhiteSpaceAroundName(name.to_owned()));
    }
    Ok(())
}

/// Text of `min` to `max` characters without control characters other than tab and newline.
pub(crate) fn text(what: &'static str, text: &str, min: usize, max: usize) -> Result<(), Rejection> {
    // Every fold checks every message, so ASCII text (most of it) is checked byte by byte.
    let ascii = text.is_ascii();
    let chars = if ascii { text.len() } else { text.chars().count() };
    if chars < min {
        return Err(Rejection::Empty(what));
    }
    if chars > max {
        return Err(Rejection::TooLong { what, chars, max });
    }
    let control = if ascii {
        text.bytes().any(|b| (b < 0x20 && b != b'\n' && b != b'\t') || b == 0x7f)
    } else {
        text.chars().any(|c| c.is_control() && c != '\n' && c != '\t')
    };
    if control {
        return Err(Rejection::ControlCharacters(what));
    }
    Ok(())
}

/// A short identifier-like word: 1 to `max` letters, digits, `-`, `_`, `.`, `:`.
pub(crate) fn word(what: &'static str, word: &str, max: usize) -> Result<(), Rejection> {
    if word.is_empty()
        || word.chars().count() > max
        || !word.chars().all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
    {
        return Err(Rejection::NotAWord { what, value: word.to_owned(), max });
    }
    Ok(())
}

/// A word, if given.
pub(crate) fn optional_word(what: &'static str, word: Option<&str>, max: usize) -> Result<(), Rejection> {
    word.map_or(Ok(()), |w| self::word(what, w, max))
}

/// A decimal in `[min, max]`.
pub(crate) fn range(what: &'static str, value: Units, min: Units, max: Units) -> Result<(), Rejection> {
    if value < min || value > max {
        return Err(Rejection::OutOfRange { what, value, min, max });
    }
    Ok(())
}

/// A whole number in `[min, max]`.
pub(crate) fn number(what: &'static str, value: u64, min: u64, max: u64) -> Result<(), Rejection> {
    if value < min || value > max {
        return Err(Rejection::NumberOutOfRange { what, value, min, max });
    }
    Ok(())
}

/// An amount of money: at most [`MAX_PRICE`] minor units.
pub(crate) fn money(what: &'static str, amount: u64) -> Result<(), Rejection> {
    number(what, amount, 0, MAX_PRICE)
}

/// A version: 1 to 32 ASCII letters, digits, `.`, `-` or `+`.
pub(crate) fn version(version: &str) -> Result<(), Rejection> {
    if version.is_empty()
        || version.len() > 32
        || !version.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+'))
    {
        return Err(Rejection::BadVersion(version.to_owned()));
    }
    Ok(())
}

/// A currency: three ASCII capital letters.
pub(crate) fn currency(currency: &str) -> Result<(), Rejection> {
    if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(Rejection::BadCurrency(currency.to_owned()));
    }
    Ok(())
}

/// Tiers: each name a word of at most 32 characters and unique, each amount money.
pub(crate) fn tiers(tiers: &[Tier]) -> Result<(), Rejection> {
    for (i, t) in tiers.iter().enumerate() {
        word("tier name", &t.name, 32)?;
        money("tier price", t.amount)?;
        if tiers[..i].iter().any(|o| o.name == t.name) {
            return Err(Rejection::TierNameTwice(t.name.clone()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The rule as docs/commands.md §3 states it, character by character.
    fn text_as_stated(what: &'static str, text: &str, min: usize, max: usize) -> Result<(), Rejection> {
        let chars = text.chars().count();
        if chars < min {
            return Err(Rejection::Empty(what));
        }
        if chars > max {
            return Err(Rejection::TooLong { what, chars, max });
        }
        if text.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
            return Err(Rejection::ControlCharacters(what));
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn the_ascii_fast_path_keeps_the_rule(text in "(\\PC|[\\x00-\\x1f\\x7f\\u{80}-\\u{9f}])*", max in 0usize..20) {
            prop_assert_eq!(super::text("t", &text, 1, max), text_as_stated("t", &text, 1, max));
        }
    }
}
