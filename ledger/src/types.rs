//! Fixed-size identifiers — public keys, event hashes, signatures — and their lowercase-hex text form.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Deserializer, Visitor};
use serde::ser::{SerializeTuple, Serializer};
use serde::{Deserialize, Serialize};

/// A malformed hex identifier on input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected {expected} lowercase hex characters, got {found:?}")]
pub struct ParseHexError {
    expected: usize,
    found: String,
}

/// Decodes exactly `N` bytes from `2 * N` lowercase hex characters.
///
/// Uppercase is refused on purpose: every identifier has one text form, so a
/// changed character is always a changed value.
pub(crate) fn parse_hex<const N: usize>(text: &str) -> Result<[u8; N], ParseHexError> {
    let err = || ParseHexError { expected: 2 * N, found: text.chars().take(2 * N + 8).collect() };
    if text.len() != 2 * N || !text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(err());
    }
    let mut out = [0u8; N];
    hex::decode_to_slice(text, &mut out).map_err(|_| err())?;
    Ok(out)
}

/// `bytes` as lowercase hex, written into `buf` (exactly twice as long).
pub(crate) fn hex_str<'b>(bytes: &[u8], buf: &'b mut [u8]) -> &'b str {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (pair, byte) in buf.chunks_exact_mut(2).zip(bytes) {
        pair[0] = DIGITS[usize::from(byte >> 4)];
        pair[1] = DIGITS[usize::from(byte & 0xf)];
    }
    // Only ASCII digits were written.
    std::str::from_utf8(buf).unwrap_or_default()
}

macro_rules! fixed_bytes {
    ($(#[$doc:meta])* $name:ident, $len:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub [u8; $len]);

        impl $name {
            /// The raw bytes.
            pub fn as_bytes(&self) -> &[u8; $len] {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(hex_str(&self.0, &mut [0u8; 2 * $len]))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self)
            }
        }

        impl FromStr for $name {
            type Err = ParseHexError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                parse_hex::<$len>(s).map($name)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                if serializer.is_human_readable() {
                    serializer.serialize_str(hex_str(&self.0, &mut [0u8; 2 * $len]))
                } else {
                    // postcard writes a fixed-size tuple of bytes as the raw bytes.
                    let mut tuple = serializer.serialize_tuple($len)?;
                    for byte in &self.0 {
                        tuple.serialize_element(byte)?;
                    }
                    tuple.end()
                }
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        write!(f, "{} bytes or {} lowercase hex characters", $len, 2 * $len)
                    }
                    fn visit_str<E: de::Error>(self, v: &str) -> Result<$name, E> {
                        v.parse().map_err(E::custom)
                    }
                    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<$name, A::Error> {
                        let mut out = [0u8; $len];
                        for (i, slot) in out.iter_mut().enumerate() {
                            *slot = seq.next_element()?.ok_or_else(|| de::Error::invalid_length(i, &self))?;
                        }
                        Ok($name(out))
                    }
                }
                if deserializer.is_human_readable() {
                    deserializer.deserialize_str(V)
                } else {
                    deserializer.deserialize_tuple($len, V)
                }
            }
        }
    };
}

fixed_bytes!(
    /// An author: an Ed25519 public key (32 bytes, RFC 8032 encoding).
    PublicKey,
    32
);
fixed_bytes!(
    /// An event hash: blake3 over the domain prefix and the envelope bytes.
    Hash,
    32
);
fixed_bytes!(
    /// An Ed25519 signature (64 bytes, RFC 8032 encoding) over an event hash.
    Signature,
    64
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_strictness() {
        let h = Hash([0xab; 32]);
        let text = h.to_string();
        assert_eq!(text, "ab".repeat(32));
        assert_eq!(text.parse::<Hash>().unwrap(), h);
        assert!("AB".repeat(32).parse::<Hash>().is_err(), "uppercase is refused");
        assert!("ab".repeat(31).parse::<Hash>().is_err(), "short is refused");
        assert_eq!(serde_json::to_string(&h).unwrap(), format!("\"{text}\""));
        let bytes = postcard::to_allocvec(&h).unwrap();
        assert_eq!(bytes, vec![0xab; 32], "postcard form is the raw bytes");
        assert_eq!(postcard::from_bytes::<Hash>(&bytes).unwrap(), h);
    }
}
