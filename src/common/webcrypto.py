"""AES-GCM through the Workers runtime's WebCrypto (`crypto.subtle`): the runtime edge of
common.secret_box. No third-party package is shipped with the workers."""

import js
from pyodide.ffi import to_js

from common.secret_box import AesGcm

__all__ = ["web_aes_gcm"]


def _bytes(data: bytes):
    return to_js(bytes(data))


def _params(iv: bytes, aad: bytes):
    return to_js({"name": "AES-GCM", "iv": _bytes(iv), "additionalData": _bytes(aad), "tagLength": 128},
                 dict_converter=js.Object.fromEntries)


async def _key(raw: bytes, usage: str):
    return await js.crypto.subtle.importKey("raw", _bytes(raw), "AES-GCM", False, to_js([usage]))


async def _encrypt(key: bytes, iv: bytes, data: bytes, aad: bytes) -> bytes:
    result = await js.crypto.subtle.encrypt(_params(iv, aad), await _key(key, "encrypt"), _bytes(data))
    return js.Uint8Array.new(result).to_bytes()


async def _decrypt(key: bytes, iv: bytes, data: bytes, aad: bytes) -> bytes:
    result = await js.crypto.subtle.decrypt(_params(iv, aad), await _key(key, "decrypt"), _bytes(data))
    return js.Uint8Array.new(result).to_bytes()


def web_aes_gcm() -> AesGcm:
    """The runtime's AES-GCM."""
    return AesGcm(_encrypt, _decrypt)
