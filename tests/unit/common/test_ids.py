import pytest

from common.ids import MEDIA_ID_LENGTH, is_media_id, media_id_from_digest, new_media_id

RANDOM = bytes(range(10))


def test_shape():
    media_id = new_media_id(1_760_000_000_000, RANDOM)
    assert len(media_id) == MEDIA_ID_LENGTH == 26
    assert media_id == media_id.lower()
    assert set(media_id) <= set("0123456789abcdefghjkmnpqrstvwxyz")
    assert is_media_id(media_id)


def test_known_value():
    # ULID layout: 10 characters of time, 16 of randomness.
    assert new_media_id(0, bytes(10)) == "0" * 26
    assert new_media_id(1, bytes(10)) == "0000000001" + "0" * 16
    assert new_media_id(0, b"\x00" * 9 + b"\x01") == "0" * 25 + "1"
    assert new_media_id((1 << 48) - 1, b"\xff" * 10) == "7" + "z" * 25


def test_sorts_by_time_then_randomness():
    ids = [
        new_media_id(ms, RANDOM)
        for ms in (1, 2, 10, 1_000, 1_760_000_000_000, (1 << 48) - 1)
    ]
    assert ids == sorted(ids)
    assert new_media_id(5, b"\x00" * 10) < new_media_id(5, b"\x00" * 9 + b"\x01")


def test_randomness_changes_id():
    assert new_media_id(5, b"\x01" + bytes(9)) != new_media_id(5, b"\x02" + bytes(9))


def test_uses_only_ten_random_bytes():
    assert new_media_id(5, RANDOM + b"extra") == new_media_id(5, RANDOM)


@pytest.mark.parametrize(
    ("now_ms", "random_bytes"), [(-1, RANDOM), (1 << 48, RANDOM), (0, b"short")]
)
def test_rejects_bad_inputs(now_ms, random_bytes):
    with pytest.raises(ValueError):
        new_media_id(now_ms, random_bytes)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "0" * 25,
        "0" * 27,
        "01JC5XQ7M3R8A9B2C4D6E8F0GH",  # uppercase
        "01jc5xq7m3r8a9b2c4d6e8f0gi",  # i is not in the alphabet
        "01jc5xq7m3r8a9b2c4d6e8f0gl",
        "01jc5xq7m3r8a9b2c4d6e8f0go",
        "01jc5xq7m3r8a9b2c4d6e8f0gu",
        "81jc5xq7m3r8a9b2c4d6e8f0gh",  # overflows 128 bits
        "../../../../etc/passwd0000",
        "01jc5xq7m3r8a9b2c4d6e8f0g/",
        "01jc5xq7m3r8a9b2c4d6e8f0g ",
        "０1jc5xq7m3r8a9b2c4d6e8f0gh",  # fullwidth digit
        None,
        12345678901234567890123456,
    ],
)
def test_is_media_id_rejects(value):
    assert is_media_id(value) is False


def test_is_media_id_accepts():
    assert is_media_id("01jc5xq7m3r8a9b2c4d6e8f0gh")
    assert is_media_id("7zzzzzzzzzzzzzzzzzzzzzzzzz")


def test_ids_from_a_digest_have_the_same_shape():
    assert media_id_from_digest(bytes(16)) == "0" * 26
    assert media_id_from_digest(b"\xff" * 16 + b"ignored") == "7" + "z" * 25
    assert is_media_id(media_id_from_digest(bytes(range(32))))
    with pytest.raises(ValueError):
        media_id_from_digest(bytes(15))
