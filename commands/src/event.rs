//! Every event payload with its kind: the `events!` macro derives from the list of kinds (in
//! `catalog.rs`) one enum, its postcard payload encoding, its JSON form and the dispatch to its
//! state-free rules.

use mindlog_ledger::Hash;
use serde::Deserialize;

/// A payload that does not decode as its kind says.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("payload of {kind} does not decode: {problem}")]
pub struct PayloadError {
    /// The event's kind.
    pub kind: String,
    /// What is wrong.
    pub problem: String,
}

pub(crate) fn decode_exact<T: for<'de> Deserialize<'de>>(kind: &str, payload: &[u8]) -> Result<T, PayloadError> {
    let fail = |problem: String| PayloadError { kind: kind.to_owned(), problem };
    let (value, rest) = postcard::take_from_bytes(payload).map_err(|e| fail(e.to_string()))?;
    if rest.is_empty() { Ok(value) } else { Err(fail(format!("{} trailing bytes", rest.len()))) }
}

macro_rules! events {
    ($( $domain:ident { $( $kind:literal => $variant:ident($ty:ty) { $($refs:ident),* } ),* $(,)? } )*) => {
        /// Every event payload mindlog knows, tagged by kind. The JSON form is the payload's
        /// fields with `"kind"` beside them.
        #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(tag = "kind")]
        #[non_exhaustive]
        pub enum Event {
            $($(
                #[doc = concat!("`", $kind, "`")]
                #[serde(rename = $kind)]
                $variant($ty),
            )*)*
        }

        impl Event {
            /// Every kind this build knows.
            pub const KINDS: &'static [&'static str] = &[$($($kind),*),*];

            /// The domains, in declaration order; each has a view of the same name.
            pub const DOMAINS: &'static [&'static str] = &[$(stringify!($domain)),*];

            /// The event's kind, e.g. `persona.created/1`.
            pub fn kind(&self) -> &'static str {
                match self {
                    $($(Event::$variant(_) => $kind,)*)*
                }
            }

            /// The domain the kind belongs to — `persona`, `market`, `social`, `reputation` or
            /// `audit` —, which is also the name of the view that folds it.
            pub fn domain(&self) -> &'static str {
                match self {
                    $($(Event::$variant(_) => stringify!($domain),)*)*
                }
            }

            /// The payload bytes (postcard).
            pub fn encode(&self) -> Vec<u8> {
                let encoded = match self {
                    $($(Event::$variant(p) => postcard::to_allocvec(p),)*)*
                };
                encoded.expect("encoding into a Vec cannot fail for these field types")
            }

            /// Decodes a payload of `kind`; `Ok(None)` for a kind this build does not know.
            pub fn decode(kind: &str, payload: &[u8]) -> Result<Option<Event>, PayloadError> {
                match kind {
                    $($($kind => Ok(Some(Event::$variant(decode_exact(kind, payload)?))),)*)*
                    _ => Ok(None),
                }
            }

            /// Whether the payload keeps its kind's state-free rules (ranges, lengths, words,
            /// limits; docs/commands.md §3): `decide` checks every event it makes, and the
            /// folds ignore an event that fails.
            pub fn check(&self) -> Result<(), Rejection> {
                match self {
                    $($(Event::$variant(p) => Check::check(p),)*)*
                }
            }

            /// The events this one names (also listed in the envelope's `refs`).
            pub fn refs(&self) -> Vec<Hash> {
                match self {
                    $($(Event::$variant(_p) => {
                        #[allow(unused_mut)]
                        let mut out: Vec<Hash> = Vec::new();
                        $( RefList::push_into(&_p.$refs, &mut out); )*
                        out
                    })*)*
                }
            }
        }
    };
}
pub(crate) use events;

/// Fields that name events: a hash, or maybe one.
pub(crate) trait RefList {
    fn push_into(&self, out: &mut Vec<Hash>);
}
impl RefList for Hash {
    fn push_into(&self, out: &mut Vec<Hash>) {
        out.push(*self);
    }
}
impl RefList for Option<Hash> {
    fn push_into(&self, out: &mut Vec<Hash>) {
        out.extend(self.iter().copied());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Event;
    use crate::persona::MemoryAdded;
    use crate::units::Units;

    #[test]
    fn kinds_are_valid_and_round_trip() {
        for kind in Event::KINDS {
            assert!(mindlog_ledger::is_valid_kind(kind), "{kind}");
        }
        let event = Event::MemoryAdded(MemoryAdded {
            persona: Hash([1; 32]),
            text: "prefers short answers".into(),
            importance: Units(800_000),
            tags: vec!["style".into()],
        });
        let bytes = event.encode();
        assert_eq!(Event::decode(event.kind(), &bytes).unwrap(), Some(event.clone()));
        assert_eq!(Event::decode("unknown.kind/1", &bytes).unwrap(), None);
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(Event::decode(event.kind(), &longer).is_err());
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["kind"], "memory.added/1");
        assert_eq!(json["importance"], 0.8);
        assert_eq!(event.refs(), vec![Hash([1; 32])]);
    }
}
