#!/usr/bin/env python3
"""An independent checker of mindlog checkpoints, inclusion proofs and consistency proofs.

Written only from the specifications, never from mindlog's source:

- mindlog's docs/format.md: section 1 (the envelope), section 2 (the event hash),
  section 10 (checkpoints and proofs);
- C2SP signed-note, tlog-checkpoint, tlog-proof and tlog-witness (c2sp.org);
- RFC 9162 section 2.1 (Merkle tree hashing, inclusion and consistency proof verification);
- RFC 8032 section 5.1 (Ed25519) and the BLAKE3 specification (hash mode).

Python 3 standard library only: Ed25519 verification and BLAKE3 are implemented here.

Usage:
    check_tlog.py checkpoint FILE VKEY   ->  OK size=N root=BASE64
    check_tlog.py proof FILE VKEY        ->  OK seq=S kind=K size=N
    check_tlog.py consistency FILE OLD_CHECKPOINT VKEY  ->  OK old=M new=N
    check_tlog.py selftest               ->  OK selftest (...)

The self-test checks Ed25519 against RFC 8032 test 1, BLAKE3 against the official test vectors,
the note verifier against the C2SP signed-note example, the Merkle code against trees built here
and (when ../shared/testdata/tlog, or $MINDLOG_TLOG_TESTDATA, is at hand) transparency-dev/merkle's
inclusion and consistency vectors, and, when the script sits in mindlog's repository, every test vector of
docs/format.md (sections 8 and 10).

VKEY is a C2SP verifier key NAME+KEYID+BASE64. On any failure the checker prints
`FAILED: reason` and exits 1.
"""

import base64
import hashlib
import json
import os
import re
import sys
from pathlib import Path


class CheckError(Exception):
    """A check that failed: the message is the reason printed after `FAILED: `."""


# ---------------------------------------------------------------------------------------------
# Ed25519 verification (RFC 8032 section 5.1), in the style of the RFC's reference code.
# ---------------------------------------------------------------------------------------------

ED_P = 2**255 - 19
ED_L = 2**252 + 27742317777372353535851937790883648493
ED_D = -121665 * pow(121666, ED_P - 2, ED_P) % ED_P
ED_SQRT_M1 = pow(2, (ED_P - 1) // 4, ED_P)
ED_IDENTITY = (0, 1, 1, 0)


def _ed_add(pt1, pt2):
    """Adds two points in extended homogeneous coordinates (X, Y, Z, T), x = X/Z, y = Y/Z, xy = T/Z."""
    a = (pt1[1] - pt1[0]) * (pt2[1] - pt2[0]) % ED_P
    b = (pt1[1] + pt1[0]) * (pt2[1] + pt2[0]) % ED_P
    c = 2 * pt1[3] * pt2[3] * ED_D % ED_P
    d = 2 * pt1[2] * pt2[2] % ED_P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % ED_P, g * h % ED_P, f * g % ED_P, e * h % ED_P)


def _ed_mul(scalar, point):
    result = ED_IDENTITY
    while scalar > 0:
        if scalar & 1:
            result = _ed_add(result, point)
        point = _ed_add(point, point)
        scalar >>= 1
    return result


def _ed_equal(pt1, pt2):
    # x1/z1 == x2/z2 and y1/z1 == y2/z2
    if (pt1[0] * pt2[2] - pt2[0] * pt1[2]) % ED_P != 0:
        return False
    return (pt1[1] * pt2[2] - pt2[1] * pt1[2]) % ED_P == 0


def _ed_recover_x(y, sign):
    if y >= ED_P:
        return None
    x2 = (y * y - 1) * pow(ED_D * y * y + 1, ED_P - 2, ED_P) % ED_P
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (ED_P + 3) // 8, ED_P)
    if (x * x - x2) % ED_P != 0:
        x = x * ED_SQRT_M1 % ED_P
    if (x * x - x2) % ED_P != 0:
        return None
    if (x & 1) != sign:
        x = ED_P - x
    return x


_ED_GY = 4 * pow(5, ED_P - 2, ED_P) % ED_P
_ED_GX = _ed_recover_x(_ED_GY, 0)
ED_BASE = (_ED_GX, _ED_GY, 1, _ED_GX * _ED_GY % ED_P)


def _ed_compress(point):
    zinv = pow(point[2], ED_P - 2, ED_P)
    x = point[0] * zinv % ED_P
    y = point[1] * zinv % ED_P
    return int.to_bytes(y | ((x & 1) << 255), 32, "little")


def _ed_decompress(data):
    """Decodes a point as RFC 8032 section 5.1.3 does (refusing non-canonical encodings); None if invalid."""
    if len(data) != 32:
        return None
    y = int.from_bytes(data, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    x = _ed_recover_x(y, sign)
    if x is None:
        return None
    return (x, y, 1, x * y % ED_P)


def ed25519_public_key(secret):
    """The public key of a 32-byte RFC 8032 secret (only for the self-test)."""
    digest = hashlib.sha512(secret).digest()
    a = int.from_bytes(digest[:32], "little")
    a &= (1 << 254) - 8
    a |= 1 << 254
    return _ed_compress(_ed_mul(a, ED_BASE))


def ed25519_verify(public, message, signature):
    """RFC 8032 section 5.1.7: True when `signature` is a valid signature of `message` by `public`.

    Uses the group equation [8][S]B = [8]R + [8][k]A' that section 5.1.7 states; refuses S >= L,
    points that do not decode, and a public key of small order ([8]A is the identity).
    """
    if len(public) != 32 or len(signature) != 64:
        return False
    a_point = _ed_decompress(public)
    if a_point is None:
        return False
    if _ed_equal(_ed_mul(8, a_point), ED_IDENTITY):
        return False
    r_bytes = signature[:32]
    r_point = _ed_decompress(r_bytes)
    if r_point is None:
        return False
    s = int.from_bytes(signature[32:], "little")
    if s >= ED_L:
        return False
    k = int.from_bytes(hashlib.sha512(r_bytes + public + message).digest(), "little") % ED_L
    left = _ed_mul(8, _ed_mul(s, ED_BASE))
    right = _ed_mul(8, _ed_add(r_point, _ed_mul(k, a_point)))
    return _ed_equal(left, right)


# ---------------------------------------------------------------------------------------------
# BLAKE3, hash mode only, 32-byte output.
# ---------------------------------------------------------------------------------------------

B3_IV = (0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A, 0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19)
B3_PERMUTATION = (2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8)
B3_CHUNK_START = 1
B3_CHUNK_END = 2
B3_PARENT = 4
B3_ROOT = 8
B3_BLOCK_LEN = 64
B3_CHUNK_LEN = 1024
M32 = 0xFFFFFFFF


def _b3_g(v, a, b, c, d, mx, my):
    v[a] = (v[a] + v[b] + mx) & M32
    v[d] ^= v[a]
    v[d] = ((v[d] >> 16) | (v[d] << 16)) & M32
    v[c] = (v[c] + v[d]) & M32
    v[b] ^= v[c]
    v[b] = ((v[b] >> 12) | (v[b] << 20)) & M32
    v[a] = (v[a] + v[b] + my) & M32
    v[d] ^= v[a]
    v[d] = ((v[d] >> 8) | (v[d] << 24)) & M32
    v[c] = (v[c] + v[d]) & M32
    v[b] ^= v[c]
    v[b] = ((v[b] >> 7) | (v[b] << 25)) & M32


def _b3_compress(cv, block_words, counter, block_len, flags):
    """The compression function: all 16 output words."""
    v = list(cv) + list(B3_IV[:4]) + [counter & M32, (counter >> 32) & M32, block_len, flags]
    m = list(block_words)
    for rnd in range(7):
        _b3_g(v, 0, 4, 8, 12, m[0], m[1])
        _b3_g(v, 1, 5, 9, 13, m[2], m[3])
        _b3_g(v, 2, 6, 10, 14, m[4], m[5])
        _b3_g(v, 3, 7, 11, 15, m[6], m[7])
        _b3_g(v, 0, 5, 10, 15, m[8], m[9])
        _b3_g(v, 1, 6, 11, 12, m[10], m[11])
        _b3_g(v, 2, 7, 8, 13, m[12], m[13])
        _b3_g(v, 3, 4, 9, 14, m[14], m[15])
        if rnd < 6:
            m = [m[i] for i in B3_PERMUTATION]
    for i in range(8):
        v[i] ^= v[i + 8]
        v[i + 8] ^= cv[i]
    return v


def _b3_words(block):
    block = block + bytes(B3_BLOCK_LEN - len(block))
    return [int.from_bytes(block[i : i + 4], "little") for i in range(0, B3_BLOCK_LEN, 4)]


def _b3_chunk_output(chunk, counter):
    """Compresses all but the last block of one chunk; the last block's inputs, not yet compressed
    (it is the root if the whole input is this chunk)."""
    cv = list(B3_IV)
    blocks = [chunk[i : i + B3_BLOCK_LEN] for i in range(0, len(chunk), B3_BLOCK_LEN)] or [b""]
    for i, block in enumerate(blocks):
        flags = B3_CHUNK_START if i == 0 else 0
        if i == len(blocks) - 1:
            return (cv, _b3_words(block), counter, len(block), flags | B3_CHUNK_END)
        cv = _b3_compress(cv, _b3_words(block), counter, B3_BLOCK_LEN, flags)[:8]
    raise AssertionError("unreachable")


def _b3_subtree_output(data, first_chunk):
    """The output node of the subtree over `data`, whose first chunk has index `first_chunk`."""
    if len(data) <= B3_CHUNK_LEN:
        return _b3_chunk_output(data, first_chunk)
    # The left subtree holds the largest power of two of whole chunks that leaves at least one
    # byte for the right subtree.
    chunks = (len(data) + B3_CHUNK_LEN - 1) // B3_CHUNK_LEN
    left_chunks = 1 << ((chunks - 1).bit_length() - 1)
    split = left_chunks * B3_CHUNK_LEN
    left = _b3_chaining_value(_b3_subtree_output(data[:split], first_chunk))
    right = _b3_chaining_value(_b3_subtree_output(data[split:], first_chunk + left_chunks))
    return (list(B3_IV), left + right, 0, B3_BLOCK_LEN, B3_PARENT)


def _b3_chaining_value(output):
    cv, words, counter, block_len, flags = output
    return _b3_compress(cv, words, counter, block_len, flags)[:8]


def blake3(data):
    """BLAKE3 of `data` in the default hash mode, 32 bytes."""
    cv, words, counter, block_len, flags = _b3_subtree_output(bytes(data), 0)
    out = _b3_compress(cv, words, counter, block_len, flags | B3_ROOT)[:8]
    return b"".join(w.to_bytes(4, "little") for w in out)


# ---------------------------------------------------------------------------------------------
# Encodings.
# ---------------------------------------------------------------------------------------------

DECIMAL = re.compile(r"0|[1-9][0-9]*")
BASE64_TEXT = re.compile(r"[A-Za-z0-9+/]*={0,2}")


def b64decode_strict(text, what):
    """Standard base64 (RFC 4648 section 4) with padding, refusing anything that does not re-encode
    to exactly `text`."""
    if not BASE64_TEXT.fullmatch(text) or len(text) % 4 != 0:
        raise CheckError(f"{what} is not standard base64")
    try:
        data = base64.b64decode(text, validate=True)
    except ValueError as err:
        raise CheckError(f"{what} is not standard base64 ({err})") from None
    if base64.b64encode(data).decode("ascii") != text:
        raise CheckError(f"{what} is not canonical base64")
    return data


def parse_decimal(text, what):
    if not DECIMAL.fullmatch(text):
        raise CheckError(f"{what} {text[:40]!r} is not a decimal number without leading zeros")
    if len(text) > 20 or int(text) > 2**64 - 1:
        raise CheckError(f"{what} does not fit in 64 bits")
    return int(text)


# ---------------------------------------------------------------------------------------------
# C2SP signed notes and checkpoints.
# ---------------------------------------------------------------------------------------------

SIG_TYPE_ED25519 = 0x01
MAX_NOTE_BYTES = 1 << 20
MAX_SIGNATURES = 100


def valid_key_name(name):
    return name != "" and "+" not in name and not any(ch.isspace() for ch in name)


def key_id(name, sig_type, public):
    return hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([sig_type]) + public).digest()[:4]


class Verifier:
    """A C2SP verifier key `NAME+KEYID+BASE64(0x01 || public key)` for Ed25519."""

    def __init__(self, vkey):
        # The key name holds no plus sign, but base64 may: split at the first two only.
        parts = vkey.split("+", 2)
        if len(parts) != 3:
            raise CheckError("the verifier key is not NAME+KEYID+BASE64")
        name, hex_id, b64 = parts
        if not valid_key_name(name):
            raise CheckError("the verifier key's name is empty or holds a space")
        if not re.fullmatch(r"[0-9a-f]{8}", hex_id):
            raise CheckError("the verifier key's id is not 8 lowercase hex digits")
        material = b64decode_strict(b64, "the verifier key's key")
        if len(material) != 33 or material[0] != SIG_TYPE_ED25519:
            raise CheckError("the verifier key is not an Ed25519 key (type 0x01 and 32 bytes)")
        self.name = name
        self.public = material[1:]
        self.key_id = bytes.fromhex(hex_id)
        if key_id(name, SIG_TYPE_ED25519, self.public) != self.key_id:
            raise CheckError("the verifier key's id is not SHA-256(name || 0x0A || 0x01 || key)[:4]")


def verify_note(note_bytes, verifier):
    """Verifies a C2SP signed note with one trusted key: its text (str, final newline included)."""
    if len(note_bytes) > MAX_NOTE_BYTES:
        raise CheckError("the note is too large")
    try:
        note = note_bytes.decode("utf-8")
    except UnicodeDecodeError:
        raise CheckError("the note is not valid UTF-8") from None
    if any(ord(ch) < 0x20 and ch != "\n" for ch in note):
        raise CheckError("the note holds a control character")
    split = note.rfind("\n\n")
    if split < 0:
        raise CheckError("the note has no blank line before its signatures")
    text, sigs = note[: split + 1], note[split + 2 :]
    if sigs == "" or not sigs.endswith("\n"):
        raise CheckError("the note's signature lines are missing or do not end with a newline")
    lines = sigs[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise CheckError("the note has too many signatures")
    verified = False
    for line in lines:
        if not line.startswith("\u2014 "):
            raise CheckError("a signature line does not start with an em dash and a space")
        name, space, b64 = line[2:].partition(" ")
        if not space or not valid_key_name(name):
            raise CheckError("a signature line is malformed")
        sig = b64decode_strict(b64, "a signature")
        if len(sig) < 5:
            raise CheckError("a signature is too short")
        if name != verifier.name or sig[:4] != verifier.key_id:
            continue  # another key's signature: ignored
        if not ed25519_verify(verifier.public, text.encode("utf-8"), sig[4:]):
            raise CheckError(f"the signature by {name} does not verify")
        verified = True
    if not verified:
        raise CheckError(f"the note is not signed by {verifier.name}")
    return text


FEED_ORIGIN_PREFIX = "mindlog.local/feed/"


def check_checkpoint(note_bytes, verifier):
    """Verifies a checkpoint: (origin, size, root)."""
    text = verify_note(note_bytes, verifier)
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise CheckError("the checkpoint has fewer than three lines")
    if any(line == "" for line in lines):
        raise CheckError("the checkpoint has an empty line")
    origin = lines[0]
    size = parse_decimal(lines[1], "the checkpoint's size")
    root = b64decode_strict(lines[2], "the checkpoint's root")
    if len(root) != 32:
        raise CheckError("the checkpoint's root is not 32 bytes")
    if origin != verifier.name:
        raise CheckError(f"the checkpoint's origin {origin!r} is not the key's name {verifier.name!r}")
    if origin.startswith(FEED_ORIGIN_PREFIX) and origin[len(FEED_ORIGIN_PREFIX) :] != verifier.public.hex():
        raise CheckError("the checkpoint's key is not the feed author's key")
    return origin, size, root


# ---------------------------------------------------------------------------------------------
# The mindlog envelope (docs/format.md section 1) and event hash (section 2).
# ---------------------------------------------------------------------------------------------

EVENT_DOMAIN = b"mindlog.event.v1\x00"
KIND_RE = re.compile(r"[a-z][a-z0-9._-]*/[1-9][0-9]*")
MAX_TS = 253402300799999999
MAX_REFS = 64
MAX_PAYLOAD = 262144


class Reader:
    def __init__(self, data):
        self.data = data
        self.pos = 0

    def take(self, n, what):
        if n > len(self.data) - self.pos:
            raise CheckError(f"the envelope ends inside {what}")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def u8(self, what):
        return self.take(1, what)[0]

    def varint(self, what):
        value = 0
        for i in range(10):
            byte = self.u8(what)
            value |= (byte & 0x7F) << (7 * i)
            if byte & 0x80 == 0:
                if byte == 0 and i > 0:
                    raise CheckError(f"{what} is not a minimal varint")
                if value > 2**64 - 1:
                    raise CheckError(f"{what} does not fit in 64 bits")
                return value
        raise CheckError(f"{what} is a varint longer than 10 bytes")


def decode_envelope(data):
    """Decodes and validates an envelope (section 1): a dict of its fields."""
    r = Reader(data)
    version = r.u8("version")
    if version == 0:
        raise CheckError("the envelope's version is 0")
    if version > 2:
        raise CheckError(f"the envelope is of a newer format ({version})")
    env = {"version": version, "author": r.take(32, "author"), "seq": r.varint("seq")}
    tag = r.u8("prev")
    if tag == 0:
        env["prev"] = None
    elif tag == 1:
        env["prev"] = r.take(32, "prev")
    else:
        raise CheckError(f"prev has option tag {tag}")
    env["ts"] = r.varint("ts")
    kind_len = r.varint("kind's length")
    try:
        env["kind"] = r.take(kind_len, "kind").decode("utf-8")
    except UnicodeDecodeError:
        raise CheckError("kind is not UTF-8") from None
    count = r.varint("refs' count")
    if count > MAX_REFS:
        raise CheckError(f"{count} refs, more than {MAX_REFS}")
    env["refs"] = [r.take(32, "a ref") for _ in range(count)]
    if version == 1:
        payload_len = r.varint("payload's length")
        if payload_len > MAX_PAYLOAD:
            raise CheckError("the payload is too large")
        env["payload"] = r.take(payload_len, "payload")
        env["payload_size"] = payload_len
    else:
        env["payload_size"] = r.varint("payload_size")
        env["commitment"] = r.take(32, "commitment")
    if r.pos != len(data):
        raise CheckError("bytes are left over after the envelope")
    if env["seq"] < 1:
        raise CheckError("seq is 0")
    if (env["prev"] is None) != (env["seq"] == 1):
        raise CheckError("prev is not absent exactly when seq is 1")
    if not KIND_RE.fullmatch(env["kind"]) or len(env["kind"].encode("utf-8")) > 64:
        raise CheckError(f"kind {env['kind']!r} is not a valid kind")
    if env["ts"] > MAX_TS:
        raise CheckError("ts is after 9999-12-31")
    if env["payload_size"] > MAX_PAYLOAD:
        raise CheckError("the payload is too large")
    return env


def event_hash(envelope_bytes):
    return blake3(EVENT_DOMAIN + envelope_bytes)


# ---------------------------------------------------------------------------------------------
# RFC 9162 section 2.1: Merkle tree hashes and inclusion proof verification.
# ---------------------------------------------------------------------------------------------


def leaf_hash(data):
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def verify_inclusion(leaf_index, tree_size, leaf, path, root):
    """RFC 9162 section 2.1.3.2: True when `path` leads from `leaf` at `leaf_index` to `root`."""
    if leaf_index >= tree_size:
        return False
    if any(len(p) != 32 for p in path) or len(leaf) != 32 or len(root) != 32:
        return False
    fn, sn, r = leaf_index, tree_size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn != 0 and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(first, second, first_hash, second_hash, path):
    """RFC 9162 section 2.1.4.2: True when `path` proves that the tree of size `second` with root
    `second_hash` extends the tree of size `first` with root `first_hash`.

    Equal sizes need an empty proof and equal roots. A proof from size 0 is refused: every tree
    extends the empty tree (docs/format.md section 10; the RFC's algorithm needs 0 < first).
    """
    if first == 0 or first > second:
        return False
    if first == second:
        return not path and first_hash == second_hash
    if len(first_hash) != 32 or len(second_hash) != 32 or any(len(p) != 32 for p in path):
        return False
    # Step 1: an empty proof fails.
    if not path:
        return False
    # Step 2: if first is an exact power of 2, prepend first_hash.
    if first & (first - 1) == 0:
        path = [first_hash] + list(path)
    # Steps 3-4.
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # Step 5.
    fr = sr = path[0]
    # Step 6.
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn != 0 and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    # Step 7.
    return fr == first_hash and sr == second_hash and sn == 0


# ---------------------------------------------------------------------------------------------
# C2SP tlog-proof@v1.
# ---------------------------------------------------------------------------------------------

PROOF_HEADER = "c2sp.org/tlog-proof@v1"


def parse_proof(data):
    """(extra bytes or None, index, [hashes], checkpoint bytes)."""
    if len(data) > MAX_NOTE_BYTES:
        raise CheckError("the proof is too large")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise CheckError("the proof is not valid UTF-8") from None
    lines = text.split("\n")
    if lines[0] != PROOF_HEADER:
        raise CheckError(f"the proof does not start with {PROOF_HEADER}")
    i = 1
    extra = None
    if i < len(lines) and lines[i].startswith("extra "):
        extra = b64decode_strict(lines[i][len("extra ") :], "the extra data")
        i += 1
    if i >= len(lines) or not lines[i].startswith("index "):
        raise CheckError("the proof has no index line")
    index = parse_decimal(lines[i][len("index ") :], "the index")
    i += 1
    path = []
    while i < len(lines) and lines[i] != "":
        h = b64decode_strict(lines[i], "a proof hash")
        if len(h) != 32:
            raise CheckError("a proof hash is not 32 bytes")
        path.append(h)
        i += 1
    if i >= len(lines):
        raise CheckError("the proof has no blank line before its checkpoint")
    checkpoint = "\n".join(lines[i + 1 :]).encode("utf-8")
    return extra, index, path, checkpoint


def check_proof(data, verifier):
    extra, index, path, checkpoint = parse_proof(data)
    origin, size, root = check_checkpoint(checkpoint, verifier)
    if extra is None:
        raise CheckError("the proof has no extra line (the event's envelope)")
    env = decode_envelope(extra)
    author_origin = FEED_ORIGIN_PREFIX + env["author"].hex()
    if author_origin != origin:
        raise CheckError(f"the event's author's origin {author_origin} is not the checkpoint's {origin}")
    if env["seq"] != index + 1:
        raise CheckError(f"the event's seq {env['seq']} is not the index {index} plus one")
    if index >= size:
        raise CheckError(f"the index {index} is not below the checkpoint's size {size}")
    leaf = leaf_hash(event_hash(extra))
    if not verify_inclusion(index, size, leaf, path, root):
        raise CheckError("the inclusion proof does not lead to the checkpoint's root")
    return env, size


# ---------------------------------------------------------------------------------------------
# Consistency proofs: the body of C2SP tlog-witness's add-checkpoint (docs/format.md section 10).
# ---------------------------------------------------------------------------------------------

MAX_CONSISTENCY_HASHES = 63  # tlog-witness: at most 63 consistency proof lines


def parse_consistency(data):
    """(old size, [hashes], checkpoint bytes) of an add-checkpoint body."""
    if len(data) > MAX_NOTE_BYTES:
        raise CheckError("the consistency proof is too large")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise CheckError("the consistency proof is not valid UTF-8") from None
    lines = text.split("\n")
    if not lines[0].startswith("old "):
        raise CheckError("the consistency proof does not start with an `old N` line")
    old = parse_decimal(lines[0][len("old ") :], "the old size")
    i = 1
    path = []
    while i < len(lines) and lines[i] != "":
        h = b64decode_strict(lines[i], "a consistency proof hash")
        if len(h) != 32:
            raise CheckError("a consistency proof hash is not 32 bytes")
        path.append(h)
        i += 1
    if i >= len(lines):
        raise CheckError("the consistency proof has no blank line before its checkpoint")
    if len(path) > MAX_CONSISTENCY_HASHES:
        raise CheckError("the consistency proof has more than 63 hashes")
    checkpoint = "\n".join(lines[i + 1 :]).encode("utf-8")
    return old, path, checkpoint


def check_consistency(data, old_checkpoint, verifier):
    """Checks a consistency proof against the older checkpoint: (old size, new size)."""
    old, path, checkpoint = parse_consistency(data)
    new_origin, new_size, new_root = check_checkpoint(checkpoint, verifier)
    old_origin, old_size, old_root = check_checkpoint(old_checkpoint, verifier)
    if new_origin != old_origin:
        raise CheckError(f"the checkpoints are of two logs: {old_origin} and {new_origin}")
    if old == 0:
        raise CheckError("a consistency proof from size 0 proves nothing (every tree extends the empty tree)")
    if old != old_size:
        raise CheckError(f"the proof is from size {old}, not the older checkpoint's size {old_size}")
    if old_size > new_size:
        raise CheckError(f"the older checkpoint's size {old_size} is above the newer one's {new_size}")
    if not verify_consistency(old_size, new_size, old_root, new_root, path):
        raise CheckError(
            f"the consistency proof does not lead from the root at size {old_size} to the root at size {new_size}"
        )
    return old_size, new_size


# ---------------------------------------------------------------------------------------------
# Self-test.
# ---------------------------------------------------------------------------------------------

# RFC 8032 section 7.1, TEST 1 (empty message).
RFC8032_TEST1 = {
    "secret": "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
    "public": "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
    "message": "",
    "signature": "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555f"
    "b8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
}

# BLAKE3 test_vectors/test_vectors.json (BLAKE3-team/BLAKE3): the first 32 bytes of the
# extended output of the `hash` mode, for the input bytes i % 251.
BLAKE3_VECTORS = {
    0: "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262",
    1: "2d3adedff11b61f14c886e35afa036736dcd87a74d27b5c1510225d0f592e213",
    1023: "10108970eeda3eb932baac1428c7a2163b0e924c9a9e25b35bba72b28f70bd11",
    1024: "42214739f095a406f3fc83deb889744ac00df831c10daa55189b5d121c855af7",
    1025: "d00278ae47eb27b34faecf67b4fe263f82d5412916c1ffd97c8cb7fb814b8444",
    2048: "e776b6028c7cd22a4d0ba182a8bf62205d2ef576467e838ed6f2529b85fba24a",
    3072: "b98cb0ff3623be03326b373de6b9095218513e64f1ee2edd2525c7ad1e5cffd2",
}

# The C2SP signed-note example (also in ../shared/testdata/tlog/README.md).
NOTE_EXAMPLE_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
NOTE_EXAMPLE = (
    "This is an example message.\n\n"
    "\u2014 example.com/foo "
    "Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"
)

# docs/format.md section 8, vector 1: envelope and hash (the script also reads every vector of
# docs/format.md when it sits in its repository).
DOC_VECTORS = [
    (
        "0103a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b80100808081b184e991030c6e6f74"
        "652e61646465642f31000568656c6c6f",
        "cb05b2f355f0eba50f733a33de063dee27425f7af9a2b0cc6993e98effb79510",
    ),
]


def _expect(cond, what):
    if not cond:
        raise CheckError(f"selftest: {what}")


def _must_fail(func, what):
    try:
        func()
    except CheckError:
        return
    raise CheckError(f"selftest: {what} was accepted")


def _selftest_ed25519():
    v = RFC8032_TEST1
    secret, public = bytes.fromhex(v["secret"]), bytes.fromhex(v["public"])
    message, signature = bytes.fromhex(v["message"]), bytes.fromhex(v["signature"])
    _expect(ed25519_public_key(secret) == public, "Ed25519 public key of RFC 8032 test 1")
    _expect(ed25519_verify(public, message, signature), "Ed25519 RFC 8032 test 1 verifies")
    bad = bytearray(signature)
    bad[0] ^= 1
    _expect(not ed25519_verify(public, message, bytes(bad)), "Ed25519 refuses a changed R")
    bad = bytearray(signature)
    bad[40] ^= 1
    _expect(not ed25519_verify(public, message, bytes(bad)), "Ed25519 refuses a changed S")
    _expect(not ed25519_verify(public, b"x", signature), "Ed25519 refuses another message")
    s_plus_l = (int.from_bytes(signature[32:], "little") + ED_L).to_bytes(32, "little")
    _expect(not ed25519_verify(public, message, signature[:32] + s_plus_l), "Ed25519 refuses S >= L")
    return 1


def _selftest_blake3():
    for length, expected in BLAKE3_VECTORS.items():
        data = bytes(i % 251 for i in range(length))
        _expect(blake3(data).hex() == expected, f"BLAKE3 of {length} bytes")
    return len(BLAKE3_VECTORS)


def _selftest_note():
    verifier = Verifier(NOTE_EXAMPLE_VKEY)
    text = verify_note(NOTE_EXAMPLE.encode("utf-8"), verifier)
    _expect(text == "This is an example message.\n", "the signed-note example's text")
    changed = NOTE_EXAMPLE.replace("example message", "example massage")
    _must_fail(lambda: verify_note(changed.encode("utf-8"), verifier), "a changed signed note")
    other = Verifier("example.com/bar+" + key_id("example.com/bar", 1, verifier.public).hex() + "+" +
                     base64.b64encode(b"\x01" + verifier.public).decode())
    _must_fail(lambda: verify_note(NOTE_EXAMPLE.encode("utf-8"), other), "a note checked with another key name")
    _must_fail(lambda: Verifier(NOTE_EXAMPLE_VKEY.replace("+530d903a+", "+530d903b+")), "a wrong key id")
    return 1


def merkle_root(leaves):
    """RFC 9162 section 2.1.1: the root of the tree over these leaf hashes."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return node_hash(merkle_root(leaves[:k]), merkle_root(leaves[k:]))


def merkle_path(m, leaves):
    """RFC 9162 section 2.1.3.1: the inclusion proof of leaf m, the leaf's sibling first."""
    if len(leaves) == 1:
        return []
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    if m < k:
        return merkle_path(m, leaves[:k]) + [merkle_root(leaves[k:])]
    return merkle_path(m - k, leaves[k:]) + [merkle_root(leaves[:k])]


def merkle_subproof(m, leaves, b):
    """RFC 9162 section 2.1.4.1: SUBPROOF(m, D[n], b)."""
    n = len(leaves)
    if m == n:
        return [] if b else [merkle_root(leaves)]
    k = 1 << ((n - 1).bit_length() - 1)
    if m <= k:
        return merkle_subproof(m, leaves[:k], b) + [merkle_root(leaves[k:])]
    return merkle_subproof(m - k, leaves[k:], False) + [merkle_root(leaves[:k])]


def merkle_consistency(m, leaves):
    """RFC 9162 section 2.1.4.1: PROOF(m, D[n]), for 0 < m <= n."""
    return merkle_subproof(m, leaves, True)


def _format_md_blocks():
    """The ```text blocks of docs/format.md, when the script sits in its repository: each a pair
    (dict of its `key: value` lines, first occurrence kept; the block's exact text)."""
    path = Path(__file__).resolve().parents[3] / "docs" / "format.md"
    if not path.is_file():
        return []
    blocks = []
    for text in re.findall(r"^```text\n(.*?)^```", path.read_text(encoding="utf-8"), re.S | re.M):
        fields = {}
        for line in text.splitlines():
            key, sep, value = line.partition(": ")
            if sep and re.fullmatch(r"[a-z0-9_]+", key) and key not in fields:
                fields[key] = value
        blocks.append((fields, text))
    return blocks


def _check_doc_event(v, name):
    """One event vector of docs/format.md (section 8, or section 10's `tlog_vector: event`)."""
    envelope = bytes.fromhex(v["envelope"])
    env = decode_envelope(envelope)
    _expect(event_hash(envelope).hex() == v["hash"], f"the event hash of {name}")
    _expect(env["version"] == int(v["version"]), f"the version of {name}")
    _expect(env["author"].hex() == v["author"], f"the author of {name}")
    _expect(env["seq"] == int(v["seq"]), f"the seq of {name}")
    _expect((env["prev"].hex() if env["prev"] else "none") == v["prev"], f"the prev of {name}")
    _expect(env["ts"] == int(v["ts"]), f"the ts of {name}")
    _expect(env["kind"] == v["kind"], f"the kind of {name}")
    _expect((",".join(r.hex() for r in env["refs"]) or "none") == v["refs"], f"the refs of {name}")
    payload = bytes.fromhex(v["payload"])
    if env["version"] == 1:
        _expect(env["payload"] == payload, f"the payload of {name}")
    else:
        _expect(env["payload_size"] == len(payload) == int(v["size"]), f"the payload size of {name}")
        commitment = blake3(b"mindlog.payload.v2\x00" + bytes.fromhex(v["salt"]) + payload)
        _expect(env["commitment"] == commitment == bytes.fromhex(v["commitment"]), f"the commitment of {name}")
    _expect(ed25519_public_key(bytes.fromhex(v["secret"])) == env["author"], f"the author key of {name}")
    _expect(
        ed25519_verify(env["author"], bytes.fromhex(v["hash"]), bytes.fromhex(v["signature"])),
        f"the signature of {name}",
    )
    # One changed byte anywhere is either refused or hashes differently.
    for pos in range(0, len(envelope), max(1, len(envelope) // 16)):
        bent = bytearray(envelope)
        bent[pos] ^= 0x01
        try:
            decode_envelope(bytes(bent))
        except CheckError:
            continue
        _expect(event_hash(bytes(bent)).hex() != v["hash"], f"a changed byte of {name}")
    return env


def _check_doc_tree(t, hashes):
    """Section 10's `tlog_vector: tree`: leaf hashes, roots and an inclusion proof, recomputed."""
    author = t["author"]
    _expect(t["origin"] == FEED_ORIGIN_PREFIX + author, "the tree vector's origin")
    events, seq = [], 1
    while f"seq_{seq}_event_hash" in t:
        event = bytes.fromhex(t[f"seq_{seq}_event_hash"])
        if (author, seq) in hashes:
            _expect(hashes[(author, seq)] == event, f"the tree vector's event hash of seq {seq}")
        _expect(leaf_hash(event).hex() == t[f"seq_{seq}_leaf_hash"], f"the tree vector's leaf hash of seq {seq}")
        events.append(leaf_hash(event))
        seq += 1
    for n in range(len(events) + 1):
        if f"size_{n}_root" in t:
            root = merkle_root(events[:n])
            _expect(root.hex() == t[f"size_{n}_root"], f"the tree vector's root of size {n}")
            _expect(base64.b64encode(root).decode() == t[f"size_{n}_root_base64"], f"the base64 root of size {n}")
    for key, value in t.items():
        found = re.fullmatch(r"inclusion_index_([0-9]+)_size_([0-9]+)", key)
        if found:
            index, size = int(found.group(1)), int(found.group(2))
            proof = [bytes.fromhex(h) for h in value.split(",")] if value else []
            _expect(proof == merkle_path(index, events[:size]), f"the tree vector's {key}")
            _expect(
                verify_inclusion(index, size, events[index], proof, merkle_root(events[:size])),
                f"the tree vector's {key} verifies",
            )
        found = re.fullmatch(r"consistency_size_([0-9]+)_to_([0-9]+)", key)
        if found:
            first, second = int(found.group(1)), int(found.group(2))
            proof = [bytes.fromhex(h) for h in value.split(",")] if value else []
            _expect(proof == merkle_consistency(first, events[:second]), f"the tree vector's {key}")
            roots = merkle_root(events[:first]), merkle_root(events[:second])
            _expect(verify_consistency(first, second, *roots, proof), f"the tree vector's {key} verifies")
            _expect(not verify_consistency(first, second, *roots, proof[:-1]), f"the tree vector's {key} truncated")


def _selftest_format_md():
    """Every vector of docs/format.md: sections 8 and 10, when the script sits in its repository."""
    count, hashes, verifier = 0, {}, None
    blocks = _format_md_blocks()
    for fields, _ in blocks:
        if "vector" in fields or fields.get("tlog_vector") == "event":
            name = f"docs/format.md vector {fields.get('vector', 'tlog event seq ' + fields.get('seq', '?'))}"
            env = _check_doc_event(fields, name)
            hashes[(env["author"].hex(), env["seq"])] = event_hash(bytes.fromhex(fields["envelope"]))
            count += 1
    for fields, _ in blocks:
        if fields.get("tlog_vector") == "tree":
            _check_doc_tree(fields, hashes)
            count += 1
        if fields.get("tlog_vector") == "checkpoint":
            c = fields
            verifier = Verifier(c["verifier_key"])
            public = ed25519_public_key(bytes.fromhex(c["secret"]))
            _expect(verifier.public == public, "the checkpoint vector's verifier key is the secret's")
            _expect(verifier.name == c["key_name"] == c["origin"], "the checkpoint vector's key name")
            computed_id = key_id(c["key_name"], SIG_TYPE_ED25519, public).hex()
            _expect(computed_id == c["key_id"], "the checkpoint vector's key id")
            text = f"{c['origin']}\n{c['size']}\n{c['root_base64']}\n".encode()
            _expect(ed25519_verify(public, text, bytes.fromhex(c["signature"])), "the checkpoint vector's signature")
            expected = (c["origin"], int(c["size"]), base64.b64decode(c["root_base64"]))
            for _, note in blocks:
                if note.startswith(c["origin"] + "\n"):
                    _expect(check_checkpoint(note.encode(), verifier) == expected, "the checkpoint vector's note")
                    sig = note.rsplit(" ", 1)[1].strip()
                    _expect(b64decode_strict(sig, "sig")[4:].hex() == c["signature"], "the note's signature")
                    count += 1
                if note.startswith(PROOF_HEADER + "\n"):
                    _, size = check_proof(note.encode(), verifier)
                    _expect(size == int(c["size"]), "the proof vector's size")
                    count += 1
    return count


def _selftest_envelopes():
    for envelope_hex, hash_hex in DOC_VECTORS:
        envelope = bytes.fromhex(envelope_hex)
        decode_envelope(envelope)
        _expect(event_hash(envelope).hex() == hash_hex, "the event hash of docs/format.md vector 1")
    # Malformed envelopes are refused.
    good = bytes.fromhex(DOC_VECTORS[0][0])
    for bent, what in [
        (good + b"\x00", "a trailing byte"),
        (good[:-1], "a truncated envelope"),
        (b"\x00" + good[1:], "version 0"),
        (b"\x03" + good[1:], "version 3"),
        (good[:33] + b"\x81\x00" + good[34:], "a non-minimal seq"),
        (good[:34] + b"\x02" + good[35:], "an option tag 2"),
        (b"", "an empty envelope"),
    ]:
        _must_fail(lambda b=bent: decode_envelope(b), what)
    return len(DOC_VECTORS)


def _selftest_inclusion():
    """RFC 9162: a tree built here, every proof of it; and transparency-dev/merkle's inclusion
    vectors when ../shared/testdata/tlog is at hand."""
    leaves = [leaf_hash(bytes([i])) for i in range(7)]
    count = 0
    for n in range(1, len(leaves) + 1):
        root = merkle_root(leaves[:n])
        for m in range(n):
            p = merkle_path(m, leaves[:n])
            _expect(verify_inclusion(m, n, leaves[m], p, root), f"inclusion of leaf {m} in a tree of {n}")
            if n > 1:
                _expect(not verify_inclusion((m + 1) % n, n, leaves[m], p, root), "inclusion at another index")
            if p:
                _expect(not verify_inclusion(m, n, leaves[m], p[:-1], root), "a truncated inclusion proof")
            count += 1
    candidates = [
        os.environ.get("MINDLOG_TLOG_TESTDATA", ""),
        str(Path(__file__).resolve().parents[4] / "shared" / "testdata" / "tlog"),
    ]
    vectors = 0
    for base in candidates:
        inclusion = Path(base) / "inclusion" if base else None
        if inclusion is None or not inclusion.is_dir():
            continue
        for file in sorted(inclusion.rglob("*.json")):
            v = json.loads(file.read_text(encoding="utf-8"))

            def b64(s):
                return base64.b64decode(s) if s else b""

            try:
                got = verify_inclusion(
                    v["leafIdx"], v["treeSize"], b64(v["leafHash"]), [b64(p) for p in v["proof"] or []], b64(v["root"])
                )
            except (ValueError, TypeError):
                got = False
            _expect(got == (not v["wantErr"]), f"inclusion vector {file}")
            vectors += 1
        break
    return count, vectors


def _selftest_consistency():
    """RFC 9162: every consistency proof of trees built here, and transparency-dev/merkle's
    consistency vectors when ../shared/testdata/tlog is at hand."""
    leaves = [leaf_hash(bytes([i])) for i in range(9)]
    count = 0
    for n in range(1, len(leaves) + 1):
        root = merkle_root(leaves[:n])
        for m in range(1, n + 1):
            old_root = merkle_root(leaves[:m])
            p = merkle_consistency(m, leaves[:n])
            _expect(verify_consistency(m, n, old_root, root, p), f"consistency from {m} to {n}")
            if m < n:
                _expect(not verify_consistency(m, n, root, old_root, p), f"consistency from {m} to {n}, roots swapped")
                _expect(not verify_consistency(m + 1, n, old_root, root, p), f"consistency from {m} to {n} at {m + 1}")
            if p:
                _expect(not verify_consistency(m, n, old_root, root, p[:-1]), "a truncated consistency proof")
                _expect(not verify_consistency(m, n, old_root, root, p + [p[-1]]), "a lengthened consistency proof")
                bent = [p[0][:-1] + bytes([p[0][-1] ^ 1])] + p[1:]
                _expect(not verify_consistency(m, n, old_root, root, bent), "a bent consistency proof")
            count += 1
        _expect(not verify_consistency(0, n, hashlib.sha256(b"").digest(), root, []), "a proof from size 0")
    candidates = [
        os.environ.get("MINDLOG_TLOG_TESTDATA", ""),
        str(Path(__file__).resolve().parents[4] / "shared" / "testdata" / "tlog"),
    ]
    vectors = 0
    for base in candidates:
        consistency = Path(base) / "consistency" if base else None
        if consistency is None or not consistency.is_dir():
            continue
        for file in sorted(consistency.rglob("*.json")):
            v = json.loads(file.read_text(encoding="utf-8"))

            def b64(s):
                return base64.b64decode(s) if s else b""

            try:
                got = verify_consistency(
                    v["size1"], v["size2"], b64(v["root1"]), b64(v["root2"]), [b64(p) for p in v["proof"] or []]
                )
            except (ValueError, TypeError):
                got = False
            _expect(got == (not v["wantErr"]), f"consistency vector {file}")
            vectors += 1
        break
    return count, vectors


def selftest():
    ed = _selftest_ed25519()
    b3 = _selftest_blake3()
    notes = _selftest_note()
    envelopes = _selftest_envelopes()
    docs = _selftest_format_md()
    proofs, vectors = _selftest_inclusion()
    cproofs, cvectors = _selftest_consistency()
    print(
        f"OK selftest (Ed25519 RFC 8032 vectors: {ed}, BLAKE3 vectors: {b3}, signed notes: {notes}, "
        f"envelopes: {envelopes}, docs/format.md vectors: {docs}, inclusion proofs: {proofs}, "
        f"inclusion vectors: {vectors}, consistency proofs: {cproofs}, consistency vectors: {cvectors})"
    )


# ---------------------------------------------------------------------------------------------
# Command line.
# ---------------------------------------------------------------------------------------------

USAGE = (
    "usage: check_tlog.py checkpoint FILE VKEY | proof FILE VKEY | consistency FILE OLD_CHECKPOINT VKEY | selftest"
)


def _read(file):
    try:
        return Path(file).read_bytes()
    except OSError as err:
        raise CheckError(f"cannot read {file}: {err.strerror}") from None


def main(argv):
    if len(argv) == 2 and argv[1] == "selftest":
        selftest()
        return 0
    if len(argv) == 5 and argv[1] == "consistency":
        _, _, file, old_file, vkey = argv
        data, old_checkpoint = _read(file), _read(old_file)
        old, new = check_consistency(data, old_checkpoint, Verifier(vkey))
        print(f"OK old={old} new={new}")
        return 0
    if len(argv) != 4 or argv[1] not in ("checkpoint", "proof"):
        raise CheckError(USAGE)
    command, file, vkey = argv[1:]
    data = _read(file)
    verifier = Verifier(vkey)
    if command == "checkpoint":
        _, size, root = check_checkpoint(data, verifier)
        print(f"OK size={size} root={base64.b64encode(root).decode('ascii')}")
    else:
        env, size = check_proof(data, verifier)
        print(f"OK seq={env['seq']} kind={env['kind']} size={size}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except CheckError as err:
        print(f"FAILED: {err}")
        sys.exit(1)
    except Exception as err:  # noqa: BLE001 - malformed input must never end in a traceback
        print(f"FAILED: {type(err).__name__}: {err}")
        sys.exit(1)
