"""Writes a Persistent Mind Model ledger the way PMM does (pmm/core/event_log.py): its `events`
schema, timestamps, and each event's hash, the SHA-256 of Python's canonical JSON of kind,
content, meta and the previous row's hash. The reference the tests hold mindlog to.

usage: python3 make_pmm.py DB EVENTS.json   (appends the events, a JSON list of
{"kind", "content", "meta"}, to DB, creating it if needed)
       python3 make_pmm.py DB --mind N     (appends N events of a chatty mind: the turns of a
conversation in several languages, reflections, commitments opened and closed, model swaps;
the benchmark ledger of docs/performance.md)
"""

import json
import sqlite3
import sys
from datetime import datetime, timezone
from hashlib import sha256


def canonical_json(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def a_mind(n):
    """N events as a PMM runtime writes them, turn after turn."""
    events, open_cids = [], []
    words = ["grüß dich", "日本語", "🙂 fine", "plain text", "ünïcode — dash", "more words here"]
    i = 0
    while len(events) < n:
        i += 1
        model = "llama3.1" if (i // 500) % 2 == 0 else "qwen2.5"
        turn = [
            {"kind": "user_message", "content": f"message {i}: {words[i % len(words)]}", "meta": {"role": "user"}},
            {"kind": "assistant_message", "content": f"reply {i}: {words[(i + 1) % len(words)]} " * 4,
             "meta": {"about_event": i, "provider": "ollama", "role": "assistant"}},
            {"kind": "metrics_turn", "content": f"provider:ollama,model:{model},in_tokens:{700 + i % 97},out_tokens:{i % 31},lat_ms:{i % 13}",
             "meta": {"telemetry": {"ratio": (i % 1000) / 7.0, "tokens": [i, i * 2.5, 1e-07]}}},
            {"kind": "reflection", "content": json.dumps({"intent": f"turn {i}", "next": "continue"}),
             "meta": {"source": "unknown", "synth": "pmm"}},
        ]
        if i % 10 == 0:
            cid = f"{i:08x}"
            open_cids.append(cid)
            turn.append({"kind": "commitment_open", "content": f"Commitment opened: task {i}",
                         "meta": {"cid": cid, "impact_score": 0.5, "text": f"task {i}"}})
        if i % 10 == 5 and open_cids:
            cid = open_cids.pop(0)
            turn.append({"kind": "commitment_close", "content": f"Commitment closed: {cid}", "meta": {"cid": cid, "source": "assistant"}})
        events.extend(turn)
    return events[:n]


def main():
    path = sys.argv[1]
    if sys.argv[2] == "--mind":
        events = a_mind(int(sys.argv[3]))
    else:
        events = json.load(open(sys.argv[2], encoding="utf-8"))
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous = OFF")
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
