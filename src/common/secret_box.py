"""Webhook signing secrets sealed for storage: AES-256-GCM under a key from a Worker secret.

D1 holds only `v1.<iv>.<ciphertext>` (base64url; the ciphertext carries GCM's 16-byte tag),
with the endpoint's id as associated data, so a sealed secret copied onto another endpoint's
row does not open. The key is SHA-256 of WEBHOOK_ENCRYPTION_KEY (any long random string).
The cipher itself is a seam (`AesGcm`): the workers pass common.webcrypto's (the runtime's
`crypto.subtle`), CPython tests a library's; this module only frames and checks.

Pure: no runtime imports, importable by CPython 3.11.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets as _random
from collections.abc import Awaitable, Callable

__all__ = ["AesGcm", "SecretBox", "SealedSecretError", "derive_key", "new_signing_secret"]

_VERSION = "v1"
IV_BYTES = 12
SECRET_BYTES = 24

# (key, iv, data, associated data) -> bytes: encrypt or decrypt (GCM tag appended to ciphertext).
Transform = Callable[[bytes, bytes, bytes, bytes], Awaitable[bytes]]


class SealedSecretError(Exception):
    """A stored secret that does not open: another key, another row, or damaged."""


class AesGcm:
    """The two AES-GCM operations, as the runtime or a library gives them."""

    def __init__(self, encrypt: Transform, decrypt: Transform) -> None:
        self.encrypt, self.decrypt = encrypt, decrypt


def derive_key(configured: str) -> bytes:
    """The 32-byte AES key from the configured secret; ValueError when it is missing or short."""
    text = (configured or "").strip()
    if len(text) < 16:
        raise ValueError("WEBHOOK_ENCRYPTION_KEY is not set (or shorter than 16 characters)")
    return hashlib.sha256(text.encode("utf-8")).digest()


def new_signing_secret() -> str:
    """A fresh Standard Webhooks secret: whsec_ and 24 random bytes in base64."""
    return "whsec_" + base64.b64encode(_random.token_bytes(SECRET_BYTES)).decode("ascii")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SecretBox:
    """Seal and open secrets of one endpoint row (its id is the associated data)."""

    def __init__(self, configured_key: str, cipher: AesGcm, random_bytes: Callable[[int], bytes] = _random.token_bytes):
        self._key = derive_key(configured_key)
        self._cipher = cipher
        self._random = random_bytes

    async def seal(self, secret: str, owner: str) -> str:
        """The stored form of `secret` for the row `owner`."""
        iv = self._random(IV_BYTES)
        sealed = await self._cipher.encrypt(self._key, iv, secret.encode("utf-8"), owner.encode("utf-8"))
        return f"{_VERSION}.{_b64(iv)}.{_b64(bytes(sealed))}"

    async def open(self, stored: str, owner: str) -> str:
        """The secret sealed for `owner`; SealedSecretError (naming nothing secret) otherwise."""
        version, _, rest = (stored or "").partition(".")
        iv_text, _, data_text = rest.partition(".")
        if version != _VERSION or not iv_text or not data_text:
            raise SealedSecretError("not a sealed secret")
        try:
            iv, data = _unb64(iv_text), _unb64(data_text)
        except (binascii.Error, ValueError):
            raise SealedSecretError("not a sealed secret") from None
        if len(iv) != IV_BYTES or len(data) <= 16:
            raise SealedSecretError("not a sealed secret")
        try:
            plain = await self._cipher.decrypt(self._key, iv, data, owner.encode("utf-8"))
        except Exception:
            raise SealedSecretError("the secret does not open with this key for this endpoint") from None
        return bytes(plain).decode("utf-8")
