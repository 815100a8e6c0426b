//! A persona as it stood at an instant: its owner's feed up to that instant, folded by the same
//! projections into a scratch store in memory, so the past is computed by the rules that compute
//! the present (no second fold).

use mindlog_commands::{Instant, Micros};
use mindlog_ledger::{Hash, Ledger, SignedEvent, verify_batch};

use crate::views::PersonaProfile;
use crate::{ProjectionError, Projections, Views};

/// Views as they stood at an instant, over the scratch store that holds them (dropped with them).
#[derive(Debug)]
pub struct Past {
    views: Views,
    _scratch: Ledger,
}

impl std::ops::Deref for Past {
    type Target = Views;
    fn deref(&self) -> &Views {
        &self.views
    }
}

/// Events verified and ingested into the scratch store at a time.
const CHUNK: usize = 8192;

impl Projections {
    /// The profile of `persona` as it stood at `as_of`: traits, commitments, memories, consent,
    /// model and counters from the owner's events stamped at or before `as_of` (only the owner's
    /// events change a persona), memory strength computed for `as_of`. Forks made by other
    /// authors are not part of it. `Ok(None)` for a persona this store does not hold;
    /// [`ProjectionError::NotYetCreated`] when it was created after `as_of`.
    ///
    /// The owner's feed is read up to its first event stamped after `as_of`, its signatures are
    /// checked again, and it is folded into an in-memory store; the cost grows with the length of
    /// that feed, not of the log.
    pub fn persona_as_of(&self, persona: &Hash, as_of: Micros) -> Result<Option<PersonaProfile>, ProjectionError> {
        match self.persona_past(persona, as_of)? {
            Some(past) => Ok(past.profile(persona, as_of)?),
            None => Ok(None),
        }
    }

    /// The views of `persona`'s owner as they stood at `as_of`, folded from the owner's events
    /// stamped at or before it (see [`Projections::persona_as_of`]); the persona's rows in them
    /// (commitments, memories, consent, models) are as they stood then. `Ok(None)` for a persona
    /// this store does not hold; [`ProjectionError::NotYetCreated`] when it was created after
    /// `as_of`.
    pub fn persona_past(&self, persona: &Hash, as_of: Micros) -> Result<Option<Past>, ProjectionError> {
        let Some(row) = self.views()?.persona_row(persona)? else { return Ok(None) };
        let snapshot = self.ledger.snapshot()?;
        if row.created > as_of {
            return Err(ProjectionError::NotYetCreated { name: row.name, created: Instant(row.created) });
        }
        let scratch = Ledger::in_memory()?;
        let mut chunk = Vec::with_capacity(CHUNK);
        let mut done = false;
        for entry in snapshot.feed(&row.owner, 1..=u64::MAX)? {
            let (_, offset) = entry?;
            let Some(stored) = snapshot.event(offset)? else { break };
            let envelope = stored.envelope().map_err(|source| ProjectionError::Damaged { offset, source })?;
            if envelope.ts > as_of {
                done = true;
            } else {
                chunk.push(SignedEvent { bytes: stored.bytes, signature: stored.signature });
            }
            if done || chunk.len() == CHUNK {
                ingest(&scratch, std::mem::take(&mut chunk))?;
            }
            if done {
                break;
            }
        }
        ingest(&scratch, chunk)?;
        let past = Projections::new(&scratch);
        past.catch_up(&|_, _| {})?;
        let views = past.views()?;
        Ok(Some(Past { views, _scratch: scratch }))
    }
}

fn ingest(scratch: &Ledger, events: Vec<SignedEvent>) -> Result<(), ProjectionError> {
    if events.is_empty() {
        return Ok(());
    }
    let verified = verify_batch(events).into_iter().collect::<Result<Vec<_>, _>>()?;
    scratch.ingest(&verified)?;
    Ok(())
}
