#!/usr/bin/env python3
"""verify_export.py: an outsider's verifier of a mindlog JSON Lines export.

Written from format.md ("mindlog file and export formats") alone, with the Python 3.11
standard library only: BLAKE3 and Ed25519 are implemented below.

Usage:
  verify_export.py FILE                 verify an export (format.md §5, "Writing your own verifier")
  verify_export.py --self-test [DOC]    check the test vectors of format.md §8 (and known
                                        BLAKE3 / RFC 8032 vectors) through the same code

On success prints
  ok: N events, F feeds (present P, private Q, erased E, withheld W, format-1 I)
where P + Q + E + W + I = N: P counts format-2 payloads present and not private, Q present and
private, E erased, W withheld, I format-1 events (which have no payload state, §2a).
On the first failure prints "line K: <reason>" on stderr and exits 1. Usage errors exit 2.
"""
import base64
import datetime
import hashlib
import json
import os
import re
import struct
import sys


class Bad(Exception):
    """A verification failure; the message is the reason."""


# ============================================================================ BLAKE3
# Unkeyed hash, 32-byte output (format.md §2, §2a), after the BLAKE3 specification:
# 1024-byte chunks of 64-byte blocks, a compression function of 7 rounds, a binary tree of
# chaining values whose left subtree holds the largest power of two of chunks.
B3_IV = (0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A,
         0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19)
B3_PERM = (2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8)
CHUNK_START, CHUNK_END, PARENT, ROOT = 1, 2, 4, 8
M32 = 0xFFFFFFFF


def _b3_compress(cv, block, counter, block_len, flags):
    m = list(struct.unpack("<16I", block))
    s = list(cv) + list(B3_IV[:4]) + [counter & M32, counter >> 32, block_len, flags]

    def g(a, b, c, d, x, y):
        s[a] = (s[a] + s[b] + x) & M32; t = s[d] ^ s[a]; s[d] = (t >> 16 | t << 16) & M32
        s[c] = (s[c] + s[d]) & M32;     t = s[b] ^ s[c]; s[b] = (t >> 12 | t << 20) & M32
        s[a] = (s[a] + s[b] + y) & M32; t = s[d] ^ s[a]; s[d] = (t >> 8 | t << 24) & M32
        s[c] = (s[c] + s[d]) & M32;     t = s[b] ^ s[c]; s[b] = (t >> 7 | t << 25) & M32

    for _ in range(7):
        g(0, 4, 8, 12, m[0], m[1]); g(1, 5, 9, 13, m[2], m[3])
        g(2, 6, 10, 14, m[4], m[5]); g(3, 7, 11, 15, m[6], m[7])
        g(0, 5, 10, 15, m[8], m[9]); g(1, 6, 11, 12, m[10], m[11])
        g(2, 7, 8, 13, m[12], m[13]); g(3, 4, 9, 14, m[14], m[15])
        m = [m[i] for i in B3_PERM]
    return [s[i] ^ s[i + 8] for i in range(8)]  # the first 8 output words = chaining value


def _b3_chunk(chunk, counter, root):
    cv = B3_IV
    blocks = [chunk[i:i + 64] for i in range(0, len(chunk), 64)] or [b""]
    for j, blk in enumerate(blocks):
        flags = (CHUNK_START if j == 0 else 0) | (CHUNK_END if j == len(blocks) - 1 else 0)
        if root and j == len(blocks) - 1:
            flags |= ROOT
        cv = _b3_compress(cv, blk.ljust(64, b"\0"), counter, len(blk), flags)
    return cv


def _b3_tree(chunks, first, root):
    if len(chunks) == 1:
        return _b3_chunk(chunks[0], first, root)
    n_left = 1 << ((len(chunks) - 1).bit_length() - 1)  # largest power of 2 below len
    left = _b3_tree(chunks[:n_left], first, False)
    right = _b3_tree(chunks[n_left:], first + n_left, False)
    return _b3_compress(B3_IV, struct.pack("<16I", *left, *right), 0, 64,
                        PARENT | (ROOT if root else 0))


def blake3(data):
    chunks = [data[i:i + 1024] for i in range(0, len(data), 1024)] or [b""]
    return struct.pack("<8I", *_b3_tree(chunks, 0, True))


# ============================================================================ Ed25519
# RFC 8032 (edwards25519), points in extended coordinates (X, Y, Z, T). format.md §3 asks for:
# an author key that decodes and is not of small order, S < L, and the cofactored equation
# [8][S]B = [8]R + [8][k]A with k = SHA-512(R ‖ A ‖ hash) mod L.
FP = 2 ** 255 - 19
L = 2 ** 252 + 27742317777372353535851937790883648493
ED_D = -121665 * pow(121666, FP - 2, FP) % FP
SQRT_M1 = pow(2, (FP - 1) // 4, FP)
IDENTITY = (0, 1, 1, 0)


def _padd(p, q):
    x1, y1, z1, t1 = p
    x2, y2, z2, t2 = q
    a, b = (y1 - x1) * (y2 - x2) % FP, (y1 + x1) * (y2 + x2) % FP
    c, d = 2 * t1 * t2 * ED_D % FP, 2 * z1 * z2 % FP
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % FP, g * h % FP, f * g % FP, e * h % FP)


def _pmul(s, p):
    q = IDENTITY
    while s:
        if s & 1:
            q = _padd(q, p)
        p, s = _padd(p, p), s >> 1
    return q


def _pneg(p):
    return (-p[0] % FP, p[1], p[2], -p[3] % FP)


def _peq(p, q):
    return (p[0] * q[2] - q[0] * p[2]) % FP == 0 and (p[1] * q[2] - q[1] * p[2]) % FP == 0


def _recover_x(y, sign):
    if y >= FP:
        return None  # RFC 8032 §5.1.3: non-canonical y is a decoding failure
    x2 = (y * y - 1) * pow(ED_D * y * y + 1, FP - 2, FP) % FP
    if x2 == 0:
        return None if sign else 0  # "-0" is a decoding failure too
    x = pow(x2, (FP + 3) // 8, FP)
    if (x * x - x2) % FP:
        x = x * SQRT_M1 % FP
    if (x * x - x2) % FP:
        return None
    return FP - x if (x & 1) != sign else x


def _pdecode(b):
    y = int.from_bytes(b, "little")
    sign, y = y >> 255, y & ((1 << 255) - 1)
    x = _recover_x(y, sign)
    return None if x is None else (x, y, 1, x * y % FP)


def _pencode(p):
    zi = pow(p[2], FP - 2, FP)
    x, y = p[0] * zi % FP, p[1] * zi % FP
    return (y | (x & 1) << 255).to_bytes(32, "little")


_BY = 4 * pow(5, FP - 2, FP) % FP
BASE = (_recover_x(_BY, 0), _BY, 1, _recover_x(_BY, 0) * _BY % FP)


def ed25519_verify(pub, msg, sig):
    """Raise Bad unless sig is a valid signature of msg by pub (format.md §3)."""
    if len(pub) != 32 or len(sig) != 64:
        raise Bad("signature or key of the wrong length")
    a = _pdecode(pub)
    if a is None:
        raise Bad("author key does not decode to a curve point")
    if _peq(_pmul(8, a), IDENTITY):
        raise Bad("author key is a point of small order")
    r = _pdecode(sig[:32])
    if r is None:
        raise Bad("signature R does not decode to a curve point")
    s = int.from_bytes(sig[32:], "little")
    if s >= L:
        raise Bad("signature S is not canonical (S >= L)")
    k = int.from_bytes(hashlib.sha512(sig[:32] + pub + msg).digest(), "little") % L
    q = _padd(_pmul(s, BASE), _pneg(_padd(r, _pmul(k, a))))  # [S]B - R - [k]A
    if not _peq(_pmul(8, q), IDENTITY):
        raise Bad("signature does not verify (§3)")


def ed25519_secret_parts(secret):
    h = hashlib.sha512(secret).digest()
    a = int.from_bytes(h[:32], "little") & ((1 << 254) - 8) | (1 << 254)
    return a, h[32:], _pencode(_pmul(a, BASE))


def ed25519_sign(secret, msg):  # for the self-test only (RFC 8032 §5.1.6)
    a, prefix, pub = ed25519_secret_parts(secret)
    r = int.from_bytes(hashlib.sha512(prefix + msg).digest(), "little") % L
    rb = _pencode(_pmul(r, BASE))
    k = int.from_bytes(hashlib.sha512(rb + pub + msg).digest(), "little") % L
    return rb + ((r + k * a) % L).to_bytes(32, "little")


# ============================================================================ §1 The envelope
KIND_RE = re.compile(r"[a-z][a-z0-9._-]*/[1-9][0-9]*")  # used with fullmatch (no "\n" slip)
MAX_TS = 253402300799999999
MAX_REFS, MAX_PAYLOAD, MAX_KIND = 64, 262144, 64
EVENT_DOMAIN = b"mindlog.event.v1\x00"      # §2
PAYLOAD_DOMAIN = b"mindlog.payload.v2\x00"  # §2a


class _Reader:
    def __init__(self, buf):
        self.buf, self.pos = buf, 0

    def take(self, n, what):
        if self.pos + n > len(self.buf):
            raise Bad(f"envelope truncated in {what}")
        self.pos += n
        return self.buf[self.pos - n:self.pos]

    def varint(self, what):  # unsigned LEB128, minimal, at most 10 bytes, a u64
        value = 0
        for i in range(10):
            b = self.take(1, what)[0]
            value |= (b & 0x7F) << (7 * i)
            if not b & 0x80:
                if b == 0 and i > 0:
                    raise Bad(f"non-minimal varint in {what}")
                if value >= 1 << 64:
                    raise Bad(f"varint in {what} overflows u64")
                return value
        raise Bad(f"varint in {what} longer than 10 bytes")


def parse_envelope(buf):
    """Parse and validate envelope bytes (§1 encoding and validity rules 1-6)."""
    rd = _Reader(buf)
    env = {"version": rd.take(1, "version")[0]}
    if env["version"] > 2:
        raise Bad(f"newer format: envelope version {env['version']}")
    if env["version"] != 2 and env["version"] != 1:
        raise Bad(f"envelope version {env['version']} is not 1 or 2")
    env["author"] = rd.take(32, "author")
    env["seq"] = rd.varint("seq")
    tag = rd.take(1, "prev tag")[0]
    if tag not in (0, 1):
        raise Bad(f"invalid option tag {tag:#04x} for prev")
    env["prev"] = rd.take(32, "prev") if tag else None
    env["ts"] = rd.varint("ts")
    kind = rd.take(rd.varint("kind length"), "kind")
    try:
        env["kind"] = kind.decode("utf-8")
    except UnicodeDecodeError:
        raise Bad("kind is not UTF-8")
    env["refs"] = [rd.take(32, "refs") for _ in range(rd.varint("refs count"))]
    if env["version"] == 1:
        env["payload"] = rd.take(rd.varint("payload length"), "payload")
        env["payload_size"] = len(env["payload"])
    else:
        env["payload_size"] = rd.varint("payload_size")
        env["commitment"] = rd.take(32, "commitment")
    if rd.pos != len(buf):
        raise Bad(f"{len(buf) - rd.pos} bytes left over after the envelope")
    # validity rules 3-6
    if env["seq"] < 1:
        raise Bad("seq is 0")
    if (env["prev"] is None) != (env["seq"] == 1):
        raise Bad("prev must be absent exactly when seq = 1")
    if len(kind) > MAX_KIND or not KIND_RE.fullmatch(env["kind"]):
        raise Bad(f"invalid kind {env['kind']!r}")
    if env["ts"] > MAX_TS:
        raise Bad("ts after 9999-12-31T23:59:59.999999Z")
    if len(env["refs"]) > MAX_REFS:
        raise Bad(f"{len(env['refs'])} refs (at most {MAX_REFS})")
    if env["payload_size"] > MAX_PAYLOAD:
        raise Bad(f"payload of {env['payload_size']} bytes (at most {MAX_PAYLOAD})")
    return env


def _varint(n):
    out = bytearray()
    while True:
        out.append(n & 0x7F | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


def encode_envelope(env):  # used by the self-test: §1's encoding, field by field
    out = bytes([env["version"]]) + env["author"] + _varint(env["seq"])
    out += b"\x00" if env["prev"] is None else b"\x01" + env["prev"]
    kind = env["kind"].encode()
    out += _varint(env["ts"]) + _varint(len(kind)) + kind
    out += _varint(len(env["refs"])) + b"".join(env["refs"])
    if env["version"] == 1:
        return out + _varint(len(env["payload"])) + env["payload"]
    return out + _varint(env["payload_size"]) + env["commitment"]


def event_hash(envelope):  # §2
    return blake3(EVENT_DOMAIN + envelope)


def commitment(salt, payload):  # §2a
    return blake3(PAYLOAD_DOMAIN + salt + payload)


# ============================================================================ §5 One export line
MEMBERS_V1 = ["hash", "signature", "author", "seq", "prev", "ts", "time", "kind", "refs",
              "payload_size", "version", "signed"]
MEMBERS_V2 = ["hash", "signature", "author", "seq", "prev", "ts", "time", "kind", "refs",
              "payload_size", "commitment", "version", "signed", "payload_state"]
MEMBERS_PRESENT = ["private", "salt", "payload"]
STATES = ("present", "erased", "withheld")
HEX64 = re.compile(r"[0-9a-f]{64}")
HEX128 = re.compile(r"[0-9a-f]{128}")


def rfc3339(ts):  # §5 `time`: YYYY-MM-DDTHH:MM:SS.ffffffZ
    t = datetime.datetime(1970, 1, 1) + datetime.timedelta(microseconds=ts)
    return (f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:"
            f"{t.second:02d}.{t.microsecond:06d}Z")


def b64decode_strict(s, what):
    """Standard base64 with padding (RFC 4648 §4); only the one canonical spelling."""
    if not isinstance(s, str):
        raise Bad(f"{what} is not a string")
    try:
        raw = base64.b64decode(s, validate=True)
    except ValueError:
        raise Bad(f"{what} is not valid base64")
    if base64.b64encode(raw).decode() != s:
        raise Bad(f"{what} is not canonical base64")
    return raw


def _no_dups(pairs):
    keys = [k for k, _ in pairs]
    dup = next((k for k in keys if keys.count(k) > 1), None)
    if dup is not None:
        raise Bad(f"member {dup!r} appears twice")
    return dict(pairs)


def _no_constants(name):
    raise Bad(f"not JSON: {name}")


def verify_line(raw):
    """Check one export line (bytes, without its "\\n") on its own: everything but feeds."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Bad("line is not UTF-8")
    try:
        obj = json.loads(text, object_pairs_hook=_no_dups, parse_constant=_no_constants)
    except json.JSONDecodeError as e:
        raise Bad(f"not JSON: {e.msg}")
    if not isinstance(obj, dict):
        raise Bad("line is not a JSON object")
    unknown = [k for k in obj if k not in MEMBERS_V2 + MEMBERS_PRESENT]
    if unknown:
        raise Bad(f"unknown member {unknown[0]!r}")
    for k in ("signed", "hash", "signature"):
        if not isinstance(obj.get(k), str):
            raise Bad(f"member {k!r} missing or not a string")

    # `signed` -> envelope bytes -> fields, validity (§1)
    envelope = b64decode_strict(obj["signed"], "signed")
    env = parse_envelope(envelope)

    # hash (§2)
    h = event_hash(envelope)
    if obj["hash"] != h.hex():
        raise Bad(f"hash {obj['hash']} is not the envelope's hash {h.hex()}")

    # signature (§3) over the 32-byte hash, by `author` (field 2)
    if not HEX128.fullmatch(obj["signature"]):
        raise Bad("signature is not 128 lowercase hex characters")
    ed25519_verify(env["author"], h, bytes.fromhex(obj["signature"]))

    # the member list for this version and payload state (§5 table and the paragraph below it)
    state = private = None
    if env["version"] == 1:
        expected = MEMBERS_V1
    else:
        state = obj.get("payload_state")
        if state not in STATES:
            raise Bad(f"payload_state {state!r} is not one of {', '.join(STATES)}")
        expected = MEMBERS_V2 + (MEMBERS_PRESENT if state == "present" else [])
    keys = list(obj)
    for k in expected:
        if k not in keys:
            raise Bad(f"member {k!r} missing")
    for k in keys:
        if k not in expected:
            raise Bad(f"member {k!r} not allowed in a format-{env['version']} line"
                      + (f" whose payload is {state}" if state else ""))
    if keys != expected:
        raise Bad("members out of order")

    # decoded members equal the envelope (§5 "every other member is a decoding of signed")
    want = {"author": env["author"].hex(), "seq": env["seq"],
            "prev": env["prev"].hex() if env["prev"] else None, "ts": env["ts"],
            "time": rfc3339(env["ts"]), "kind": env["kind"],
            "refs": [r.hex() for r in env["refs"]], "payload_size": env["payload_size"],
            "version": env["version"]}
    if env["version"] == 2:
        want["commitment"] = env["commitment"].hex()
    for k, v in want.items():
        got = obj[k]
        if got != v or type(got) is not type(v):  # type(): true is not 1, 1.0 is not 1
            raise Bad(f"member {k!r} is {json.dumps(got)}, the envelope says {json.dumps(v)}")

    # a present format-2 payload: size and commitment (§2a, §5 import check 4)
    if state == "present":
        private = obj["private"]
        if not isinstance(private, bool):
            raise Bad("member 'private' is not true or false")
        if not isinstance(obj["salt"], str) or not HEX64.fullmatch(obj["salt"]):
            raise Bad("salt is not 64 lowercase hex characters")
        payload = b64decode_strict(obj["payload"], "payload")
        if len(payload) != env["payload_size"]:
            raise Bad(f"payload has {len(payload)} bytes, the envelope says {env['payload_size']}")
        if commitment(bytes.fromhex(obj["salt"]), payload) != env["commitment"]:
            raise Bad("payload and salt do not match the envelope's commitment (§2a)")

    # canonical: byte for byte the compact serde_json line of these members (§5)
    canon = {k: want.get(k, obj[k]) for k in expected}
    if json.dumps(canon, separators=(",", ":"), ensure_ascii=False) != text:
        raise Bad("line is not canonical (not the compact form of §5)")
    return {"env": env, "hash": h, "state": state, "private": private}


# ============================================================================ §4 Feeds, whole file
def verify_lines(lines):
    """Verify export lines in order; raise (line number, reason) on the first failure."""
    feeds = {}   # author -> [hash of seq 1, hash of seq 2, ...]
    where = {}   # hash -> (line number, event)
    counts = dict.fromkeys(("present", "private", "erased", "withheld", "format-1"), 0)
    for no, raw in enumerate(lines, 1):
        try:
            if not raw:
                raise Bad("empty line")
            ev = verify_line(raw)
            env, h = ev["env"], ev["hash"]
            feed = feeds.setdefault(env["author"], [])
            seq, last = env["seq"], len(feed)
            if seq <= last:
                j = where[feed[seq - 1]][0]
                if feed[seq - 1] == h:
                    raise Bad(f"duplicate of line {j}")
                raise Bad(f"fork: seq {seq} of this author is line {j}, with another hash")
            if seq > last + 1:
                raise Bad(f"gap: this author's feed is at seq {last}, this event has seq {seq}")
            if seq > 1 and env["prev"] != feed[-1]:
                raise Bad(f"prev is not the hash of seq {seq - 1} (line {where[feed[-1]][0]})")
            # §9: a store that holds a ledger.erased/1 event has erased the payloads it names
            # that are earlier format-2 events of the same author; so an export cannot show them
            if env["kind"] == "ledger.erased/1":
                for r in env["refs"]:
                    j, old = where.get(r, (0, None))
                    if old and old["env"]["author"] == env["author"] and old["state"] == "present":
                        raise Bad(f"erases the payload of line {j}, which is exported as present")
            feed.append(h)
            where[h] = (no, ev)
            key = ("format-1" if env["version"] == 1 else
                   "private" if ev["private"] else ev["state"])
            counts[key] += 1
        except Bad as e:
            raise Bad(f"line {no}: {e}")
    return len(lines), len(feeds), counts


def verify_file(path):
    with open(path, "rb") as f:
        data = f.read()
    if not data:
        return verify_lines([])
    lines = data.split(b"\n")
    if lines[-1] != b"":  # every line, the last too, ends with one "\n" (§5)
        raise Bad(f"line {len(lines)}: no final newline")
    return verify_lines(lines[:-1])


def summary(n, f, c):
    return (f"ok: {n} events, {f} feeds (present {c['present']}, private {c['private']}, "
            f"erased {c['erased']}, withheld {c['withheld']}, format-1 {c['format-1']})")


# ============================================================================ --self-test
def read_vectors(doc):
    """The ```text blocks of format.md §8, as dicts of their `key: value` lines."""
    vectors = []
    for block in re.findall(r"```text\n(.*?)```", doc, re.S):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "vector" in fields:
            vectors.append(fields)
    return vectors


def expect_failure(what, fn, needle):
    try:
        fn()
    except Bad as e:
        if needle not in str(e):
            raise AssertionError(f"{what}: refused for the wrong reason: {e}")
        return f"{what}: refused ({e})"
    raise AssertionError(f"{what}: accepted, should be refused")


def self_test(doc_path):
    out = []
    # BLAKE3: the two vectors of the brief, then the official BLAKE3 test_vectors.json
    # (input i % 251, first 32 bytes of `hash`), which cover 1, 2, 3, 4 and 5+ chunks.
    assert blake3(b"").hex() == "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
    assert blake3(b"abc").hex() == "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85"
    official = {
        1: "2d3adedff11b61f14c886e35afa036736dcd87a74d27b5c1510225d0f592e213",
        1023: "10108970eeda3eb932baac1428c7a2163b0e924c9a9e25b35bba72b28f70bd11",
        1024: "42214739f095a406f3fc83deb889744ac00df831c10daa55189b5d121c855af7",
        1025: "d00278ae47eb27b34faecf67b4fe263f82d5412916c1ffd97c8cb7fb814b8444",
        2048: "e776b6028c7cd22a4d0ba182a8bf62205d2ef576467e838ed6f2529b85fba24a",
        2049: "5f4d72f40d7a5f82b15ca2b2e44b1de3c2ef86c426c95c1af0b6879522563030",
        3073: "7124b49501012f81cc7f11ca069ec9226cecb8a2c850cfe644e327d22d3e1cd3",
        4097: "9b4052b38f1c5fc8b1f9ff7ac7b27cd242487b3d890d15c96a1c25b8aa0fb995",
        5121: "628bd2cb2004694adaab7bbd778a25df25c47b9d4155a55f8fbd79f2fe154cff"}
    for n, want in official.items():
        assert blake3(bytes(i % 251 for i in range(n))).hex() == want, f"blake3 length {n}"
    out.append(f"blake3: empty, abc and {len(official)} official vectors (up to 5121 bytes) ok")

    # Ed25519: RFC 8032 §7.1 test 1
    sk = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
    pk = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
    sig = bytes.fromhex("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb88215"
                        "90a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b")
    assert ed25519_secret_parts(sk)[2] == pk and ed25519_sign(sk, b"") == sig
    ed25519_verify(pk, b"", sig)
    out.append("ed25519: RFC 8032 test 1 ok (key, sign, verify)")
    out.append(expect_failure("RFC 8032 test 1 with a message", lambda: ed25519_verify(pk, b"x", sig),
                              "does not verify"))
    ident = (1).to_bytes(32, "little")  # the identity point, of small order
    out.append(expect_failure("small-order author", lambda: ed25519_verify(ident, b"", sig),
                              "small order"))
    big_s = sig[:32] + (int.from_bytes(sig[32:], "little") + L).to_bytes(32, "little")
    out.append(expect_failure("S + L", lambda: ed25519_verify(pk, b"", big_s), "S >= L"))

    # the prefixes of §2 and §2a, as the document spells them
    assert EVENT_DOMAIN.hex() == "6d696e646c6f672e6576656e742e763100"
    assert PAYLOAD_DOMAIN.hex() == "6d696e646c6f672e7061796c6f61642e763200"
    # varint examples of §1
    for n, hx in ((0, "00"), (1, "01"), (127, "7f"), (128, "8001"), (300, "ac02")):
        assert _varint(n).hex() == hx and _Reader(bytes.fromhex(hx)).varint("x") == n
    out.append(expect_failure("varint 8000", lambda: _Reader(b"\x80\x00").varint("x"), "non-minimal"))
    out.append(expect_failure("11-byte varint", lambda: _Reader(b"\x80" * 10 + b"\x01").varint("x"),
                              "longer than 10"))

    with open(doc_path, encoding="utf-8") as f:
        vectors = read_vectors(f.read())
    assert vectors, f"no test vectors found in {doc_path}"
    lines = {}
    for v in vectors:
        name = f"vector {v['vector']}"
        env = {"version": int(v["version"]), "author": bytes.fromhex(v["author"]),
               "seq": int(v["seq"]), "ts": int(v["ts"]), "kind": v["kind"],
               "prev": None if v["prev"] == "none" else bytes.fromhex(v["prev"]),
               "refs": [] if v["refs"] == "none" else [bytes.fromhex(r) for r in v["refs"].split(",")]}
        payload = bytes.fromhex(v["payload"])
        if env["version"] == 1:
            env["payload"], env["payload_size"] = payload, len(payload)
        else:
            assert int(v["size"]) == len(payload), f"{name}: size"
            env["payload_size"] = len(payload)
            env["commitment"] = commitment(bytes.fromhex(v["salt"]), payload)
            assert env["commitment"].hex() == v["commitment"], f"{name}: commitment (§2a)"
        secret = bytes.fromhex(v["secret"])
        assert ed25519_secret_parts(secret)[2] == env["author"], f"{name}: author key of secret"
        envelope = bytes.fromhex(v["envelope"])
        assert encode_envelope(env) == envelope, f"{name}: envelope encoding (§1)"
        assert parse_envelope(envelope) == env, f"{name}: envelope parse (§1)"
        h = event_hash(envelope)
        assert h.hex() == v["hash"], f"{name}: hash (§2)"
        assert ed25519_sign(secret, h).hex() == v["signature"], f"{name}: signature (§3)"
        ed25519_verify(env["author"], h, bytes.fromhex(v["signature"]))
        for key in ("jsonl", "jsonl_erased", "jsonl_withheld"):
            if key in v:
                ev = verify_line(v[key].encode())  # the same code path as a file's lines
                state = {"jsonl_erased": "erased", "jsonl_withheld": "withheld"}.get(
                    key, "present" if env["version"] == 2 else None)
                assert ev["state"] == state and ev["hash"] == h, f"{name}: {key}"
                if state == "present":
                    assert ev["private"] == (v["private"] == "true"), f"{name}: private"
                lines[(v["vector"], key)] = v[key].encode()
        out.append(f"{name}: commitment, envelope, hash, signature, "
                   f"{sum(k in v for k in ('jsonl', 'jsonl_erased', 'jsonl_withheld'))} jsonl line(s) ok")

    # feeds (§4): vectors 1, 2, 4 (erased, since 5 erases it), 5 are one feed
    feed = [lines[("1", "jsonl")], lines[("2", "jsonl")], lines[("4", "jsonl_erased")],
            lines[("5", "jsonl")]]
    out.append("feed 1,2,4e,5: " + summary(*verify_lines(feed)))
    out.append("feed 1,2,4w,5: " + summary(*verify_lines(feed[:2] + [lines[("4", "jsonl_withheld")], feed[3]])))
    out.append(expect_failure("feed 1,2,4 present,5", lambda: verify_lines(feed[:2] + [lines[("4", "jsonl")], feed[3]]),
                              "exported as present"))
    out.append(expect_failure("feed 2 alone", lambda: verify_lines(feed[1:2]), "gap"))
    out.append(expect_failure("feed 1,1", lambda: verify_lines(feed[:1] * 2), "duplicate"))
    out.append(expect_failure("feed 1,4e", lambda: verify_lines([feed[0], feed[2]]), "gap"))
    out.append(expect_failure("vector 3 alone", lambda: verify_lines([lines[("3", "jsonl")]]), "gap"))
    tampered = feed[0].replace(b'"seq":1,', b'"seq":1 ,')
    out.append(expect_failure("vector 1 with a space", lambda: verify_line(tampered), "not canonical"))
    return out


# ============================================================================ main
def main(argv):
    if len(argv) >= 2 and argv[1] == "--self-test" and len(argv) <= 3:
        here = os.path.dirname(os.path.abspath(__file__))
        candidates = argv[2:] or [os.path.join(here, "..", "..", "..", "docs", "format.md")]
        doc = next((p for p in candidates if os.path.isfile(p)), None)
        if doc is None:
            print("usage: verify_export.py --self-test [FORMAT_MD]: format.md not found",
                  file=sys.stderr)
            return 2
        try:
            for line in self_test(doc):
                print(line)
        except (AssertionError, Bad) as e:
            print(f"self-test FAILED: {e}", file=sys.stderr)
            return 1
        print(f"self-test ok ({doc})")
        return 0
    if len(argv) != 2 or argv[1].startswith("-"):
        print("usage: verify_export.py FILE | --self-test [FORMAT_MD]", file=sys.stderr)
        return 2
    try:
        print(summary(*verify_file(argv[1])))
    except OSError as e:
        print(f"cannot read {argv[1]}: {e.strerror}", file=sys.stderr)
        return 2
    except Bad as e:
        print(e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
