"""Properties of common.media_kinds.sniff and declared_matches: any bytes, any header text."""

from hypothesis import given
from hypothesis import strategies as st

from common.media_kinds import SNIFF_BYTES, Sniffed, declared_matches, sniff

KINDS = {"image", "video", "audio"}
MAGIC = {
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
    b"GIF89a": "image/gif",
    b"GIF87a": "image/gif",
    b"fLaC": "audio/flac",
}


@given(st.binary(max_size=200))
def test_any_bytes_are_a_supported_kind_or_none(data):
    found = sniff(data)
    assert found is None or (isinstance(found, Sniffed) and found.kind in KINDS)
    if found is not None:
        assert found.content_type.split("/")[0] in KINDS | {"application"}
        assert found.extension and "." not in found.extension


@given(st.binary(min_size=SNIFF_BYTES, max_size=SNIFF_BYTES), st.binary(max_size=200))
def test_only_the_first_bytes_decide(head, rest):
    assert sniff(head + rest) == sniff(head)


@given(st.sampled_from(sorted(MAGIC)), st.binary(max_size=SNIFF_BYTES))
def test_a_signature_wins_whatever_follows(magic, rest):
    assert sniff(magic + rest).content_type == MAGIC[magic]


@given(st.binary(max_size=SNIFF_BYTES), st.one_of(st.none(), st.text(max_size=60)))
def test_declared_matches_never_raises_and_agrees_with_the_sniffed_type(data, declared):
    found = sniff(data)
    if found is None:
        return
    assert declared_matches(declared, found) in (True, False)
    assert declared_matches(found.content_type, found)
    assert declared_matches(found.content_type.upper() + "; charset=binary", found)
    assert declared_matches("application/octet-stream", found)
    assert declared_matches(None, found)
    other_kinds = KINDS - {found.kind}
    if found.content_type not in ("video/mp4", "video/webm", "video/x-matroska", "video/ogg", "audio/ogg", "audio/mp4"):
        for kind in other_kinds:
            assert not declared_matches(f"{kind}/anything", found)
    assert not declared_matches("text/html", found)
