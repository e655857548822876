"""Feed cursors as members see them: opaque tokens that do not reveal the feed sequence.

The feed keeps one global sequence (identical on every node and replayable, DESIGN's
Decisions), but a member sees only some of its events: were the cursor the sequence itself,
the gap between two of a member's cursors would count the events it may not see. So the hub
hands out each cursor as one AES block of (sequence, fixed tag) under a key derived from the
hub key, which every node of a cluster shares: the same event has the same cursor everywhere,
a cursor is 32 hex digits that say nothing of the distance between two of them, and a cursor
that was not handed out by a hub with this key is refused (its tag does not decrypt).
Operators see every event, so their tools may decode cursors (`CursorCodec.decode`) to check
that the feed has no gaps."""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from .errors import invalid

CURSOR_KDF_INFO = b"signalhub feed cursor v1"
_TAG = b"feed-v1\x00"
"""The block's second half: a cursor whose decryption does not end in it was not issued."""
CURSOR_CHARS = 32


class CursorCodec:
    """Turns feed sequences into members' cursors and back (one AES-128 block each)."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 16:
            raise ValueError("a cursor key is 16 bytes")
        self._cipher = Cipher(algorithms.AES(key), modes.ECB())  # each cursor is one block: a PRP

    @classmethod
    def from_hub_key(cls, hub_key: Ed25519PrivateKey) -> CursorCodec:
        """The codec whose key is derived (HKDF-SHA256) from the hub's private key, so that the
        hub's cursors stay valid across restarts and on every node sharing that key."""
        raw = hub_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        key = HKDF(hashes.SHA256(), 16, salt=None, info=CURSOR_KDF_INFO).derive(raw)
        return cls(key)

    def encode(self, sequence: int) -> str:
        """The cursor of feed sequence `sequence` ("" for 0: the start of the feed)."""
        if sequence == 0:
            return ""
        return self.encode_many([sequence])[0]

    def encode_many(self, sequences: list[int]) -> list[str]:
        """Cursors of many sequences (all > 0) in one pass of the cipher."""
        blocks = b"".join(s.to_bytes(8, "big") + _TAG for s in sequences)
        out = self._cipher.encryptor().update(blocks)
        return [out[i : i + 16].hex() for i in range(0, len(out), 16)]

    def decode(self, text: str, name: str = "after") -> int:
        """The sequence of a cursor this hub handed out (0 for ""); INVALID_ARGUMENT naming
        `name` for anything else — the same answer for every text that is not a cursor."""
        if not text:
            return 0
        block = _hex_block(text)
        if block is not None:
            plain = self._cipher.decryptor().update(block)
            if plain[8:] == _TAG:
                return int.from_bytes(plain[:8], "big")
        raise invalid(
            f"{name} is a cursor from a feed event or a snapshot (empty: from the start)",
            [(name, f"not a cursor: {text[:40]!r}")],
        )

    def encode_position(self, position: bytes) -> str:
        """A page token for a 12-byte position (a submission's place among a signal's: its
        log sequence and index), which would otherwise count the hub's log entries."""
        assert len(position) == 12
        return self._cipher.encryptor().update(position + _POSITION_TAG).hex()

    def decode_position(self, text: str, name: str = "page_token") -> bytes:
        """The position of a page token this hub handed out; INVALID_ARGUMENT otherwise."""
        block = _hex_block(text)
        if block is not None:
            plain = self._cipher.decryptor().update(block)
            if plain[12:] == _POSITION_TAG:
                return plain[:12]
        raise invalid(f"{name} comes from a previous page", [(name, "malformed")])


_POSITION_TAG = b"pos1"


def _hex_block(text: str) -> bytes | None:
    if len(text) != CURSOR_CHARS or not all(c in "0123456789abcdef" for c in text):
        return None
    return bytes.fromhex(text)
