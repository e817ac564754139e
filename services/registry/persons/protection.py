"""Protection of resident id numbers at rest: AES-256-GCM ciphertext plus a keyed blind index."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12


class IdNumberProtector:
    def __init__(self, encryption_key_b64: str, blind_index_key: str) -> None:
        key = base64.b64decode(encryption_key_b64)
        if len(key) != 32:
            raise ValueError("the id number key must be 32 bytes, base64 encoded")
        self._aead = AESGCM(key)
        self._index_key = blind_index_key.encode()

    def encrypt(self, id_number: str) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, id_number.encode(), b"registry.person.id_number")

    def decrypt(self, ciphertext: bytes) -> str:
        nonce, body = ciphertext[:NONCE_BYTES], ciphertext[NONCE_BYTES:]
        return self._aead.decrypt(nonce, body, b"registry.person.id_number").decode()

    def blind_index(self, id_number: str) -> str:
        return hmac.new(self._index_key, id_number.encode(), hashlib.sha256).hexdigest()


def mask_name(name: str) -> str:
    """The name as a public notice (公示) shows it: first and last character kept, `刘晓梅` -> `刘*梅`;
    a two-character name keeps the first, `刘洋` -> `刘*`."""
    if len(name) <= 2:
        return name[:1] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]
