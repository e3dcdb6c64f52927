"""Properties of common.keys.resolve_file_key: whatever the path, the key is under
originals/ or renditions/, has no '.', '..' or empty segment, and stays so if decoded again."""

import unicodedata
from urllib.parse import quote, unquote

from hypothesis import example, given, settings
from hypothesis import strategies as st

from common.keys import FILE_PREFIXES, MAX_KEY_BYTES, file_path, resolve_file_key

# Pieces that traversal attempts are made of, in their many encodings.
_PIECES = [
    "originals", "renditions", "secret", "/", ".", "..", "%2e", "%2E", "%2f", "%2F", "%5c", "%5C",
    "\\", "%", "%25", "%252e", "%c0%ae", "%c0%af", "．", "／", "‥", "․", "%00", "\x00", "\u202e",
    "a", "b.mp4", "01jd8x3k2q9m4n5p6r7s8t9v0w", "%e2%80%ae", "%ef%bc%8f", "~", "web.mp4",
]
hostile_paths = st.one_of(
    st.lists(st.sampled_from(_PIECES), max_size=12).map("".join),
    st.text(max_size=60),
    st.builds(lambda prefix, rest: prefix + "/" + rest, st.sampled_from(FILE_PREFIXES), st.text(max_size=40)),
)


def _assert_safe(key: str) -> None:
    segments = key.split("/")
    assert segments[0] in FILE_PREFIXES and len(segments) >= 2
    assert not any(segment in ("", ".", "..") for segment in segments)
    assert "\\" not in key and not key.startswith("/")
    assert len(key.encode("utf-8")) <= MAX_KEY_BYTES
    assert unicodedata.normalize("NFKC", key) == key
    assert not any(unicodedata.category(char).startswith("C") for char in key)


@settings(max_examples=400)
@given(hostile_paths)
@example("originals/%2e%2e/secret/passwords.txt")
@example("originals/..%2fsecret")
@example("originals/%252e%252e/secret")
@example("renditions/．．/secret")
@example("originals/a/../../secret")
def test_a_resolved_key_never_leaves_the_two_prefixes(raw_path):
    key = resolve_file_key(raw_path)
    if key is None:
        return
    _assert_safe(key)
    # A second decoding (by anything downstream) must not turn it into a traversal either.
    _assert_safe(unquote(key))


_SEGMENT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")),
    min_size=1,
    max_size=12,
).filter(lambda s: "/" not in s and "\\" not in s and "%" not in s and s not in (".", "..")
         and unicodedata.normalize("NFKC", s) == s)


@given(st.sampled_from(FILE_PREFIXES), st.lists(_SEGMENT, min_size=1, max_size=4))
def test_file_path_of_a_key_resolves_back_to_it(prefix, segments):
    key = "/".join([prefix, *segments])
    path = file_path(key)
    assert path.startswith("/files/")
    assert resolve_file_key(path[len("/files/") :]) == key


@given(st.text(max_size=30))
def test_a_key_outside_the_prefixes_never_resolves(rest):
    assert resolve_file_key("secret/" + quote(rest)) is None
    assert resolve_file_key("originals.txt" + quote(rest, safe="/")) is None
    assert resolve_file_key("../originals/" + quote(rest, safe="/")) is None
