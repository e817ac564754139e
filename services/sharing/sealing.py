"""Sealing of the raw batches agencies push: AES-256-GCM, bound to the batch it belongs to.

A raw batch holds resident id numbers and names, so it is never stored in the clear. The batch id
is the associated data: a sealed body copied onto another batch row fails to open. Each sealed
body names the key that sealed it by fingerprint, so a key can be rotated later without guessing.
"""

from __future__ import annotations

import hashlib
import os
import uuid

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

FORMAT = b"\x01"
NONCE_BYTES = 12


class SealBroken(Exception):
    """The sealed body was altered, belongs to another batch, or was sealed under another key."""


class BatchSealer:
    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)
        self.key_id = hashlib.sha256(b"sharing-batch-key:" + key).hexdigest()[:16]

    def seal(self, batch_id: uuid.UUID, raw: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return FORMAT + nonce + self._aead.encrypt(nonce, raw, _associated(batch_id))

    def open(self, batch_id: uuid.UUID, sealed: bytes) -> bytes:
        if not sealed.startswith(FORMAT):
            raise SealBroken("unknown sealed-body format")
        nonce, ciphertext = sealed[1 : 1 + NONCE_BYTES], sealed[1 + NONCE_BYTES :]
        try:
            return self._aead.decrypt(nonce, ciphertext, _associated(batch_id))
        except InvalidTag:
            raise SealBroken("the sealed body does not open for this batch under this key") from None


def _associated(batch_id: uuid.UUID) -> bytes:
    return b"sharing_batch:" + str(batch_id).encode()
