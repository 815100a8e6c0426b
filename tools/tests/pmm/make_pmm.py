"""Writes a Persistent Mind Model ledger the way PMM does (pmm/core/event_log.py): its `events`
schema, timestamps, and each event's hash, the SHA-256 of Python's canonical JSON of kind,
content, meta and the previous row's hash. The reference the tests hold mindlog to.

usage: python3 make_pmm.py DB EVENTS.json   (appends the events, a JSON list of
{"kind", "content", "meta"}, to DB, creating it if needed)
"""

import json
import sqlite3
import sys
from datetime import datetime, timezone
from hashlib import sha256


def canonical_json(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def main():
    path, events = sys.argv[1], json.load(open(sys.argv[2], encoding="utf-8"))
    conn = sqlite3.connect(path)
    with conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY AUTOINCREMENT, ts TEXT NOT NULL, "
            "kind TEXT NOT NULL, content TEXT NOT NULL, meta TEXT NOT NULL, prev_hash TEXT, hash TEXT)"
        )
        # PMM keeps other tables beside the ledger.
        conn.execute("CREATE TABLE IF NOT EXISTS pmm_governance (k TEXT, v TEXT)")
    for e in events:
        # "meta_text": meta stored as given (any JSON formatting), hashed as PMM reads it back.
        meta = json.loads(e["meta_text"]) if "meta_text" in e else (e.get("meta") or {})
        stored_meta = e["meta_text"] if "meta_text" in e else canonical_json(meta)
        row = conn.execute("SELECT hash FROM events ORDER BY id DESC LIMIT 1").fetchone()
        prev_hash = row[0] if row and row[0] else None
        payload = {"kind": e["kind"], "content": e["content"], "meta": meta, "prev_hash": prev_hash}
        digest = sha256(canonical_json(payload).encode("utf-8")).hexdigest()
        ts = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        with conn:
            conn.execute(
                "INSERT INTO events (ts, kind, content, meta, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?)",
                (ts, e["kind"], e["content"], stored_meta, prev_hash, digest),
            )
    conn.close()


if __name__ == "__main__":
    main()
