//! Instants as people write them (`2026-12-01`, `2026-12-01T10:00Z`, full RFC 3339) and as
//! events store them (microseconds since the Unix epoch, UTC).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::units::Micros;

/// A point in time, stored as microseconds since the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(pub Micros);

/// Text that is not a date or a date and time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not a date (2026-12-01) or a date and time with its offset (2026-12-01T10:00Z, 2026-12-01T10:00:00+02:00)"
)]
pub struct ParseInstantError(String);

impl FromStr for Instant {
    type Err = ParseInstantError;

    fn from_str(text: &str) -> Result<Instant, ParseInstantError> {
        let err = || ParseInstantError(text.to_owned());
        let timestamp = if let Ok(date) = text.parse::<jiff::civil::Date>()
            && !text.contains('T')
        {
            date.to_zoned(jiff::tz::TimeZone::UTC).map_err(|_| err())?.timestamp()
        } else {
            text.parse::<jiff::Timestamp>().map_err(|_| err())?
        };
        let micros = timestamp.as_microsecond();
        u64::try_from(micros).map(Instant).map_err(|_| err())
    }
}

impl fmt::Display for Instant {
    /// RFC 3339 UTC, to the second unless there is more.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match i64::try_from(self.0).ok().and_then(|m| jiff::Timestamp::from_microsecond(m).ok()) {
            Some(t) => write!(f, "{t}"),
            None => write!(f, "@{}", self.0),
        }
    }
}

impl Serialize for Instant {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() { serializer.collect_str(self) } else { serializer.serialize_u64(self.0) }
    }
}

impl<'de> Deserialize<'de> for Instant {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Instant, D::Error> {
        if deserializer.is_human_readable() {
            let text = String::deserialize(deserializer)?;
            text.parse().map_err(serde::de::Error::custom)
        } else {
            u64::deserialize(deserializer).map(Instant)
        }
    }
}

/// Serde for a payload's `Micros` field that is an instant: RFC 3339 text in JSON (like every time
/// mindlog prints), the plain `u64` in postcard (so the payload bytes are those of a `u64`).
pub(crate) mod micros_as_instant {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::Instant;
    use crate::units::Micros;

    pub(crate) fn serialize<S: Serializer>(micros: &Micros, serializer: S) -> Result<S::Ok, S::Error> {
        Instant(*micros).serialize(serializer)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Micros, D::Error> {
        Instant::deserialize(deserializer).map(|i| i.0)
    }
}

/// [`micros_as_instant`] for an optional instant.
pub(crate) mod option_micros_as_instant {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::Instant;
    use crate::units::Micros;

    pub(crate) fn serialize<S: Serializer>(micros: &Option<Micros>, serializer: S) -> Result<S::Ok, S::Error> {
        micros.map(Instant).serialize(serializer)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Micros>, D::Error> {
        Option::<Instant>::deserialize(deserializer).map(|o| o.map(|i| i.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let midnight: Instant = "2026-12-01".parse().unwrap();
        assert_eq!(midnight.to_string(), "2026-12-01T00:00:00Z");
        let ten: Instant = "2026-12-01T10:00Z".parse().unwrap();
        assert_eq!(ten.0 - midnight.0, 10 * 3_600_000_000);
        assert_eq!("2026-12-01T10:00:00Z".parse::<Instant>().unwrap(), ten);
        let precise: Instant = "2026-12-01T10:00:00.5Z".parse().unwrap();
        assert_eq!(precise.to_string(), "2026-12-01T10:00:00.5Z", "sub-seconds are kept");
        assert_eq!(precise.to_string().parse::<Instant>().unwrap(), precise);
        assert_eq!(Instant(u64::MAX).to_string(), format!("@{}", u64::MAX));
        assert!("tomorrow".parse::<Instant>().is_err());
        assert!("1969-12-31".parse::<Instant>().is_err(), "before the epoch");
    }

    #[test]
    fn payload_instants_are_text_in_json_and_u64_in_postcard() {
        #[derive(Serialize, Deserialize, PartialEq, Debug)]
        struct Slot {
            #[serde(with = "micros_as_instant")]
            start: u64,
            #[serde(with = "option_micros_as_instant")]
            due: Option<u64>,
        }
        #[derive(Serialize)]
        struct Plain {
            start: u64,
            due: Option<u64>,
        }
        let slot = Slot { start: 1_764_583_200_000_000, due: Some(1_764_583_200_500_000) };
        let plain = Plain { start: slot.start, due: slot.due };
        assert_eq!(postcard::to_allocvec(&slot).unwrap(), postcard::to_allocvec(&plain).unwrap());
        let json = serde_json::to_string(&slot).unwrap();
        assert_eq!(json, r#"{"start":"2025-12-01T10:00:00Z","due":"2025-12-01T10:00:00.5Z"}"#);
        assert_eq!(serde_json::from_str::<Slot>(&json).unwrap(), slot);
        let bytes = postcard::to_allocvec(&slot).unwrap();
        assert_eq!(postcard::from_bytes::<Slot>(&bytes).unwrap(), slot);
    }
}
