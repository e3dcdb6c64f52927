import pytest

from common.keys import file_path, resolve_file_key


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        (
            "originals/01jc5xq7m3r8a9b2c4d6e8f0gh",
            "originals/01jc5xq7m3r8a9b2c4d6e8f0gh",
        ),
        (
            "renditions/01jc5xq7m3r8a9b2c4d6e8f0gh/web.mp4",
            "renditions/01jc5xq7m3r8a9b2c4d6e8f0gh/web.mp4",
        ),
        ("renditions/m1/thumb%20nail.webp", "renditions/m1/thumb nail.webp"),
        ("originals/caf%C3%A9", "originals/café"),
        (
            "originals/café",
            "originals/café",
        ),  # already-decoded unicode from a lenient host
        ("originals/100%25", "originals/100%"),  # %25 decodes once to a literal %
        (
            "originals/a%2541",
            "originals/a%41",
        ),  # stays literal: decoding once is the contract
        ("originals/a...b", "originals/a...b"),
        ("originals/...", "originals/..."),  # not a dot segment; R2 keys are literal
        ("originals/.hidden", "originals/.hidden"),
        ("originals/a%2Eb", "originals/a.b"),
        ("renditions/m1/web.mp4?x", "renditions/m1/web.mp4?x"),
    ],
)
def test_resolves_keys_under_allowed_prefixes(raw, key):
    assert resolve_file_key(raw) == key


@pytest.mark.parametrize(
    "raw",
    [
        # empty and prefix rules
        "",
        "originals",
        "originals/",
        "renditions/",
        "renditions",
        "uploads/x",
        "processed/x",
        "secret",
        "originalsX/a",
        "originals_x/a",
        "Originals/a",
        "ORIGINALS/a",
        "renditionsfoo/x",
        "originals%2Fa",
        # dot segments, plain and encoded in every case mix
        "..",
        "../originals/a",
        "originals/..",
        "originals/../secret",
        "originals/./a",
        "originals/.",
        "originals/a/../../secret",
        "%2e%2e/secret",
        "originals/%2e%2e/secret",
        "originals/%2E%2e/secret",
        "originals/%2e%2E/",
        "originals/.%2e/secret",
        "originals/%2e./secret",
        "originals/%2e/a",
        "renditions/m1/%2E%2E/%2E%2E/etc/passwd",
        # encoded separators
        "originals%2f..%2fsecret",
        "originals/a%2fb",
        "originals/a%2Fb",
        "originals/a%5cb",
        "originals/a%5Cb",
        "originals/..%5c..%5csecret",
        # backslashes
        "originals\\..\\secret",
        "originals/a\\b",
        # absolute and empty segments
        "/etc/passwd",
        "/originals/a",
        "%2foriginals/a",
        "originals//a",
        "originals/a/",
        "//originals/a",
        # NUL and controls, raw and encoded
        "originals/a%00",
        "originals/a%00.png",
        "originals/a\x00b",
        "originals/a%0d%0aSet-Cookie:x",
        "originals/a%09b",
        "originals/a%7f",
        "originals/a%c2%85",  # NEL, a C1 control
        "originals/a%e2%80%ae",  # right-to-left override
        "originals/a%e2%80%8b",  # zero-width space
        "originals/a%e2%80%a8",  # line separator
        # invalid UTF-8 and malformed escapes
        "originals/%ff",
        "originals/%c0%ae%c0%ae/secret",  # overlong encoding of "."
        "originals/%e0%80%ae",
        "originals/%",
        "originals/%zz",
        "originals/%2",
        "originals/\ud800",
        # double encoding that would become traversal on a second decode
        "originals/%252e%252e/secret",
        "%252e%252e/secret",
        "originals/%252E%252E/",
        "originals/a%252fb",
        "originals/a%255cb",
        "originals/a%2500",
        "originals/%25ff",
        # unicode look-alikes of dots and slashes
        "originals/\uff0e\uff0e/secret",
        "originals/%ef%bc%8e%ef%bc%8e/secret",  # fullwidth full stops
        "originals/\u2024\u2024/secret",  # one dot leader
        "originals/\u2025/secret",  # two dot leader
        "originals/a\uff0fb",  # fullwidth solidus
        "originals/a%ef%bc%8fb",
    ],
)
def test_refuses_anything_outside_or_odd(raw):
    assert resolve_file_key(raw) is None


def test_division_slash_is_a_literal_character_not_a_separator():
    # U+2215 is neither "/" nor changed by NFKC, so it is one harmless literal character.
    assert resolve_file_key("originals/a\u2215b") == "originals/a\u2215b"


def test_refuses_keys_longer_than_r2_allows():
    assert resolve_file_key("originals/" + "a" * 1014) == "originals/" + "a" * 1014
    assert resolve_file_key("originals/" + "a" * 1015) is None
    assert resolve_file_key("originals/" + "%C3%A9" * 508) is None


def test_refuses_non_strings():
    assert resolve_file_key(None) is None
    assert resolve_file_key(b"originals/a") is None


@pytest.mark.parametrize(
    "key",
    [
        "originals/01jc5xq7m3r8a9b2c4d6e8f0gh",
        "renditions/m1/web.mp4",
        "renditions/m1/thumb nail.webp",
        "originals/café",
        "originals/100%",
        "originals/a%41",
        "originals/a?b#c&d=e+f",
        "originals/~tilde",
    ],
)
def test_file_path_round_trips(key):
    path = file_path(key)
    assert path.startswith("/files/")
    assert path.isascii() and " " not in path and "?" not in path and "#" not in path
    assert resolve_file_key(path[len("/files/") :]) == key


def test_file_path_encoding():
    assert file_path("renditions/m1/web.mp4") == "/files/renditions/m1/web.mp4"
    assert file_path("originals/a b%") == "/files/originals/a%20b%25"
