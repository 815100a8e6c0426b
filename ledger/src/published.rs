//! Checkpoints published in their own feed (docs/format.md §10): `mindlog sign` appends the
//! signed checkpoint of a feed as the feed's next event, of kind `ledger.checkpoint/1`, so that
//! every checkpoint an author gives out is in the log — exported, replicated and queryable like
//! any event — and `verify` checks each against the feed's tree.

use crate::envelope::Envelope;
use crate::error::{AppendError, StorageError};
use crate::event::PayloadState;
use crate::identity::Identity;
use crate::ledger::{Draft, Expect, Ledger};
use crate::note::{Checkpoint, feed_checkpoint, sign_note};
use crate::store::Snapshot;
use crate::tlog::{self, feed_origin};
use crate::types::{Hash, PublicKey};

/// The kind of the event that publishes a checkpoint of its own feed: its payload is the
/// signed note (C2SP tlog-checkpoint), of the feed at size seq − 1 — every event before it.
pub const CHECKPOINT_KIND: &str = "ledger.checkpoint/1";

/// A checkpoint published in its author's feed, checked: signed by the author's feed key, of
/// that feed at the size its place says, with the root this store's tree has at that size.
#[derive(Clone, Debug)]
pub struct Published {
    /// The publishing event's seq (the checkpoint's size is one less), offset and hash.
    pub seq: u64,
    /// Its offset in this store.
    pub offset: u64,
    /// Its event hash.
    pub event: Hash,
    /// The signed note, exactly as published.
    pub note: Vec<u8>,
    /// What the note says.
    pub checkpoint: Checkpoint,
}

/// Checks the payload of `author`'s `ledger.checkpoint/1` event at `seq` against everything but
/// the tree: a signed note that `author`'s feed key signed, of `author`'s feed, at size seq − 1.
pub fn check_published(author: &PublicKey, seq: u64, payload: &[u8]) -> Result<Checkpoint, String> {
    let (_, checkpoint, signer) = feed_checkpoint(payload)?;
    if signer != *author {
        return Err(format!("it is a checkpoint of {}, not of its own feed", checkpoint.origin));
    }
    if checkpoint.size.checked_add(1) != Some(seq) {
        return Err(format!(
            "it is at size {}, but published at seq {seq} it must be at size {}",
            checkpoint.size,
            seq - 1
        ));
    }
    Ok(checkpoint)
}

impl Snapshot {
    /// The checkpoints published in `author`'s feed at size `at_least` or more whose note is held
    /// here (not erased or withheld) and checks — against the feed's tree too — newest first. A
    /// published checkpoint that does not check is passed over (`verify` reports it).
    pub fn published_checkpoints(&self, author: &PublicKey, at_least: u64) -> Result<Vec<Published>, StorageError> {
        self.find_published(author, at_least, usize::MAX)
    }

    /// The newest of [`Snapshot::published_checkpoints`].
    pub fn published_checkpoint(&self, author: &PublicKey, at_least: u64) -> Result<Option<Published>, StorageError> {
        Ok(self.find_published(author, at_least, 1)?.pop())
    }

    fn find_published(&self, author: &PublicKey, at_least: u64, most: usize) -> Result<Vec<Published>, StorageError> {
        let mut tree = self.feed_tree(author)?;
        let mut found = Vec::new();
        for offset in self.kind_offsets(CHECKPOINT_KIND, 0..=u64::MAX)?.rev() {
            if found.len() >= most {
                break;
            }
            let offset = offset?;
            // Other authors' checkpoints are passed over reading their envelope in place.
            let whose = self.with_event(offset, |e| e.envelope().ok().map(|env| (env.author, env.seq)))?.flatten();
            match whose {
                Some((by, _)) if by != *author => continue,
                Some((_, seq)) if seq.saturating_sub(1) < at_least => break,
                Some(_) => {}
                None => continue,
            }
            let Some(event) = self.event(offset)? else { continue };
            let Ok(envelope) = Envelope::decode(&event.bytes) else { continue };
            let PayloadState::Present(sidecar) = &event.payload else { continue };
            let Ok(checkpoint) = check_published(author, envelope.seq, &sidecar.bytes) else { continue };
            if tlog::tree_root(&mut tree, checkpoint.size)? == checkpoint.root {
                found.push(Published {
                    seq: envelope.seq,
                    offset,
                    event: event.hash,
                    note: sidecar.bytes.clone(),
                    checkpoint,
                });
            }
        }
        Ok(found)
    }
}

impl Ledger {
    /// Signs a checkpoint of `identity`'s feed at its head and publishes it as the feed's next
    /// event (`ts`: the caller's clock), durably, through the group commit. When the feed's last
    /// event already publishes a checkpoint, that one is returned and nothing is written: signing
    /// twice in a row gives the same checkpoint. Another writer moving the head in between makes
    /// it sign again at the new head.
    pub fn publish_checkpoint(&self, identity: &Identity, ts: u64) -> Result<Published, AppendError> {
        let author = identity.public_key();
        let mut tries = 0;
        loop {
            let snapshot = self.snapshot()?;
            let head = snapshot.head(&author)?.map_or(0, |h| h.seq);
            if let Some(latest) = snapshot.published_checkpoint(&author, head.saturating_sub(1))?
                && latest.seq == head
            {
                return Ok(latest);
            }
            let root = tlog::tree_root(&mut snapshot.feed_tree(&author)?, head)?;
            drop(snapshot);
            let checkpoint = Checkpoint { origin: feed_origin(&author), size: head, root, extensions: Vec::new() };
            let note = sign_note(&checkpoint.text(), &checkpoint.origin, identity)
                .map_err(|e| StorageError::Other(format!("signing the checkpoint: {e}")))?
                .to_bytes();
            let draft =
                Draft { kind: CHECKPOINT_KIND.into(), payload: note.clone(), refs: Vec::new(), ts, private: false };
            match self.append_ledger_kind(identity, draft, Expect::Head(head)) {
                Ok(a) => return Ok(Published { seq: a.seq, offset: a.offset, event: a.hash, note, checkpoint }),
                Err(AppendError::Conflict { .. }) if tries < 10 => tries += 1,
                Err(e) => return Err(e),
            }
        }
    }
}
