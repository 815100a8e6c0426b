"""Writes a Persistent Mind Model ledger with PMM's own code: its RuntimeLoop, EventLog and
identity and commitment protocols, driven by a scripted model (PMM's DummyAdapter, with scripted
replies). `tools/tests/pmm/real-pmm.db` was written by this script; the tests import that file.

usage: PYTHONPATH=<a checkout of scottonanski/persistent-mind-model-v1.0> python3 make_real_pmm.py DB

It needs PMM's dependencies (pip install networkx python-dotenv rich openai "mcp>=1,<2"). The
checkout used: 539f893 (2026-11).
"""

import json
import sys

from pmm.adapters import GenerationResult
from pmm.core.event_log import EventLog
from pmm.runtime.loop import RuntimeLoop


class ScriptedOllamaAdapter:
    """Replies from a script; named like PMM's Ollama adapter, so PMM records provider ollama."""

    deterministic_latency_ms = 0

    def __init__(self, log):
        self.log = log
        self.model = "llama3.1"
        self.replies = []

    def open_cid(self):
        opened = [e for e in self.log.read_all() if e["kind"] == "commitment_open"]
        return opened[-1]["meta"]["cid"]

    def generate_reply(self, system_prompt, user_prompt):
        reply = self.replies.pop(0)
        if callable(reply):
            reply = reply()
        return GenerationResult(text=reply, status="complete", meta={"provider": "ollama", "model": self.model})


def claim(kind, token):
    body = {"subject_id": "pmm.self", "token": token}
    if kind == "identity_proposal":
        body["description"] = "the one who answers"
        body["evidence_events"] = []
    return f"CLAIM:{kind}={json.dumps(body, sort_keys=True, separators=(',', ':'))}"


def main():
    log = EventLog(sys.argv[1])
    adapter = ScriptedOllamaAdapter(log)
    loop = RuntimeLoop(eventlog=log, adapter=adapter, autonomy=False)
    turns = [
        ("Hello, who are you?", "Hello! I keep what we say.\nCOMMIT: remember the user's name"),
        ("Ich heiße Zoë — grüß dich 🙂", "Grüß dich, Zoë! 🙂\n" + claim("identity_proposal", "identity.Echo")),
        ("Do you want to be called Echo?", "Yes: Echo it is.\n" + claim("identity_ratify", "identity.Echo")),
    ]
    for user, reply in turns:
        adapter.replies.append(reply)
        loop.run_turn(user)
    # A model swap, then the commitment closed.
    adapter.model = "qwen2.5"
    adapter.replies.append(lambda: f"Your name is Zoë.\nCLOSE: {adapter.open_cid()}")
    loop.run_turn("What is my name?")
    adapter.replies.append("Always.")
    loop.run_turn("Thanks, Echo.")


if __name__ == "__main__":
    main()
