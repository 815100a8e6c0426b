//! Lists a reader asks for beside the pages: a persona's memories, its closed commitments, and
//! the tool calls waiting for a person's answer.

use mindlog_commands::{Decision, Instant, Micros, Outcome};
use mindlog_ledger::{Hash, StorageError};
use serde::Serialize;

use crate::persona::CommitmentStatus;
use crate::profile;
use crate::views::{AuditLine, MemoryLine, Views};

/// Which memories [`Views::memory_list`] returns.
#[derive(Clone, Copy, Debug, Default)]
pub struct MemoryFilter<'a> {
    /// Forgotten memories too.
    pub forgotten: bool,
    /// Only memories whose text or one of whose tags contains this, ignoring case.
    pub search: Option<&'a str>,
}

/// A commitment that ended: closed by its persona, or expired by a sweep.
#[derive(Clone, Debug, Serialize)]
pub struct ClosedCommitmentLine {
    /// The commitment's id.
    pub id: Hash,
    /// What was promised.
    pub title: String,
    /// closed or expired.
    pub status: &'static str,
    /// How it was closed (done, failed, cancelled); none for an expired one.
    pub outcome: Option<Outcome>,
    /// When it was opened.
    pub opened: Instant,
    /// When it was due, if ever.
    pub due: Option<Instant>,
    /// When it was closed or expired.
    pub ended: Option<Instant>,
}

impl Views {
    /// A persona's memories, oldest first, with their strength as of `as_of`.
    pub fn memory_list(
        &self,
        persona: &Hash,
        as_of: Micros,
        filter: MemoryFilter<'_>,
    ) -> Result<Vec<MemoryLine>, StorageError> {
        let needle = filter.search.map(str::to_lowercase);
        let matches = |text: &str| needle.as_deref().is_none_or(|n| text.to_lowercase().contains(n));
        let mut lines: Vec<MemoryLine> = self
            .memories_of(persona)?
            .into_iter()
            .filter(|(_, m)| filter.forgotten || m.forgotten.is_none())
            .filter(|(_, m)| matches(&m.text) || m.tags.iter().any(|t| matches(t)))
            .map(|(id, m)| MemoryLine {
                id,
                strength: profile::memory_strength(m.importance, m.created, m.forgotten, as_of),
                importance: m.importance,
                tags: m.tags,
                created: Instant(m.created),
                forgotten: m.forgotten.map(Instant),
                text: m.text,
            })
            .collect();
        lines.sort_by(|a, b| a.created.cmp(&b.created).then(a.id.cmp(&b.id)));
        Ok(lines)
    }

    /// A persona's commitments that ended, in the order they ended.
    pub fn closed_commitments(&self, persona: &Hash) -> Result<Vec<ClosedCommitmentLine>, StorageError> {
        let mut lines: Vec<ClosedCommitmentLine> = self
            .commitments_of(persona)?
            .into_iter()
            .filter(|(_, c)| c.status != CommitmentStatus::Open)
            .map(|(id, c)| ClosedCommitmentLine {
                id,
                title: c.title,
                status: c.status.as_str(),
                outcome: c.outcome,
                opened: Instant(c.opened),
                due: c.due.map(Instant),
                ended: c.ended.map(Instant),
            })
            .collect();
        lines.sort_by(|a, b| a.ended.cmp(&b.ended).then(a.id.cmp(&b.id)));
        Ok(lines)
    }

    /// Tool-call requests decided ask that nobody approved or denied yet, oldest first.
    pub fn audit_pending(&self) -> Result<Vec<AuditLine>, StorageError> {
        let mut lines: Vec<AuditLine> = self
            .audit_rows()?
            .into_iter()
            .filter(|(_, r)| r.decision == Decision::Ask && r.answer.is_none())
            .map(|(id, r)| AuditLine::new(id, r))
            .collect();
        lines.sort_by(|a, b| a.at.cmp(&b.at).then(a.id.cmp(&b.id)));
        Ok(lines)
    }
}
