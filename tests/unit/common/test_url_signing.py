import base64
import hashlib
import hmac

import pytest

from common.url_signing import MAX_LIFETIME_SECONDS, signature, signed_url, verify

SECRET = "s3cret"
PATH = "/files/originals/01jc5xq7m3r8a9b2c4d6e8f0gh"
NOW = 1_760_000_000


def test_signature_is_unpadded_base64url_hmac_sha256_of_path_and_expiry():
    expected = hmac.new(
        SECRET.encode(), f"{PATH}\n{NOW + 60}".encode(), hashlib.sha256
    ).digest()
    sig = signature(SECRET, PATH, NOW + 60)
    assert "=" not in sig and "+" not in sig and "/" not in sig
    assert base64.urlsafe_b64decode(sig + "=") == expected
    assert len(sig) == 43


def test_signature_depends_on_every_input():
    base = signature(SECRET, PATH, NOW)
    assert signature("other", PATH, NOW) != base
    assert signature(SECRET, PATH + "x", NOW) != base
    assert signature(SECRET, PATH, NOW + 1) != base
    # The separator keeps (path, expiry) pairs from colliding.
    assert signature(SECRET, "/files/a1", 23) != signature(SECRET, "/files/a", 123)


def test_signed_url_shape():
    url = signed_url("https://media.example.com/", PATH, SECRET, NOW + 300)
    sig = signature(SECRET, PATH, NOW + 300)
    assert url == f"https://media.example.com{PATH}?expires={NOW + 300}&signature={sig}"


def test_signed_url_verifies_round_trip():
    expires = NOW + 300
    sig = signature(SECRET, PATH, expires)
    assert verify(SECRET, PATH, str(expires), sig, NOW) is True
    assert (
        verify(SECRET, PATH, str(expires), sig, expires) is True
    )  # valid up to the second


@pytest.mark.parametrize(
    ("secret", "path", "expires", "sig_for", "now"),
    [
        ("wrong", PATH, NOW + 300, NOW + 300, NOW),  # other secret
        (SECRET, PATH + "x", NOW + 300, NOW + 300, NOW),  # other path
        (SECRET, "/files/renditions/x", NOW + 300, NOW + 300, NOW),
        (SECRET, PATH, NOW + 301, NOW + 300, NOW),  # tampered expiry
        (SECRET, PATH, NOW - 1, NOW - 1, NOW),  # expired
        (SECRET, PATH, NOW + 300, NOW + 300, NOW + 301),  # expired later
    ],
)
def test_verify_rejects_mismatches(secret, path, expires, sig_for, now):
    sig = signature(SECRET, PATH, sig_for)
    assert verify(secret, path, str(expires), sig, now) is False


def test_verify_rejects_expiries_too_far_ahead():
    far = NOW + MAX_LIFETIME_SECONDS + 1
    assert verify(SECRET, PATH, str(far), signature(SECRET, PATH, far), NOW) is False
    edge = NOW + MAX_LIFETIME_SECONDS
    assert verify(SECRET, PATH, str(edge), signature(SECRET, PATH, edge), NOW) is True
    assert MAX_LIFETIME_SECONDS == 7 * 24 * 3600


@pytest.mark.parametrize(
    "expires",
    [
        None,
        "",
        " 1760000300",
        "+1760000300",
        "1_760_000_300",
        "1760000300.0",
        "-1",
        "0x10",
        "١٧٦٠٠٠٠٣٠٠",
        "9" * 40,
        "abc",
    ],
)
def test_verify_rejects_malformed_expiry(expires):
    # Sign the value the attacker would hope int() accepts, so only the format check can fail.
    sig = signature(SECRET, PATH, NOW + 300)
    assert verify(SECRET, PATH, expires, sig, NOW) is False


@pytest.mark.parametrize("sig", [None, "", "x", "é" * 43, "A" * 43])
def test_verify_rejects_malformed_signature(sig):
    assert verify(SECRET, PATH, str(NOW + 300), sig, NOW) is False


def test_verify_refuses_an_empty_secret():
    expires = NOW + 300
    assert verify("", PATH, str(expires), signature("", PATH, expires), NOW) is False


def test_verify_accepts_the_signature_with_padding_stripped_only():
    expires = NOW + 60
    sig = signature(SECRET, PATH, expires)
    assert verify(SECRET, PATH, str(expires), sig + "=", NOW) is False
