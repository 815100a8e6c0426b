//! What travels between nodes: gossip messages and the sync protocol's requests and responses,
//! in postcard, each with a size limit. docs/replication.md describes every message.

use std::io;

use futures::prelude::*;
use libp2p::StreamProtocol;
use mindlog_ledger::{Hash, PayloadState, PublicKey, Sidecar, Signature, SignedEvent, StoredEvent};
use serde::{Deserialize, Serialize};

/// The gossipsub topic every node subscribes to.
pub(crate) const TOPIC: &str = "/mindlog/events/1";
/// The request-response protocol of catch-up sync.
pub(crate) const SYNC_PROTOCOL: StreamProtocol = StreamProtocol::new("/mindlog/sync/1");
/// The identify protocol version: nodes of another version do not talk.
pub(crate) const PROTOCOL_VERSION: &str = "/mindlog/1";

/// The largest sync request (a heads request naming the authors it follows).
pub(crate) const MAX_REQUEST: usize = 1 << 20;
/// The largest sync response (a page of events, a heads vector, the fork proofs).
pub(crate) const MAX_RESPONSE: usize = 8 << 20;
/// A page of events holds at most this many events…
pub(crate) const PAGE_EVENTS: usize = 1024;
/// …and stops once its events take this many bytes (a page always holds at least one event).
pub(crate) const PAGE_BYTES: usize = 4 << 20;
/// Fork proofs in one answer (each is two envelopes and signatures: at most about 530 KiB).
pub(crate) const FORKS_PAGE: usize = 8;
/// The largest gossip message: one event with the largest payload, and room for the envelope.
pub(crate) const MAX_GOSSIP: usize = mindlog_ledger::MAX_PAYLOAD_LEN + 64 * 1024;

/// A payload as it travels: never a private one (sent as withheld).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum WirePayload {
    /// Format 1: inside the envelope.
    Inline,
    /// Format 2, present: the salt and the bytes.
    Present { salt: [u8; 32], bytes: Vec<u8> },
    /// Format 2, erased.
    Erased,
    /// Format 2, not sent (private, or not held by the sender).
    Withheld,
}

/// One signed event as it travels.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct WireEvent {
    /// The canonical envelope bytes.
    pub(crate) bytes: Vec<u8>,
    /// The author's signature.
    pub(crate) signature: Signature,
    pub(crate) payload: WirePayload,
}

impl WireEvent {
    /// The event as this node may send it: a private payload goes as withheld.
    pub(crate) fn from_stored(event: StoredEvent) -> WireEvent {
        let payload = match event.payload {
            PayloadState::Inline => WirePayload::Inline,
            PayloadState::Present(sidecar) if !sidecar.private => {
                WirePayload::Present { salt: sidecar.salt, bytes: sidecar.bytes }
            }
            PayloadState::Present(_) | PayloadState::Withheld => WirePayload::Withheld,
            PayloadState::Erased => WirePayload::Erased,
        };
        WireEvent { bytes: event.bytes, signature: event.signature, payload }
    }

    /// The event, not yet checked. A payload received is never private here.
    pub(crate) fn into_signed(self) -> SignedEvent {
        let payload = match self.payload {
            WirePayload::Inline => PayloadState::Inline,
            WirePayload::Present { salt, bytes } => PayloadState::Present(Sidecar { salt, bytes, private: false }),
            // Only a signed `ledger.erased/1` erases: a peer saying "erased" is taken as "not sent",
            // so the payload can still be filled in from another peer.
            WirePayload::Erased | WirePayload::Withheld => PayloadState::Withheld,
        };
        SignedEvent { bytes: self.bytes, signature: self.signature, payload }
    }

    /// Bytes it takes in a page, roughly.
    pub(crate) fn size(&self) -> usize {
        self.bytes.len()
            + 64
            + match &self.payload {
                WirePayload::Present { bytes, .. } => bytes.len() + 32,
                _ => 0,
            }
    }
}

/// A feed's head as a node reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct WireHead {
    pub(crate) author: PublicKey,
    pub(crate) seq: u64,
    pub(crate) hash: Hash,
}

/// What a gossip message carries.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) enum Gossip {
    /// One new event.
    Event(WireEvent),
    /// A fork proof ([`mindlog_ledger::ForkProof::encode`]).
    Fork(Vec<u8>),
}

/// A sync request.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) enum Request {
    /// "These are the feeds I follow: which heads do you hold of them?" The answer leaves out
    /// heads the asker was already told on this connection.
    Heads {
        /// Every feed.
        all: bool,
        /// The feeds followed, when not `all`.
        authors: Vec<PublicKey>,
    },
    /// A page of `author`'s feed from seq `from` to `to`, in seq order.
    Events { author: PublicKey, from: u64, to: u64 },
    /// The fork proofs held, of authors after `after` (a page of [`FORKS_PAGE`]).
    Forks { after: Option<PublicKey> },
}

/// A sync response.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) enum Response {
    /// Heads changed since the last answer on this connection, and a digest of the fork proofs held.
    Heads { heads: Vec<WireHead>, forks: [u8; 32] },
    /// A page of events, in seq order; fewer than asked when the page is full or the feed ends.
    Events(Vec<WireEvent>),
    /// Fork proofs, in order of author; a full page means there may be more.
    Forks(Vec<Vec<u8>>),
    /// The request was refused (too many at once, or not served): the reason.
    Refused(String),
}

/// Encodes a message.
pub(crate) fn encode<T: Serialize>(message: &T) -> Vec<u8> {
    postcard::to_stdvec(message).unwrap_or_default()
}

/// Decodes a message that must be all of `bytes`.
pub(crate) fn decode<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Option<T> {
    match postcard::take_from_bytes(bytes) {
        Ok((message, [])) => Some(message),
        _ => None,
    }
}

/// The sync protocol's framing: a 4-byte big-endian length, then that many bytes of postcard.
/// A length over the limit is refused before anything is read or allocated.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Codec;

async fn read_frame<T: AsyncRead + Unpin + Send, M: for<'a> Deserialize<'a>>(
    io: &mut T,
    limit: usize,
) -> io::Result<M> {
    let mut len = [0u8; 4];
    io.read_exact(&mut len).await?;
    let len = u32::from_be_bytes(len) as usize;
    if len > limit {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("message of {len} bytes is over the limit of {limit}"),
        ));
    }
    let mut bytes = vec![0u8; len];
    io.read_exact(&mut bytes).await?;
    decode(&bytes).ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "malformed message"))
}

async fn write_frame<T: AsyncWrite + Unpin + Send, M: Serialize>(
    io: &mut T,
    message: &M,
    limit: usize,
) -> io::Result<()> {
    let bytes = encode(message);
    if bytes.len() > limit {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "message over the limit"));
    }
    io.write_all(&(bytes.len() as u32).to_be_bytes()).await?;
    io.write_all(&bytes).await?;
    io.close().await
}

impl libp2p::request_response::Codec for Codec {
    type Protocol = StreamProtocol;
    type Request = Request;
    type Response = Response;

    async fn read_request<T: AsyncRead + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
    ) -> io::Result<Request> {
        read_frame(io, MAX_REQUEST).await
    }

    async fn read_response<T: AsyncRead + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
    ) -> io::Result<Response> {
        read_frame(io, MAX_RESPONSE).await
    }

    async fn write_request<T: AsyncWrite + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        request: Request,
    ) -> io::Result<()> {
        write_frame(io, &request, MAX_REQUEST).await
    }

    async fn write_response<T: AsyncWrite + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        response: Response,
    ) -> io::Result<()> {
        write_frame(io, &response, MAX_RESPONSE).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_trailing_bytes_are_refused() {
        let event = WireEvent { bytes: vec![1, 2, 3], signature: Signature([7; 64]), payload: WirePayload::Erased };
        let bytes = encode(&Gossip::Event(event.clone()));
        match decode::<Gossip>(&bytes) {
            Some(Gossip::Event(back)) => assert_eq!(back, event),
            other => panic!("{other:?}"),
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode::<Gossip>(&longer).is_none());
        for cut in 0..bytes.len() {
            assert!(decode::<Gossip>(&bytes[..cut]).is_none(), "a message cut at {cut} decoded");
        }
    }
}
