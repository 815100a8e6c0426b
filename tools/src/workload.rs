//! `gen`: a deterministic synthetic workload, signed by keys derived from the seed and written
//! through the same ingest path as everything else.
//!
//! Determinism: the author keys, the choice of author for each event, every payload and every
//! timestamp come from the seed (SplitMix64 streams, defined here so they never change under us)
//! and from the feeds' heads when `gen` starts. The same seed on an empty home therefore writes
//! byte-identical events with identical hashes and signatures (Ed25519 signing is deterministic).

use std::sync::mpsc;

use anyhow::{Context, Result};
use mindlog_commands::{Command, DAY_MICROS, Event, Instant, MemState, Outcome, PersonaInfo, Role, Units, decide};
use mindlog_ledger::{Draft, Envelope, FORMAT_VERSION, Identity, Ingested, Ledger, SealedEnvelope, VerifiedEvent};
use rayon::prelude::*;

use crate::cli::GenArgs;

/// 2026-01-01T00:00:00Z in microseconds: where generated time starts.
pub(crate) const GEN_EPOCH_MICROS: u64 = 1_767_225_600_000_000;

/// SplitMix64: tiny, fast, and fixed forever (unlike a library generator that may change between versions).
#[derive(Clone, Debug)]
pub(crate) struct Rng(u64);

impl Rng {
    /// A stream for `(seed, domain, index)`, independent of every other.
    pub(crate) fn derive(seed: u64, domain: &str, index: u64) -> Rng {
        let mut hasher = blake3::Hasher::new();
        hasher.update(domain.as_bytes());
        hasher.update(&seed.to_le_bytes());
        hasher.update(&index.to_le_bytes());
        let bytes = hasher.finalize();
        Rng(u64::from_le_bytes(bytes.as_bytes()[..8].try_into().unwrap_or_default()))
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// The synthetic author `index` for `seed`.
pub(crate) fn author(seed: u64, index: u32) -> Identity {
    let mut material = Vec::with_capacity(12);
    material.extend_from_slice(&seed.to_le_bytes());
    material.extend_from_slice(&index.to_le_bytes());
    Identity::from_secret(&blake3::derive_key("mindlog gen author key v1", &material))
}

const WORDS: &[&str] = &[
    "persona",
    "memory",
    "commitment",
    "trait",
    "reflection",
    "model",
    "consent",
    "lineage",
    "signal",
    "curious",
    "steady",
    "careful",
    "weekly",
    "report",
    "review",
    "plugin",
    "service",
    "audit",
    "tool",
    "session",
    "answer",
    "short",
    "brief",
    "detailed",
    "open",
    "closed",
    "trust",
    "vouch",
    "attest",
    "guild",
    "market",
    "listing",
    "the",
    "a",
    "of",
    "to",
    "and",
    "with",
    "for",
    "on",
    "is",
    "was",
    "will",
    "should",
    "prefers",
    "notes",
];

/// Pseudo-words of `min` to `min + spread` bytes.
pub(crate) fn words(rng: &mut Rng, min: usize, spread: u64) -> String {
    let len = min + rng.below(spread) as usize;
    text(rng, len)
}

/// Pseudo-words of about `len` bytes.
pub(crate) fn text(rng: &mut Rng, len: usize) -> String {
    let mut out = String::with_capacity(len + 12);
    while out.len() < len {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(rng.pick::<&str>(WORDS));
    }
    out
}

/// One author's generator: what it has written so far decides what it writes next.
///
/// It keeps the author's personas, commitments and memories in a `MemState`, picks a plausible
/// next command, and has `decide` turn it into an event, so every generated event is one a user
/// could have made and every fold has real work to do.
pub(crate) struct AuthorGen {
    identity: Identity,
    seq: u64,
    prev: Option<mindlog_ledger::Hash>,
    state: MemState,
}

/// Microseconds between consecutive generated events: 1,000,000 events span about 58 days.
pub(crate) const GEN_SPACING_MICROS: u64 = 5_000_000;

const MODELS: &[&str] = &["ollama:llama3.1", "ollama:mistral", "ollama:qwen2.5", "openai:gpt-4o-mini", "local:phi-3"];
const SCOPES: &[&str] = &["share-memory", "train-models", "publish-reflections", "analytics", "marketplace-listing"];
const LABELS: &[&str] = &["calm", "curious", "tense", "glad", "tired", "focused", "uneasy"];
const TAGS: &[&str] = &["style", "fact", "preference", "project", "person", "todo"];

impl AuthorGen {
    fn new(identity: Identity, head: Option<mindlog_ledger::Head>) -> AuthorGen {
        AuthorGen { identity, seq: head.map_or(0, |h| h.seq), prev: head.map(|h| h.hash), state: MemState::default() }
    }

    /// The next command this author plausibly issues at `index`.
    fn next_command(&self, rng: &mut Rng, index: u64) -> Command {
        let me = self.identity.public_key();
        let active: Vec<&PersonaInfo> = self.state.active_personas(&me).collect();
        // A handful of personas per author: new ones while there are few, retirements when there are many.
        if active.is_empty() || (active.len() < 12 && rng.below(1000) < 3) {
            return Command::PersonaCreate { name: format!("persona-{index}"), description: words(rng, 40, 120) };
        }
        let p = rng.pick(&active);
        let persona = p.id.to_string();
        let roll = rng.below(1000);
        match roll {
            0..400 => {
                let role = *rng.pick(&[Role::User, Role::Assistant, Role::Assistant, Role::User, Role::System]);
                Command::Message { persona, role, text: words(rng, 100, 480) }
            }
            400..520 => Command::MemoryAdd {
                persona,
                text: words(rng, 100, 400),
                importance: Units(rng.below(1_000_001) as i64),
                tags: (0..rng.below(3)).map(|_| (*rng.pick(TAGS)).to_owned()).collect(),
            },
            520..550 => match self.state.live_memories(&p.id).next() {
                Some(m) => Command::MemoryForget { persona, memory: m.id.to_string() },
                None => Command::Reflect { persona, text: words(rng, 100, 300) },
            },
            550..630 => Command::CommitmentOpen {
                persona,
                title: words(rng, 100, 200),
                due: (rng.below(4) > 0)
                    .then(|| Instant(index * GEN_SPACING_MICROS + GEN_EPOCH_MICROS + (1 + rng.below(14)) * DAY_MICROS)),
            },
            630..690 => match self.state.open_commitments(&p.id).next() {
                Some(c) => Command::CommitmentClose {
                    persona,
                    commitment: c.id.to_string(),
                    outcome: *rng.pick(&[
                        Outcome::Done,
                        Outcome::Done,
                        Outcome::Done,
                        Outcome::Failed,
                        Outcome::Cancelled,
                    ]),
                },
                None => Command::CommitmentSweep,
            },
            690..750 => Command::Reflect { persona, text: words(rng, 100, 400) },
            750..830 => Command::Emotion {
                persona,
                valence: Units(rng.below(2_000_001) as i64 - 1_000_000),
                arousal: Units(rng.below(1_000_001) as i64),
                label: Some((*rng.pick(LABELS)).to_owned()),
            },
            830..900 => {
                // One trait, a delta that keeps it inside [0, 1].
                let which = rng.below(5) as usize;
                let value = p.traits.values()[which].0;
                let delta = (rng.below(100_001) as i64 - 50_000).clamp(-value, 1_000_000 - value);
                let mut deltas = [None; 5];
                deltas[which] = Some(Units(if delta == 0 { if value > 0 { -1 } else { 1 } } else { delta }));
                let [openness, conscientiousness, extraversion, agreeableness, neuroticism] = deltas;
                Command::PersonaTraits {
                    persona,
                    openness,
                    conscientiousness,
                    extraversion,
                    agreeableness,
                    neuroticism,
                }
            }
            900..940 => Command::Consent { persona, scope: (*rng.pick(SCOPES)).to_owned(), allow: rng.below(2) == 0 },
            940..970 => Command::ModelUse {
                persona,
                model: (*rng.pick(MODELS)).to_owned(),
                hash: format!("sha256:{:016x}{:016x}", rng.next_u64(), rng.next_u64()),
            },
            970..990 => Command::CommitmentSweep,
            990..992 if active.len() < 12 => Command::PersonaFork {
                persona,
                name: format!("fork-{index}"),
                license: Some((*rng.pick(&["CC-BY-4.0", "MIT", "CC0-1.0"])).to_owned()),
            },
            992..994 if active.len() > 6 => Command::PersonaRetire {
                persona,
                successor: Some(active[0].id.to_string()).filter(|s| *s != p.id.to_string()),
                reason: Some(text(rng, 40)),
            },
            _ => Command::Reflect { persona, text: text(rng, 120) },
        }
    }

    /// The event for slot `index` at `ts`: the first event `decide` makes of the next command
    /// (a command that makes none, like a sweep with nothing due, gives way to a message).
    fn draft(&mut self, rng: &mut Rng, index: u64, ts: u64) -> Result<Draft> {
        let me = self.identity.public_key();
        for _ in 0..4 {
            let command = self.next_command(rng, index);
            match decide(&self.state, &me, ts, &command) {
                Ok(events) if !events.is_empty() => {
                    let event = &events[0];
                    return Ok(Draft {
                        kind: event.kind().to_owned(),
                        payload: event.encode(),
                        refs: event.refs(),
                        ts,
                    });
                }
                Ok(_) => continue,
                Err(e) => anyhow::bail!("gen made a command decide refused ({}): {e}", command.name()),
            }
        }
        let persona = self.state.active_personas(&me).next().map(|p| p.id.to_string()).unwrap_or_default();
        let command = Command::Message { persona, role: Role::User, text: text(rng, 200) };
        let events = decide(&self.state, &me, ts, &command)?;
        let event = events.first().context("a message always makes an event")?;
        Ok(Draft { kind: event.kind().to_owned(), payload: event.encode(), refs: event.refs(), ts })
    }

    /// Seals the next event of this feed (cheap and sequential: each hash is the next prev).
    fn seal(&mut self, draft: Draft) -> Result<SealedEnvelope> {
        let sealed = SealedEnvelope::new(Envelope {
            version: FORMAT_VERSION,
            author: self.identity.public_key(),
            seq: self.seq + 1,
            prev: self.prev,
            ts: draft.ts,
            kind: draft.kind,
            refs: draft.refs,
            payload: draft.payload,
        })?;
        self.seq += 1;
        self.prev = Some(sealed.hash());
        if let Ok(Some(event)) = Event::decode(&sealed.envelope().kind, &sealed.envelope().payload) {
            self.state.apply(&self.identity.public_key(), sealed.hash(), &event);
        }
        Ok(sealed)
    }
}

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
    let mut authors = Vec::with_capacity(args.authors as usize);
    for i in 0..args.authors {
        let identity = author(args.seed, i);
        let head = snapshot.head(&identity.public_key())?;
        authors.push(AuthorGen::new(identity, head));
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

    let mut done = 0u64;
    while done < args.events {
        let n = (args.events - done).min(args.batch as u64) as usize;
        // Decide, on this thread, which author writes each event of the chunk.
        let order: Vec<usize> = (0..n).map(|_| chooser.below(args.authors as u64) as usize).collect();
        let mut per_author: Vec<Vec<u64>> = vec![Vec::new(); authors.len()];
        for (i, &a) in order.iter().enumerate() {
            per_author[a].push(base_index + done + i as u64);
        }
        // Each author's events, authors in parallel: payload, then seal (the hash chain).
        let seed = args.seed;
        let sealed: Vec<Vec<SealedEnvelope>> = authors
            .par_iter_mut()
            .zip(per_author.par_iter())
            .map(|(author_gen, indexes)| {
                indexes
                    .iter()
                    .map(|&index| {
                        let mut rng = Rng::derive(seed, "event", index);
                        let ts = GEN_EPOCH_MICROS + index * GEN_SPACING_MICROS + rng.below(GEN_SPACING_MICROS);
                        let draft = author_gen.draft(&mut rng, index, ts)?;
                        author_gen.seal(draft)
                    })
                    .collect::<Result<Vec<_>>>()
            })
            .collect::<Result<_>>()?;
        let mut queues: Vec<std::vec::IntoIter<SealedEnvelope>> = sealed.into_iter().map(Vec::into_iter).collect();
        let chunk: Vec<(usize, SealedEnvelope)> =
            order.iter().filter_map(|&a| queues[a].next().map(|s| (a, s))).collect();
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
