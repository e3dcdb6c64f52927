"""common.secret_box: webhook secrets sealed with AES-GCM, cross-checked with `cryptography`."""

from __future__ import annotations

import asyncio
import base64

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from common.secret_box import SealedSecretError, derive_key, new_signing_secret
from tests.unit.crypto_fakes import TEST_KEY, secret_box


def run(coroutine):
    return asyncio.run(coroutine)


def test_a_sealed_secret_opens_for_its_endpoint_and_names_nothing_of_it():
    box = secret_box()
    secret = new_signing_secret()
    sealed = run(box.seal(secret, "ep_1"))
    assert sealed.startswith("v1.") and secret not in sealed and secret[6:] not in sealed
    assert run(box.open(sealed, "ep_1")) == secret
    # A fresh IV each time: the same secret never seals to the same text.
    assert run(box.seal(secret, "ep_1")) != sealed


def test_the_framing_is_plain_aes_gcm_with_the_endpoint_id_as_associated_data():
    box = secret_box()
    sealed = run(box.seal("whsec_abc", "ep_9"))
    _, iv, data = sealed.split(".")
    unb64 = lambda text: base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))  # noqa: E731
    assert AESGCM(derive_key(TEST_KEY)).decrypt(unb64(iv), unb64(data), b"ep_9") == b"whsec_abc"


@pytest.mark.parametrize("tamper", [
    lambda s: s.replace("v1.", "v2."),
    lambda s: s[:-2] + ("A" if s[-2] != "A" else "B") + s[-1],
    lambda s: "v1.short.x",
    lambda s: "",
    lambda s: "v1.!!!.???",
])
def test_a_damaged_sealed_secret_does_not_open(tamper):
    box = secret_box()
    sealed = run(box.seal("whsec_abc", "ep_1"))
    with pytest.raises(SealedSecretError):
        run(box.open(tamper(sealed), "ep_1"))


def test_another_endpoint_or_another_key_does_not_open_it():
    sealed = run(secret_box().seal("whsec_abc", "ep_1"))
    with pytest.raises(SealedSecretError) as error:
        run(secret_box().open(sealed, "ep_2"))
    assert "whsec" not in str(error.value)
    with pytest.raises(SealedSecretError):
        run(secret_box("another-key-entirely-here").open(sealed, "ep_1"))


def test_a_missing_or_short_key_is_a_config_error_naming_the_var():
    for bad in ("", "short"):
        with pytest.raises(ValueError, match="WEBHOOK_ENCRYPTION_KEY"):
            derive_key(bad)


def test_new_signing_secrets_are_whsec_base64_of_24_random_bytes():
    secret = new_signing_secret()
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 24
    assert new_signing_secret() != secret
