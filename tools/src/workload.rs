//! `gen`: a deterministic synthetic workload, signed by keys derived from the seed and written
//! through the same ingest path as everything else.
//!
//! Determinism: the author keys, the choice of author for each event, every payload and every
//! timestamp come from the seed (SplitMix64 streams, `mindlog_commands::sim`) and from the feeds'
//! heads when `gen` starts. The same seed on an empty home therefore writes
//! byte-identical events with identical hashes and signatures (Ed25519 signing is deterministic).

use std::sync::mpsc;

use anyhow::{Context, Result};
use mindlog_commands::Event;
use mindlog_commands::sim::{AuthorSim, GEN_EPOCH_MICROS, GEN_SPACING_MICROS, Rng};
use mindlog_ledger::{Draft, Identity, Ingested, Ledger, PublicKey, SealedEnvelope, VerifiedEvent};
use rayon::prelude::*;

use crate::cli::GenArgs;

/// The payload salt of a generated event: derived from its author (whose key comes from the
/// seed) and seq, so the same seed writes the same store. Generated payloads are public
/// synthetic data; a real event's salt is random (docs/format.md, §2a).
fn gen_salt(author: &PublicKey, seq: u64) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"mindlog gen salt\0");
    hasher.update(author.as_bytes());
    hasher.update(&seq.to_le_bytes());
    *hasher.finalize().as_bytes()
}

/// The synthetic author `index` for `seed`.
pub(crate) fn author(seed: u64, index: u32) -> Identity {
    let mut material = Vec::with_capacity(12);
    material.extend_from_slice(&seed.to_le_bytes());
    material.extend_from_slice(&index.to_le_bytes());
    Identity::from_secret(&blake3::derive_key("mindlog gen author key v1", &material))
}

/// One author's generator: its feed's head and its simulated user.
pub(crate) struct AuthorGen {
    identity: Identity,
    seq: u64,
    prev: Option<mindlog_ledger::Hash>,
    sim: AuthorSim,
}

impl AuthorGen {
    fn new(identity: Identity, head: Option<mindlog_ledger::Head>, everyone: &[PublicKey]) -> AuthorGen {
        let sim = AuthorSim::new(identity.public_key(), everyone);
        AuthorGen { identity, seq: head.map_or(0, |h| h.seq), prev: head.map(|h| h.hash), sim }
    }

    /// Seals the next event of this feed (cheap and sequential: each hash is the next prev).
    fn seal(&mut self, event: &Event, ts: u64) -> Result<SealedEnvelope> {
        let author = self.identity.public_key();
        let draft =
            Draft { kind: event.kind().to_owned(), payload: event.encode(), refs: event.refs(), ts, private: false };
        let sealed = draft.seal(author, self.seq + 1, self.prev, gen_salt(&author, self.seq + 1))?;
        self.seq += 1;
        self.prev = Some(sealed.hash());
        self.sim.observe(sealed.hash(), event);
        Ok(sealed)
    }
}

/// Global positions per epoch: authors learn each other's public events every EPOCH events.
const EPOCH: u64 = 4096;

/// What `gen` did.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct GenReport {
    /// Events written.
    pub(crate) events: u64,
    /// Events that were already held (the same seed run again), not written twice.
    pub(crate) skipped: u64,
    pub(crate) seconds: f64,
    pub(crate) events_per_second: f64,
}

/// Writes `args.events` events; `progress` gets the number durably written so far.
pub(crate) fn run(ledger: &Ledger, args: &GenArgs, progress: &dyn Fn(u64)) -> Result<GenReport> {
    anyhow::ensure!(args.authors > 0, "--authors must be at least 1");
    anyhow::ensure!(args.batch > 0, "--batch must be at least 1");
    let started = std::time::Instant::now();
    let snapshot = ledger.snapshot()?;
    let base_index = snapshot.len()?;
    let everyone: Vec<PublicKey> = (0..args.authors).map(|i| author(args.seed, i).public_key()).collect();
    let mut authors = Vec::with_capacity(args.authors as usize);
    for i in 0..args.authors {
        let identity = author(args.seed, i);
        let head = snapshot.head(&identity.public_key())?;
        authors.push(AuthorGen::new(identity, head, &everyone));
    }
    drop(snapshot);
    let mut chooser = Rng::derive(args.seed, "author choice", base_index);

    // Three stages, each on its own thread, so all of them overlap:
    // this thread makes and seals chunk k+2, the signer signs chunk k+1 on every core,
    // and the writer commits chunk k and reports what is durable.
    let identities: Vec<Identity> = authors.iter().map(|a| a.identity.clone()).collect();
    let (to_signer, sealed_chunks) = mpsc::sync_channel::<Vec<(usize, SealedEnvelope)>>(2);
    let (to_writer, signed_chunks) = mpsc::sync_channel::<Vec<VerifiedEvent>>(2);
    let (durable_tx, durable) = mpsc::channel::<(u64, u64)>();
    let signer = std::thread::spawn(move || {
        for chunk in sealed_chunks {
            let signed: Vec<VerifiedEvent> =
                chunk.into_par_iter().with_min_len(64).map(|(a, sealed)| sealed.sign(&identities[a])).collect();
            if to_writer.send(signed).is_err() {
                break;
            }
        }
    });
    let writer_ledger = ledger.clone();
    let writer = std::thread::spawn(move || -> Result<(u64, u64)> {
        let (mut stored, mut skipped) = (0u64, 0u64);
        for chunk in signed_chunks {
            for ingested in writer_ledger.ingest(&chunk)? {
                match ingested {
                    Ingested::Stored(_) => stored += 1,
                    Ingested::AlreadyHeld(_) => skipped += 1,
                }
            }
            let _ = durable_tx.send((stored, skipped));
        }
        Ok((stored, skipped))
    });

    // Authors meet at epoch boundaries: each learns the others' public events (listings,
    // bookings, guilds, reports) of the epoch before. Epochs are fixed in global positions, so
    // the events do not depend on --batch.
    let mut public: Vec<(PublicKey, mindlog_ledger::Hash, Event)> = Vec::new();
    let mut done = 0u64;
    while done < args.events {
        let at = base_index + done;
        if at.is_multiple_of(EPOCH) && !public.is_empty() {
            authors.par_iter_mut().for_each(|g| {
                for (author, hash, event) in &public {
                    g.sim.learn(author, *hash, event);
                }
            });
            public.clear();
        }
        let n = (args.events - done).min(args.batch as u64).min(EPOCH - at % EPOCH) as usize;
        // Decide, on this thread, which author writes each event of the chunk.
        let order: Vec<usize> = (0..n).map(|_| chooser.below(args.authors as u64) as usize).collect();
        let mut per_author: Vec<Vec<u64>> = vec![Vec::new(); authors.len()];
        for (i, &a) in order.iter().enumerate() {
            per_author[a].push(base_index + done + i as u64);
        }
        // Each author's events, authors in parallel: payload, then seal (the hash chain).
        let seed = args.seed;
        let sealed: Vec<Vec<(SealedEnvelope, Option<Event>)>> = authors
            .par_iter_mut()
            .zip(per_author.par_iter())
            .map(|(author_gen, indexes)| {
                indexes
                    .iter()
                    .map(|&index| {
                        let mut rng = Rng::derive(seed, "event", index);
                        let ts = GEN_EPOCH_MICROS + index * GEN_SPACING_MICROS + rng.below(GEN_SPACING_MICROS);
                        let event = author_gen.sim.next_event(&mut rng, index, ts)?;
                        let sealed = author_gen.seal(&event, ts)?;
                        Ok((sealed, AuthorSim::is_public(&event).then_some(event)))
                    })
                    .collect::<Result<Vec<_>>>()
            })
            .collect::<Result<_>>()?;
        let mut queues: Vec<_> = sealed.into_iter().map(Vec::into_iter).collect();
        let mut chunk: Vec<(usize, SealedEnvelope)> = Vec::with_capacity(n);
        for &a in &order {
            if let Some((sealed, event)) = queues[a].next() {
                if let Some(event) = event {
                    public.push((authors[a].identity.public_key(), sealed.hash(), event));
                }
                chunk.push((a, sealed));
            }
        }
        if to_signer.send(chunk).is_err() {
            break; // the writer stopped; its error is reported below
        }
        done += n as u64;
        while let Ok((stored, skipped)) = durable.try_recv() {
            progress(stored + skipped);
        }
    }
    drop(to_signer);
    let _ = signer.join();
    let (stored, skipped) = writer
        .join()
        .map_err(|_| anyhow::anyhow!("the gen writer thread panicked"))?
        .context("writing generated events")?;
    anyhow::ensure!(stored + skipped == args.events, "the gen writer stopped early");
    progress(stored + skipped);
    let seconds = started.elapsed().as_secs_f64();
    Ok(GenReport { events: stored, skipped, seconds, events_per_second: (stored + skipped) as f64 / seconds })
}
