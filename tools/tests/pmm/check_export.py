"""Re-verifies the chains of the PMM ledgers imported into a mindlog store, from its export alone
(`mindlog export --jsonl --include-private`), with PMM's own rule (pmm/core/event_log.py):
each event's hash is the SHA-256 of Python's canonical JSON of kind, content, meta and the
previous event's hash. Standard library only; it shares no code with mindlog.

usage: python3 check_export.py EXPORT.jsonl
Prints one line per PMM ledger; exit 0 when every chain holds, 1 otherwise.
"""

import base64
import json
import sys
from hashlib import sha256


def canonical_json(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def main():
    ledgers = {}
    for line in open(sys.argv[1], encoding="utf-8"):
        event = json.loads(line)
        if not event["kind"].startswith("pmm.") or event.get("payload_state") != "present":
            continue
        record = json.loads(base64.b64decode(event["payload"]))
        if event["kind"] != "pmm." + record["kind"] + "/1":
            print(f"FAILED: mindlog event {event['hash']} of kind {event['kind']} holds a {record['kind']}")
            return 1
        # One chain per PMM ledger and importer: one ledger imported by two identities is two copies.
        ledgers.setdefault((event["author"], record["ledger"]), []).append(record)
    failed = False
    for (author, ledger), records in sorted(ledgers.items()):
        records.sort(key=lambda r: r["id"])
        last, problem = None, None
        for r in records:
            if r["prev_hash"] != last:
                problem = f"pmm event {r['id']}: prev_hash {r['prev_hash']} is not the hash before it, {last}"
                break
            payload = {"kind": r["kind"], "content": r["content"], "meta": json.loads(r["meta"]), "prev_hash": r["prev_hash"]}
            if sha256(canonical_json(payload).encode("utf-8")).hexdigest() != r["hash"]:
                problem = f"pmm event {r['id']}: its hash {r['hash']} is not what its content hashes to"
                break
            last = r["hash"] or None
        if problem:
            failed = True
            print(f"FAILED: {ledger} imported by {author}: {problem}")
        else:
            print(f"OK: {ledger} imported by {author}: {len(records)} events, ids {records[0]['id']} to "
                  f"{records[-1]['id']}, head {last}")
    return 1 if failed or not ledgers else 0


if __name__ == "__main__":
    sys.exit(main())
