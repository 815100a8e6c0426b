//! Events imported from a Persistent Mind Model ledger (docs/pmm.md): their payload, the PMM
//! record as PMM stored it, and what the PMM kinds that mean what a mindlog persona event means
//! say to the persona view.
//!
//! An imported event keeps its own kind, `pmm.<PMM kind>/1`, and its payload is the PMM record
//! (JSON), so that PMM's chain can be re-verified from a mindlog export alone. The persona view
//! reads the meaning of the few kinds that have one ([`PmmRecord::meaning`]); every other kind is
//! kept and queryable, and means nothing to the views.

use mindlog_ledger::Hash;
use serde::{Deserialize, Serialize};

use crate::catalog::Event;
use crate::persona::{MessageRecorded, Outcome, Reflected, Role};

/// The kinds of imported PMM events: `pmm.` then PMM's kind, then `/1`.
pub const PMM_KIND_PREFIX: &str = "pmm.";

/// The kind of the public event that records how far an import of a PMM ledger went.
pub const PMM_POSITION_KIND: &str = "import.pmm/1";

/// The model hash recorded for a model PMM ran on: PMM records a provider and a model name, no
/// content hash.
pub const PMM_MODEL_HASH: &str = "pmm:unrecorded";

/// The version suffix of every imported kind.
const PMM_KIND_VERSION: &str = "/1";

/// The mindlog kind of an event of PMM kind `kind`.
pub fn pmm_kind(kind: &str) -> String {
    format!("{PMM_KIND_PREFIX}{kind}{PMM_KIND_VERSION}")
}

/// The PMM kinds whose records are, alone, a persona event ([`PmmRecord::event`]), with that
/// event's kind: what readers of a kind's events through the kind index also read.
const PMM_EVENT_KINDS: &[(&str, &str)] = &[
    ("user_message", "persona.message/1"),
    ("assistant_message", "persona.message/1"),
    ("reflection", "persona.reflected/1"),
];

/// One row of PMM's `events` table, column by column, as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PmmRow {
    /// PMM's id: the row's place in the chain.
    pub id: i64,
    /// As PMM wrote it (RFC 3339); not hashed by PMM.
    pub ts: String,
    /// PMM's kind, e.g. `reflection`.
    pub kind: String,
    /// PMM's content.
    pub content: String,
    /// PMM's meta: a JSON object, as stored (text).
    pub meta: String,
    /// The previous event's hash, as stored.
    pub prev_hash: Option<String>,
    /// This event's hash, as stored.
    pub hash: Option<String>,
}

/// The payload of an imported PMM event (JSON): the PMM row as stored, the ledger it came from
/// and the persona it was imported into.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PmmRecord {
    /// Which PMM ledger: `uuid:…` (PMM's database identity) or `first:HASH` (its first event's).
    pub ledger: String,
    /// The persona the import bound the ledger to (`import --pmm --persona`): the one whose
    /// views the event feeds.
    pub persona: Hash,
    /// The row, its columns beside `ledger` and `persona`.
    #[serde(flatten)]
    pub row: PmmRow,
}

/// What an imported PMM event means to a persona, for the kinds that mean something.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PmmMeaning {
    /// `user_message`, `assistant_message`: a chat turn.
    Message(Role, String),
    /// `reflection`: a reflection, its content as the text.
    Reflection(String),
    /// `commitment_open`: a commitment, named by PMM's `cid`; its title is `meta.text` (an
    /// internal commitment's `meta.goal`; the content where there is neither).
    CommitmentOpened {
        /// PMM's commitment id.
        cid: String,
        /// What is promised.
        title: String,
    },
    /// `commitment_close`: the commitment opened under `cid` ends. PMM's close records no
    /// outcome unless `meta.outcome` names one: `failed`, `cancelled` (or `canceled`,
    /// `abandoned`), otherwise done.
    CommitmentClosed {
        /// PMM's commitment id.
        cid: String,
        /// How it ended.
        outcome: Outcome,
    },
    /// `identity_adoption`: the name the mind adopted (the token of PMM's adoption protocol
    /// without its `identity.` prefix, or `meta.name`), where it keeps the rules of a persona's
    /// name.
    Identity(String),
    /// `metrics_turn`: the turn ran on `provider:model` (PMM's diagnostics line
    /// `provider:P,model:M,…`; `provider` alone when the model is empty).
    Model(String),
}

impl PmmRecord {
    /// The record of an imported event of `kind`, or `None` when the kind is not an imported
    /// PMM kind or the payload is not the record of one of that kind.
    pub fn decode(kind: &str, payload: &[u8]) -> Option<PmmRecord> {
        let pmm = kind.strip_prefix(PMM_KIND_PREFIX)?.strip_suffix(PMM_KIND_VERSION)?;
        let record: PmmRecord = serde_json::from_slice(payload).ok()?;
        (record.row.kind == pmm).then_some(record)
    }

    /// The persona event a message or a reflection is: the meanings that need nothing but the
    /// record (a commitment's close needs the view to find its opening; identity and model
    /// changes need the persona as it is).
    pub fn event(&self) -> Option<Event> {
        let persona = self.persona;
        match self.row.meaning()? {
            PmmMeaning::Message(role, text) => Some(Event::MessageRecorded(MessageRecorded { persona, role, text })),
            PmmMeaning::Reflection(text) => Some(Event::Reflected(Reflected { persona, text })),
            _ => None,
        }
    }

    /// The imported kinds whose records [`PmmRecord::event`] makes into `kind`'s events (for
    /// readers of a kind's events through the kind index).
    pub fn kinds_meaning(kind: &str) -> Vec<String> {
        PMM_EVENT_KINDS.iter().filter(|(_, event)| *event == kind).map(|(pmm, _)| pmm_kind(pmm)).collect()
    }
}

/// PMM's kind for the name a mind adopts.
const IDENTITY_ADOPTION: &str = "identity_adoption";

impl PmmRow {
    /// The name an `identity_adoption` adopts, without reading any other kind's row.
    pub fn adopted_name(&self) -> Option<String> {
        if self.kind != IDENTITY_ADOPTION {
            return None;
        }
        let meta_str = |field| self.meta_str(field);
        let token = serde_json::from_str::<serde_json::Value>(&self.content)
            .ok()
            .and_then(|c| c.get("token").and_then(|t| t.as_str()).map(str::to_owned))
            .or_else(|| meta_str("token"))
            .or_else(|| meta_str("name"))?;
        let name = token.strip_prefix("identity.").unwrap_or(&token).trim();
        crate::check::name(name).ok()?;
        Some(name.to_owned())
    }

    /// The text member `field` of its meta, trimmed.
    fn meta_str(&self, field: &str) -> Option<String> {
        let meta = serde_json::from_str::<serde_json::Value>(&self.meta).ok()?;
        meta.get(field).and_then(|v| v.as_str()).map(|s| s.trim().to_owned())
    }

    /// What it means to a persona, if anything.
    pub fn meaning(&self) -> Option<PmmMeaning> {
        let meta_str = |field| self.meta_str(field);
        Some(match self.kind.as_str() {
            "user_message" => PmmMeaning::Message(Role::User, self.content.clone()),
            "assistant_message" => PmmMeaning::Message(Role::Assistant, self.content.clone()),
            "reflection" => PmmMeaning::Reflection(self.content.clone()),
            "commitment_open" => PmmMeaning::CommitmentOpened {
                cid: meta_str("cid").filter(|c| !c.is_empty())?,
                title: meta_str("text")
                    .or_else(|| meta_str("goal"))
                    .filter(|t| !t.is_empty())
                    .unwrap_or_else(|| self.content.trim().to_owned()),
            },
            "commitment_close" => PmmMeaning::CommitmentClosed {
                cid: meta_str("cid").filter(|c| !c.is_empty())?,
                outcome: match meta_str("outcome").unwrap_or_default().to_ascii_lowercase().as_str() {
                    "failed" | "fail" | "failure" => Outcome::Failed,
                    "cancelled" | "canceled" | "abandoned" => Outcome::Cancelled,
                    _ => Outcome::Done,
                },
            },
            IDENTITY_ADOPTION => PmmMeaning::Identity(self.adopted_name()?),
            "metrics_turn" => {
                let field = |name: &str| {
                    self.content
                        .split(',')
                        .find_map(|part| part.trim().strip_prefix(name)?.strip_prefix(':'))
                        .map(str::trim)
                        .filter(|v| !v.is_empty())
                };
                let provider = field("provider")?;
                PmmMeaning::Model(field("model").map_or_else(|| provider.to_owned(), |m| format!("{provider}:{m}")))
            }
            _ => return None,
        })
    }
}

/// The payload of `import.pmm/1` (public JSON), written in the same transaction as the events it
/// counts: the last PMM event imported so far from `ledger`, and the persona it feeds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PmmPosition {
    /// Which PMM ledger (`uuid:…` or `first:HASH`).
    pub ledger: String,
    /// The persona its events feed (`None`: written before imports fed personas).
    #[serde(default)]
    pub persona: Option<Hash>,
    /// The last PMM event imported.
    pub last_id: i64,
    /// Its hash, as stored.
    pub last_hash: Option<String>,
    /// Events imported in the transaction that wrote it.
    pub events: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(kind: &str, content: &str, meta: &str) -> PmmRecord {
        PmmRecord {
            ledger: "uuid:x".into(),
            persona: Hash([3; 32]),
            row: PmmRow {
                id: 1,
                ts: "2026-11-29T17:00:18.794085Z".into(),
                kind: kind.into(),
                content: content.into(),
                meta: meta.into(),
                prev_hash: None,
                hash: Some("ab".into()),
            },
        }
    }

    #[test]
    fn meanings_of_the_kinds_pmm_writes() {
        let m = |kind, content, meta| record(kind, content, meta).row.meaning();
        assert_eq!(m("user_message", "hi", "{}"), Some(PmmMeaning::Message(Role::User, "hi".into())));
        assert_eq!(m("reflection", "{\"a\":1}", "{}"), Some(PmmMeaning::Reflection("{\"a\":1}".into())));
        assert_eq!(
            m("commitment_open", "Commitment opened: x", r#"{"cid":"e2eb5791","text":"note this item"}"#),
            Some(PmmMeaning::CommitmentOpened { cid: "e2eb5791".into(), title: "note this item".into() })
        );
        assert_eq!(m("commitment_open", "Commitment opened: x", "{}"), None, "no cid, no commitment");
        assert_eq!(
            m("commitment_close", "Commitment closed: e2eb5791", r#"{"cid":"e2eb5791","source":"assistant"}"#),
            Some(PmmMeaning::CommitmentClosed { cid: "e2eb5791".into(), outcome: Outcome::Done })
        );
        assert_eq!(
            m("commitment_close", "", r#"{"cid":"c","outcome":"Abandoned"}"#),
            Some(PmmMeaning::CommitmentClosed { cid: "c".into(), outcome: Outcome::Cancelled })
        );
        assert_eq!(
            m("identity_adoption", r#"{"reason":"r","subject_id":"pmm.self","token":"identity.Echo"}"#, "{}"),
            Some(PmmMeaning::Identity("Echo".into()))
        );
        assert_eq!(m("identity_adoption", "Echo", r#"{"name":"Echo"}"#), Some(PmmMeaning::Identity("Echo".into())));
        assert_eq!(m("identity_adoption", "{}", r#"{"token":"identity."}"#), None);
        assert_eq!(
            m("metrics_turn", "provider:ollama,model:llama3.1,in_tokens:1", "{}"),
            Some(PmmMeaning::Model("ollama:llama3.1".into()))
        );
        assert_eq!(
            m("metrics_turn", "provider:dummy,model:,in_tokens:1", "{}"),
            Some(PmmMeaning::Model("dummy".into()))
        );
        assert_eq!(m("embedding_add", "{}", "{}"), None);
    }

    #[test]
    fn a_record_decodes_only_under_its_own_kind() {
        let r = record("reflection", "x", "{}");
        let bytes = serde_json::to_vec(&r).unwrap();
        assert_eq!(PmmRecord::decode("pmm.reflection/1", &bytes), Some(r.clone()));
        assert_eq!(PmmRecord::decode("pmm.user_message/1", &bytes), None);
        assert_eq!(PmmRecord::decode("persona.reflected/1", &bytes), None);
        assert_eq!(PmmRecord::decode("pmm.reflection/1", b"{}"), None);
        let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        let fields: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(fields.len(), 9, "the row's columns beside ledger and persona: {fields:?}");
        assert!(matches!(r.event(), Some(Event::Reflected(_))));
    }

    #[test]
    fn kinds_meaning_lists_exactly_the_kinds_whose_records_are_events_of_that_kind() {
        let others = ["commitment_open", "commitment_close", "identity_adoption", "metrics_turn", "claim"];
        for pmm in PMM_EVENT_KINDS.iter().map(|(pmm, _)| *pmm).chain(others) {
            let r = record(pmm, "text", r#"{"cid":"c"}"#);
            for kind in Event::KINDS {
                let listed = PmmRecord::kinds_meaning(kind).contains(&pmm_kind(pmm));
                assert_eq!(listed, r.event().is_some_and(|e| e.kind() == *kind), "{pmm} as {kind}");
            }
        }
    }
}
