//! `decide` against an in-memory state: every rejection of every domain, through one
//! `check_rejected` helper, the events of the happy path, and the commands' JSON form.

#![allow(clippy::unwrap_used)]

use mindlog_commands::*;
use mindlog_ledger::{Hash, PublicKey};

const NOW: u64 = 1_767_225_600_000_000;
const HOUR: u64 = 3_600_000_000;
const ALICE: PublicKey = PublicKey([1; 32]);
const BOB: PublicKey = PublicKey([2; 32]);
const CAROL: PublicKey = PublicKey([3; 32]);

/// A world that decides commands and folds their events, with made-up event hashes.
struct World {
    state: MemState,
    counter: u64,
}

impl World {
    fn new() -> World {
        World { state: MemState::default(), counter: 0 }
    }

    /// Decides and applies; returns the events' hashes, or the rejection's message.
    fn run(&mut self, author: PublicKey, command: impl Into<Command>) -> Result<Vec<Hash>, String> {
        let events = decide(&self.state, &author, NOW, &command.into()).map_err(|e| match e {
            DecideError::Rejected(r) => r.to_string(),
            DecideError::State(e) => panic!("state error {e}"),
        })?;
        let mut hashes = Vec::new();
        for event in events {
            // Round-trip through the payload encoding, as the store would.
            let decoded = Event::decode(event.kind(), &event.encode()).unwrap().unwrap();
            assert_eq!(decoded.check(), Ok(()), "decide makes only events that pass their check");
            self.counter += 1;
            let hash = Hash(*blake3_like(self.counter));
            self.state.apply(&author, hash, &decoded);
            hashes.push(hash);
        }
        Ok(hashes)
    }

    /// The one event hash of a command that must succeed.
    fn id(&mut self, author: PublicKey, command: impl Into<Command>) -> String {
        let command = command.into();
        let hashes = self.run(author, command.clone()).unwrap_or_else(|e| panic!("{}: {e}", command.name()));
        assert_eq!(hashes.len(), 1, "{}", command.name());
        hashes[0].to_string()
    }

    /// Checks that `command` is rejected with a message containing `expected`.
    fn check_rejected(&mut self, author: PublicKey, command: impl Into<Command>, expected: &str) {
        let command = command.into();
        match self.run(author, command.clone()) {
            Ok(_) => panic!("{} was accepted; expected rejection containing {expected:?}", command.name()),
            Err(message) => {
                assert!(message.contains(expected), "{}: {message:?} does not contain {expected:?}", command.name());
                assert_eq!(message.lines().count(), 1, "one line: {message}");
            }
        }
    }
}

fn blake3_like(n: u64) -> Box<[u8; 32]> {
    let mut out = [0u8; 32];
    out[..8].copy_from_slice(&n.to_be_bytes());
    out[8] = 0xab;
    Box::new(out)
}

fn create(name: &str) -> PersonaCreate {
    PersonaCreate { name: name.into(), description: "a curious research assistant".into() }
}

fn traits(persona: &str, openness: Option<&str>, neuroticism: Option<&str>) -> PersonaTraits {
    PersonaTraits {
        persona: persona.into(),
        openness: openness.map(|v| v.parse().unwrap()),
        conscientiousness: None,
        extraversion: None,
        agreeableness: None,
        neuroticism: neuroticism.map(|v| v.parse().unwrap()),
    }
}

fn message(persona: &str, text: String) -> Message {
    Message { persona: persona.into(), role: Role::User, text }
}

#[test]
fn every_rejection_of_the_persona_domain() {
    let mut w = World::new();
    let echo = w.run(ALICE, create("Echo")).unwrap()[0];
    w.check_rejected(ALICE, create("Echo"), "already have a persona named \"Echo\"");
    w.check_rejected(ALICE, traits("Nobody", Some("0.01"), None), "unknown persona \"Nobody\"");
    w.check_rejected(ALICE, traits("Echo", Some("0.06"), None), "openness delta 0.06 is too large");
    w.check_rejected(ALICE, traits("Echo", None, Some("-0.051")), "neuroticism delta -0.051 is too large");
    w.check_rejected(ALICE, traits("Echo", None, None), "no trait change");
    w.check_rejected(ALICE, traits("Echo", Some("0"), None), "no trait change");
    for _ in 0..10 {
        w.run(ALICE, traits("Echo", Some("0.05"), None)).unwrap();
    }
    w.check_rejected(ALICE, traits("Echo", Some("0.000001"), None), "openness would become 1.000001, outside [0, 1]");

    // Names and texts.
    w.check_rejected(ALICE, create(""), "name is empty");
    w.check_rejected(ALICE, create(&"x".repeat(65)), "name is 65 characters long; at most 64");
    w.check_rejected(ALICE, create("a\u{7}b"), "name contains control characters");
    w.check_rejected(ALICE, create("a\tb"), "name \"a\\tb\" contains a control character");
    w.check_rejected(ALICE, create(" Echo"), "name \" Echo\" starts or ends with white space");
    w.check_rejected(
        ALICE,
        PersonaCreate { name: "Long".into(), description: "d".repeat(2001) },
        "description is 2001 characters long; at most 2000",
    );
    w.check_rejected(ALICE, Reflect { persona: "Echo".into(), text: String::new() }, "reflection is empty");
    w.check_rejected(
        ALICE,
        Consent { persona: "Echo".into(), scope: "share memory".into(), allow: true },
        "scope \"share memory\" must be 1 to 64 letters, digits, '-', '_', '.' or ':'",
    );
    w.check_rejected(
        ALICE,
        ModelUse { persona: "Echo".into(), model: "llama".into(), hash: "nohash".into() },
        "model hash \"nohash\" should look like algorithm:digest",
    );
    w.check_rejected(ALICE, message("Echo", String::new()), "message is empty");
    // 65,536 characters are allowed, but 4 bytes each make a payload above 262,144 bytes.
    w.check_rejected(ALICE, message("Echo", "😀".repeat(65_536)), "event would be 262180 bytes; at most 262144");

    // Commitments
    let cid = w
        .run(ALICE, CommitmentOpen { persona: "Echo".into(), title: "write the weekly report".into(), due: None })
        .unwrap()[0];
    let close =
        |c: &Hash| CommitmentClose { persona: "Echo".into(), commitment: c.to_string(), outcome: Outcome::Done };
    w.run(ALICE, close(&cid)).unwrap();
    w.check_rejected(ALICE, close(&cid), "is closed, not open");
    w.check_rejected(
        ALICE,
        CommitmentClose { persona: "Echo".into(), commitment: "ffff".into(), outcome: Outcome::Done },
        "unknown commitment",
    );
    w.check_rejected(
        ALICE,
        CommitmentOpen { persona: "Echo".into(), title: "late".into(), due: Some(Instant(NOW - 1)) },
        "already past",
    );
    w.check_rejected(
        ALICE,
        CommitmentOpen { persona: "Echo".into(), title: String::new(), due: None },
        "title is empty",
    );

    // Memory
    let add = |text: &str, importance: &str, tags: Vec<String>| MemoryAdd {
        persona: "Echo".into(),
        text: text.into(),
        importance: importance.parse().unwrap(),
        tags,
    };
    w.check_rejected(ALICE, MemoryForget { persona: "Echo".into(), memory: "abcd".into() }, "unknown memory");
    let mid = w.run(ALICE, add("prefers short answers", "0.8", vec!["style".into()])).unwrap()[0];
    w.run(ALICE, MemoryForget { persona: "Echo".into(), memory: mid.to_string() }).unwrap();
    w.check_rejected(ALICE, MemoryForget { persona: "Echo".into(), memory: mid.to_string() }, "unknown memory");
    w.check_rejected(ALICE, add("x", "1.5", vec![]), "importance 1.5 is outside [0, 1]");
    w.check_rejected(ALICE, add("x", "0.5", vec!["t".into(); 17]), "tags are too many (17; at most 16)");
    w.check_rejected(ALICE, add("x", "0.5", vec!["two words".into()]), "tag \"two words\" must be 1 to 32");
    w.check_rejected(ALICE, add("", "0.5", vec![]), "memory text is empty");
    let emotion = |v: &str, a: &str| Emotion {
        persona: "Echo".into(),
        valence: v.parse().unwrap(),
        arousal: a.parse().unwrap(),
        label: None,
    };
    w.check_rejected(ALICE, emotion("-1.2", "0.2"), "valence -1.2 is outside [-1, 1]");
    w.check_rejected(ALICE, emotion("0.4", "-0.1"), "arousal -0.1 is outside [0, 1]");
    w.run(ALICE, emotion("0.4", "0.2")).unwrap();

    // Ownership: Bob cannot change Alice's persona, but may fork it (by id).
    w.check_rejected(BOB, traits(&echo.to_string(), Some("0.01"), None), "only its owner can change it");
    w.check_rejected(
        BOB,
        PersonaFork { persona: "Echo".into(), name: "Mine".into(), license: None },
        "unknown persona \"Echo\"",
    );
    w.check_rejected(
        BOB,
        PersonaFork { persona: "0000dead".into(), name: "Mine".into(), license: None },
        "unknown persona",
    );
    w.check_rejected(
        ALICE,
        PersonaFork { persona: "Echo".into(), name: "Echo".into(), license: None },
        "already have a persona named \"Echo\"",
    );
    w.check_rejected(
        BOB,
        PersonaFork { persona: echo.to_string(), name: "Mine".into(), license: Some("CC BY".into()) },
        "license \"CC BY\" must be 1 to 64",
    );
    w.run(
        BOB,
        PersonaFork { persona: echo.to_string()[..12].into(), name: "Echo2".into(), license: Some("CC-BY-4.0".into()) },
    )
    .unwrap();

    // Retirement ends all change.
    w.check_rejected(
        ALICE,
        PersonaRetire { persona: "Echo".into(), successor: Some("Echo".into()), reason: None },
        "successor cannot be the persona itself",
    );
    w.check_rejected(
        ALICE,
        PersonaRetire { persona: "Echo".into(), successor: None, reason: Some(String::new()) },
        "reason is empty",
    );
    w.run(ALICE, PersonaRetire { persona: "Echo".into(), successor: None, reason: Some("done".into()) }).unwrap();
    w.check_rejected(ALICE, traits("Echo", Some("-0.01"), None), "\"Echo\" is retired");
    w.check_rejected(ALICE, message("Echo", "hello".into()), "is retired");
    w.check_rejected(ALICE, PersonaRetire { persona: "Echo".into(), successor: None, reason: None }, "is retired");
}

#[test]
fn ambiguous_prefixes_are_refused() {
    let mut w = World::new();
    // Made-up hashes all start with the same bytes, so a short prefix matches both.
    w.run(ALICE, create("A")).unwrap();
    w.run(ALICE, create("B")).unwrap();
    w.check_rejected(ALICE, traits("00000000", Some("0.01"), None), "ambiguous");
}

fn publish(kind: ListingKind, name: &str, price: Option<u64>, tiers: &[&str]) -> MarketPublish {
    MarketPublish {
        kind,
        name: name.into(),
        version: "1.0.0".into(),
        price,
        currency: "EUR".into(),
        tiers: tiers.iter().map(|t| t.parse().unwrap()).collect(),
        license: None,
    }
}

fn book(listing: &str, start: u64, end: u64) -> MarketBook {
    MarketBook { listing: listing.into(), start: Instant(start), end: Instant(end) }
}

#[test]
fn every_rejection_of_the_marketplace() {
    let mut w = World::new();
    // What a listing must be.
    let bad = |f: fn(&mut MarketPublish)| {
        let mut p = publish(ListingKind::Plugin, "Summarizer", Some(500), &[]);
        f(&mut p);
        p
    };
    w.check_rejected(ALICE, bad(|p| p.name = String::new()), "listing name is empty");
    w.check_rejected(ALICE, bad(|p| p.version = "one".repeat(20)), "should look like 1.0.0");
    w.check_rejected(ALICE, bad(|p| p.currency = "eur".into()), "currency \"eur\" is not an ISO 4217 code like EUR");
    w.check_rejected(ALICE, bad(|p| p.price = Some(MAX_PRICE + 1)), "price 100000001 is outside [0, 100000000]");
    w.check_rejected(
        ALICE,
        bad(|p| p.tiers = vec!["a:1:month".parse().unwrap(), "a:2:year".parse().unwrap()]),
        "tier name \"a\" is given twice",
    );
    w.check_rejected(
        ALICE,
        bad(|p| p.tiers = vec!["a:100000001:month".parse().unwrap()]),
        "tier price 100000001 is outside",
    );

    let plugin = w.id(ALICE, publish(ListingKind::Plugin, "Summarizer", Some(500), &[]));
    let service = w.id(ALICE, publish(ListingKind::Service, "Tutoring", None, &["basic:900:month"]));
    let update = |listing: &str| MarketUpdate {
        listing: listing.into(),
        version: Some("1.1.0".into()),
        price: None,
        tiers: None,
        license: None,
    };
    w.check_rejected(
        ALICE,
        MarketUpdate { version: None, ..update(&plugin) },
        "nothing to update: pass --version, --price, --tier or --license",
    );
    w.check_rejected(BOB, update(&plugin), "listing \"Summarizer\" is not yours; only its owner can update it");
    w.check_rejected(BOB, MarketBuy { listing: "ffffffff".into() }, "unknown listing \"ffffffff\"");

    // Subscriptions and purchases.
    let subscribe = |tier: &str| MarketSubscribe { listing: service.clone(), tier: tier.into() };
    w.check_rejected(BOB, subscribe("gold"), "listing \"Tutoring\" has no tier \"gold\"; its tiers: basic:900:month");
    w.check_rejected(
        BOB,
        MarketSubscribe { listing: plugin.clone(), tier: "basic".into() },
        "its tiers: none (it is not sold by subscription)",
    );
    w.check_rejected(
        BOB,
        MarketUnsubscribe { listing: service.clone() },
        "you do not subscribe to listing \"Tutoring\"",
    );
    w.run(BOB, subscribe("basic")).unwrap();
    w.check_rejected(BOB, subscribe("basic"), "you already subscribe to listing \"Tutoring\"");
    w.check_rejected(
        BOB,
        MarketBuy { listing: service.clone() },
        "listing \"Tutoring\" has no one-off price; subscribe to a tier instead",
    );

    // Bookings.
    w.check_rejected(
        BOB,
        book(&plugin, NOW + HOUR, NOW + 2 * HOUR),
        "listing \"Summarizer\" is a plugin, not a service: only services are booked",
    );
    w.check_rejected(BOB, book(&service, NOW - HOUR, NOW + HOUR), "the booking starts in the past");
    w.check_rejected(BOB, book(&service, NOW + 2 * HOUR, NOW + HOUR), "the booking ends");
    w.check_rejected(BOB, book(&service, NOW + HOUR, NOW + HOUR), "before it starts");
    let first = w.id(BOB, book(&service, NOW + HOUR, NOW + 3 * HOUR));
    let overlapping = w.id(CAROL, book(&service, NOW + 2 * HOUR, NOW + 4 * HOUR));
    w.check_rejected(BOB, MarketConfirm { booking: first.clone() }, "only its owner can confirm its bookings");
    w.run(ALICE, MarketConfirm { booking: first.clone() }).unwrap();
    w.check_rejected(ALICE, MarketConfirm { booking: first.clone() }, &format!("booking {first} is already confirmed"));
    w.check_rejected(ALICE, MarketConfirm { booking: overlapping }, &format!("overlaps the confirmed booking {first}"));
    w.check_rejected(ALICE, MarketConfirm { booking: "abcdef".into() }, "unknown booking \"abcdef\"");

    // Reviews.
    let review = |rating: u8| Review { listing: plugin.clone(), rating, text: "good".into() };
    w.check_rejected(ALICE, review(4), "you cannot review your own listing \"Summarizer\"");
    w.check_rejected(BOB, review(6), "rating 6 is outside [1, 5]");
    w.check_rejected(BOB, review(0), "rating 0 is outside [1, 5]");
    w.check_rejected(BOB, Review { text: "x".repeat(5001), ..review(4) }, "review is 5001 characters long");
    w.run(BOB, review(4)).unwrap();

    // Withdrawn listings refuse everything but unsubscribe.
    w.run(ALICE, MarketWithdraw { listing: service.clone() }).unwrap();
    w.check_rejected(ALICE, MarketWithdraw { listing: service.clone() }, "listing \"Tutoring\" was withdrawn");
    w.check_rejected(CAROL, subscribe("basic"), "was withdrawn");
    w.run(BOB, MarketUnsubscribe { listing: service }).unwrap();
}

#[test]
fn every_rejection_of_the_community() {
    let mut w = World::new();
    let (alice, bob, carol) = (ALICE.to_string(), BOB.to_string(), CAROL.to_string());
    w.check_rejected(ALICE, Follow { target: alice.clone() }, "you cannot follow yourself");
    w.check_rejected(ALICE, Follow { target: "Nobody".into() }, "unknown persona \"Nobody\"");
    w.check_rejected(ALICE, Unfollow { target: bob.clone() }, &format!("you do not follow {bob}"));
    w.run(ALICE, Follow { target: bob.clone() }).unwrap();
    w.check_rejected(ALICE, Follow { target: bob.clone() }, &format!("you already follow {bob}"));

    w.check_rejected(ALICE, GuildCreate { name: "two words".into() }, "guild name \"two words\" must be 1 to 64");
    let builders = w.id(ALICE, GuildCreate { name: "builders".into() });
    w.check_rejected(ALICE, GuildCreate { name: "builders".into() }, "you already have a guild named \"builders\"");
    w.check_rejected(ALICE, GuildJoin { guild: "builders".into() }, "you are already a member of guild \"builders\"");
    w.check_rejected(
        ALICE,
        GuildLeave { guild: "builders".into() },
        "you own guild \"builders\"; an owner cannot leave it",
    );
    w.check_rejected(BOB, GuildLeave { guild: "builders".into() }, "you are not a member of guild \"builders\"");
    w.check_rejected(BOB, GuildJoin { guild: "nowhere".into() }, "unknown guild \"nowhere\"");
    w.id(BOB, GuildCreate { name: "builders".into() });
    w.check_rejected(
        CAROL,
        GuildJoin { guild: "builders".into() },
        "guild name \"builders\" is ambiguous: it matches 2 ids",
    );
    w.run(BOB, GuildJoin { guild: builders.clone() }).unwrap();

    let award = |member: &str, guild: Option<&str>| Award {
        member: member.into(),
        badge: "helpful".into(),
        guild: guild.map(Into::into),
    };
    w.check_rejected(ALICE, award("bob", None), "member \"bob\" is not a public key");
    w.check_rejected(ALICE, award(&carol, None), &format!("{carol} is not a member of any guild you own"));
    w.check_rejected(ALICE, award(&carol, Some(&builders)), &format!("{carol} is not a member of guild \"builders\""));
    w.check_rejected(
        BOB,
        award(&alice, Some(&builders)),
        "guild \"builders\" is not yours; only its owner can give its badges",
    );
    w.check_rejected(ALICE, Award { badge: "top seller".into(), ..award(&bob, None) }, "badge \"top seller\" must be");
    w.run(ALICE, award(&bob, None)).unwrap();
    w.id(ALICE, GuildCreate { name: "makers".into() });
    let makers = w.state.guilds_named("makers").unwrap()[0];
    w.run(BOB, GuildJoin { guild: makers.to_string() }).unwrap();
    w.check_rejected(ALICE, award(&bob, None), &format!("{bob} belongs to 2 of your guilds: pass --guild"));
    w.run(ALICE, award(&bob, Some(&builders))).unwrap();
}

#[test]
fn every_rejection_of_reputation() {
    let mut w = World::new();
    let (alice, bob) = (ALICE.to_string(), BOB.to_string());
    let attest = |subject: &str, task: &str, weight: u32| RepAttest {
        subject: subject.into(),
        task: task.into(),
        outcome: TaskOutcome::Success,
        weight,
    };
    w.check_rejected(ALICE, attest("bob", "t", 1), "subject \"bob\" is not a public key");
    w.check_rejected(ALICE, attest(&alice, "t", 1), "you cannot attest yourself");
    w.check_rejected(ALICE, attest(&bob, "t", 11), "weight 11 is outside [1, 10]");
    w.check_rejected(ALICE, attest(&bob, "t", 0), "weight 0 is outside [1, 10]");
    w.check_rejected(ALICE, attest(&bob, "", 1), "task \"\" must be 1 to 128");
    w.run(ALICE, attest(&bob, "translate-docs", 10)).unwrap();

    w.check_rejected(ALICE, RepVouch { subject: alice.clone() }, "you cannot vouch for yourself");
    w.check_rejected(ALICE, RepUnvouch { subject: bob.clone() }, &format!("you do not vouch for {bob}"));
    w.run(ALICE, RepVouch { subject: bob.clone() }).unwrap();
    w.check_rejected(ALICE, RepVouch { subject: bob.clone() }, &format!("you already vouch for {bob}"));

    let report = |subject: &str, category: &str, evidence: &str| RepReport {
        subject: subject.into(),
        category: category.into(),
        evidence: evidence.into(),
    };
    let evidence = Hash([9; 32]).to_string();
    w.check_rejected(ALICE, report(&alice, "spam", &evidence), "you cannot report yourself");
    w.check_rejected(ALICE, report(&bob, "spam", "abc"), "evidence \"abc\" is not an event hash");
    w.check_rejected(ALICE, report(&bob, "", &evidence), "category \"\" must be 1 to 64");
    let id = w.id(ALICE, report(&bob, "spam", &evidence));
    let resolve = |report: &str| RepResolve { report: report.into(), upheld: true };
    w.check_rejected(ALICE, resolve(&id), "you cannot resolve a report you made or one about you");
    w.check_rejected(BOB, resolve(&id), "you cannot resolve a report you made or one about you");
    w.check_rejected(CAROL, resolve("ffffffff"), "unknown report \"ffffffff\"");
    w.run(CAROL, resolve(&id)).unwrap();
}

#[test]
fn every_rejection_of_the_audit_log() {
    let mut w = World::new();
    let tool = |decision: Decision| AuditTool {
        session: "s1".into(),
        tool: "shell.exec".into(),
        args_digest: "sha256:ab12".into(),
        scope: "workspace".into(),
        decision,
        reason: "routine".into(),
    };
    w.check_rejected(ALICE, AuditTool { session: "s 1".into(), ..tool(Decision::Allow) }, "session \"s 1\" must be");
    w.check_rejected(
        ALICE,
        AuditTool { reason: "\u{0}".into(), ..tool(Decision::Allow) },
        "reason contains control characters",
    );
    let allow = w.id(ALICE, tool(Decision::Allow));
    let ask = w.id(ALICE, tool(Decision::Ask));
    let deny = w.id(ALICE, tool(Decision::Deny));
    w.check_rejected(
        ALICE,
        AuditApprove { request: allow.clone() },
        &format!("request {allow} was decided \"allow\" by the policy; only ask requests are approved or denied"),
    );
    w.check_rejected(
        BOB,
        AuditApprove { request: ask.clone() },
        &format!("request \"{ask}\" is not yours; only its owner can answer it or record its result"),
    );
    w.check_rejected(ALICE, AuditDeny { request: "ffffffff".into() }, "unknown request \"ffffffff\"");
    let done = |request: &str, model: &str| AuditDone {
        request: request.into(),
        ok: true,
        duration_ms: 420,
        tokens: 0,
        cost_cents: 0,
        model: model.into(),
    };
    w.check_rejected(ALICE, done(&ask, ""), &format!("request {ask} was not allowed to run"));
    w.check_rejected(ALICE, done(&deny, ""), &format!("request {deny} was not allowed to run"));
    w.run(ALICE, AuditApprove { request: ask.clone() }).unwrap();
    w.check_rejected(ALICE, AuditApprove { request: ask.clone() }, &format!("request {ask} was already approved"));
    w.check_rejected(ALICE, AuditDeny { request: ask.clone() }, &format!("request {ask} was already approved"));
    w.check_rejected(ALICE, done(&ask, &"m".repeat(129)), "model is 129 characters long; at most 128");
    w.run(ALICE, done(&ask, "ollama:llama3.1")).unwrap();
    w.check_rejected(ALICE, done(&ask, ""), &format!("request {ask} already has a result"));
}

#[test]
fn fork_carries_the_parents_traits_and_sweep_expires_overdue_commitments() {
    let mut w = World::new();
    w.run(ALICE, create("Echo")).unwrap();
    w.run(ALICE, traits("Echo", Some("0.05"), Some("-0.02"))).unwrap();
    let echo = w.state.persona_named(&ALICE, "Echo").unwrap().unwrap();
    let fork = PersonaFork { persona: echo.to_string(), name: "Fork".into(), license: None };
    let events = decide(&w.state, &BOB, NOW, &fork.into()).unwrap();
    let Event::PersonaForked(fork) = &events[0] else { panic!("{events:?}") };
    assert_eq!(fork.traits.openness, Units(550_000));
    assert_eq!(fork.traits.neuroticism, Units(480_000));
    assert_eq!(events[0].refs(), vec![echo]);

    // A commitment due soon, then a sweep after it is due.
    let due = Instant(NOW + 10);
    w.run(ALICE, CommitmentOpen { persona: "Echo".into(), title: "soon".into(), due: Some(due) }).unwrap();
    let sweep: Command = CommitmentSweep {}.into();
    let none = decide(&w.state, &ALICE, NOW, &sweep).unwrap();
    assert!(none.is_empty(), "nothing is overdue yet");
    let later = decide(&w.state, &ALICE, NOW + 11, &sweep).unwrap();
    assert_eq!(later.len(), 1);
    assert_eq!(later[0].kind(), "commitment.expired/1");
    let others = decide(&w.state, &BOB, NOW + 11, &sweep).unwrap();
    assert!(others.is_empty(), "a sweep touches only the author's commitments");
}

#[test]
fn events_that_break_their_rules_are_not_folded() {
    let mut w = World::new();
    let echo = w.run(ALICE, create("Echo")).unwrap()[0];
    let too_big = Event::TraitsChanged(TraitsChanged {
        persona: echo,
        deltas: Traits { openness: Units(200_000), ..Traits::default() },
    });
    assert_eq!(
        too_big.check(),
        Err(Rejection::TraitDeltaTooLarge { name: "openness", delta: Units(200_000) }),
        "the check names the rule and the value"
    );
    w.state.apply(&ALICE, Hash([7; 32]), &too_big);
    assert_eq!(w.state.persona(&echo).unwrap().unwrap().traits, Traits::NEUTRAL);
    let unnamed = Event::PersonaCreated(PersonaCreated { name: String::new(), description: String::new() });
    w.state.apply(&ALICE, Hash([8; 32]), &unnamed);
    assert_eq!(w.state.persona(&Hash([8; 32])).unwrap(), None);
    assert_eq!(too_big.domain(), "persona");
    let booking = Event::BookingRequested(BookingRequested { listing: Hash([1; 32]), start: 5, end: 5 });
    assert_eq!(booking.domain(), "market");
    let expected = format!("the booking ends ({t}) before it starts ({t})", t = Instant(5));
    assert_eq!(booking.check().unwrap_err().to_string(), expected);
}

#[test]
fn commands_have_a_json_form() {
    let json = r#"{"command":"persona.traits","persona":"Echo","openness":0.05,"neuroticism":-0.02}"#;
    let command: Command = serde_json::from_str(json).unwrap();
    assert_eq!(command, Command::from(traits("Echo", Some("0.05"), Some("-0.02"))));
    assert_eq!(serde_json::to_value(&command).unwrap()["command"], "persona.traits");
    let open: Command =
        serde_json::from_str(r#"{"command":"commitment.open","persona":"Echo","title":"t","due":"2026-12-01"}"#)
            .unwrap();
    assert!(matches!(open, Command::CommitmentOpen(CommitmentOpen { due: Some(_), .. })));
    let bad = serde_json::from_str::<Command>(r#"{"command":"persona.create","name":"E","colour":"red"}"#);
    assert!(bad.unwrap_err().to_string().contains("unknown field `colour`"));
    let sweep = serde_json::from_str::<Command>(r#"{"command":"commitment.sweep","x":1}"#);
    assert!(sweep.unwrap_err().to_string().contains("unknown field `x`, there are no fields"));
    let unknown = serde_json::from_str::<Command>(r#"{"command":"nope"}"#).unwrap_err().to_string();
    assert!(unknown.contains("unknown variant `nope`, expected one of `persona.create`"), "{unknown}");
    let defaults: Command =
        serde_json::from_str(r#"{"command":"market.publish","kind":"plugin","name":"P","version":"1.0.0"}"#).unwrap();
    assert_eq!(defaults, Command::from(publish(ListingKind::Plugin, "P", None, &[])), "currency defaults to EUR");
}

/// Every command's name has its JSON form in docs/commands.md.
#[test]
fn every_command_is_documented() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/commands.md")).unwrap();
    for name in Command::NAMES {
        assert!(doc.contains(&format!("{{\"command\": \"{name}\"")), "docs/commands.md has no JSON form of {name}");
        assert!(doc.contains(&format!("| {name} |")), "docs/commands.md §7 does not list {name}");
    }
}
