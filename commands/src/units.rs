//! Exact decimal quantities (`Units`, millionths) and times, so every fold is integer arithmetic
//! and gives the same bytes on every machine and in every order.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A decimal quantity in millionths: `Units(50_000)` is 0.05. Traits, importance, valence and
/// arousal are all `Units`.
///
/// In postcard it is the `i64`; in JSON a number (`0.05`), and a string (`"0.05"`) is read too.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Units(pub i64);

impl Serialize for Units {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.serialize_f64(self.as_f64())
        } else {
            serializer.serialize_i64(self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Units {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Units, D::Error> {
        if !deserializer.is_human_readable() {
            return i64::deserialize(deserializer).map(Units);
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Text {
            Number(f64),
            Text(String),
        }
        match Text::deserialize(deserializer)? {
            Text::Number(n) if n.is_finite() && n.abs() < 1e12 => {
                let scaled = n * 1e6;
                if (scaled - scaled.round()).abs() > 1e-3 {
                    return Err(serde::de::Error::custom(format!("{n} has more than 6 decimal places")));
                }
                Ok(Units(scaled.round() as i64))
            }
            Text::Number(n) => Err(serde::de::Error::custom(format!("{n} is out of range"))),
            Text::Text(t) => t.parse().map_err(serde::de::Error::custom),
        }
    }
}

impl Units {
    /// 1.0
    pub const ONE: Units = Units(1_000_000);
    /// 0.0
    pub const ZERO: Units = Units(0);

    /// The value as a float, for display only.
    pub fn as_f64(self) -> f64 {
        self.0 as f64 / 1e6
    }
}

/// A number that is not a decimal with at most six fractional digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a decimal number with at most 6 decimal places (like 0.05 or -1)")]
pub struct ParseUnitsError(String);

impl FromStr for Units {
    type Err = ParseUnitsError;

    fn from_str(text: &str) -> Result<Units, ParseUnitsError> {
        let err = || ParseUnitsError(text.to_owned());
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.strip_prefix('+').unwrap_or(text)),
        };
        let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
        if (whole.is_empty() && fraction.is_empty())
            || fraction.len() > 6
            || !whole.bytes().all(|b| b.is_ascii_digit())
            || !fraction.bytes().all(|b| b.is_ascii_digit())
            || whole.len() > 12
        {
            return Err(err());
        }
        let whole: i64 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| err())? };
        let mut fraction_value: i64 = if fraction.is_empty() { 0 } else { fraction.parse().map_err(|_| err())? };
        for _ in fraction.len()..6 {
            fraction_value *= 10;
        }
        let value = whole * 1_000_000 + fraction_value;
        Ok(Units(if negative { -value } else { value }))
    }
}

impl fmt::Display for Units {
    /// The shortest exact decimal: 0.05, -1, 0.123456.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let (whole, fraction) = (abs / 1_000_000, abs % 1_000_000);
        if fraction == 0 {
            return write!(f, "{sign}{whole}");
        }
        let digits = format!("{fraction:06}");
        write!(f, "{sign}{whole}.{}", digits.trim_end_matches('0'))
    }
}

/// Microseconds since the Unix epoch (the same clock as an envelope's `ts`).
pub type Micros = u64;

/// One day in microseconds.
pub const DAY_MICROS: Micros = 86_400_000_000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_print() {
        for (text, value, shown) in [
            ("0.05", 50_000, "0.05"),
            ("-0.02", -20_000, "-0.02"),
            ("1", 1_000_000, "1"),
            (".5", 500_000, "0.5"),
            ("+0.000001", 1, "0.000001"),
            ("0.8", 800_000, "0.8"),
        ] {
            let units: Units = text.parse().unwrap();
            assert_eq!(units.0, value, "{text}");
            assert_eq!(units.to_string(), shown);
        }
        for bad in ["", "-", ".", "1.2345678", "abc", "1e3", "0,5", "--1"] {
            assert!(bad.parse::<Units>().is_err(), "{bad}");
        }
    }

    #[test]
    fn json_and_postcard_forms() {
        let u = Units(50_000);
        assert_eq!(serde_json::to_string(&u).unwrap(), "0.05");
        assert_eq!(serde_json::from_str::<Units>("0.05").unwrap(), u);
        assert_eq!(serde_json::from_str::<Units>("\"0.05\"").unwrap(), u);
        assert_eq!(postcard::from_bytes::<Units>(&postcard::to_allocvec(&u).unwrap()).unwrap(), u);
    }
}
