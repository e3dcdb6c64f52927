"""AES-GCM for CPython tests (the `cryptography` package), in common.secret_box's seam."""

from __future__ import annotations

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from common.secret_box import AesGcm, SecretBox

TEST_KEY = "a-test-webhook-encryption-key"


async def _encrypt(key: bytes, iv: bytes, data: bytes, aad: bytes) -> bytes:
    return AESGCM(key).encrypt(iv, data, aad)


async def _decrypt(key: bytes, iv: bytes, data: bytes, aad: bytes) -> bytes:
    return AESGCM(key).decrypt(iv, data, aad)


LIBRARY_AES_GCM = AesGcm(_encrypt, _decrypt)


def secret_box(key: str = TEST_KEY) -> SecretBox:
    return SecretBox(key, LIBRARY_AES_GCM)
