"""Error texts for people carry no file-system path and no URL beyond its host (issue 17)."""

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from common.public_errors import public_reason, scrub_urls, without_paths

# What a leak looks like: an absolute path of two segments or more.
# (A path ends at whitespace, a colon, a quote or a bracket, as in the texts ffmpeg and OSError write.)
_STOPS = "/\\:'\"<>()[]{},;"
LEAK = re.compile(r"(?<![\w.])/[^\s/:'\"<>()\[\]{},;]+/")


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            "/var/lib/ittybit/inputs/job_1/input: Invalid data found when processing input",
            "<path>: Invalid data found when processing input",
        ),
        ("ffmpeg failed: /tmp/x/out.mp4: No such file or directory", "ffmpeg failed: <path>: No such file or directory"),
        ("[Errno 2] No such file or directory: '/work/data/inputs/a'", "[Errno 2] No such file or directory: '<path>'"),
        ("open(/srv/a/b) failed", "open(<path>) failed"),
        ("cannot read ~/Library/photo.heic", "cannot read <path>"),
        (r"cannot read C:\Users\me\photo.heic", "cannot read <path>"),
        ("HTTP 404 for /jobs", "HTTP 404 for /jobs"),  # one segment: a route, not a disk
    ],
)
def test_paths_become_a_word(text, expected):
    assert without_paths(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "codec mp4/h264 at 16/9, 30000/1001 fps",
        "input is not a readable media file",
        "a.b/c and ./relative/x stay",
        "format 'webp' is not one of jpeg, png",
    ],
)
def test_ordinary_words_and_ratios_are_kept(text):
    assert without_paths(text) == text


def test_urls_keep_their_host_only():
    text = "fetch https://api.test:8443/files/originals/abc?expires=1&signature=deadbeef failed"
    assert scrub_urls(text) == "fetch <api.test:8443> failed"
    reason = public_reason("download of s3://bucket/originals/abc?x=1 from /data/inputs/j failed")
    assert "signature" not in reason and "/data/" not in reason and "originals" not in reason
    assert reason == "download of <bucket> from <path> failed"


def test_public_reason_is_one_bounded_line():
    assert public_reason("a\n  b\tc") == "a b c"
    assert len(public_reason("x" * 2000)) == 500
    assert public_reason(ValueError("bad /a/b")) == "bad <path>"


_segment = st.text(alphabet=st.characters(blacklist_characters=_STOPS, blacklist_categories=("Z", "C")),
                   min_size=1, max_size=12)
_separator = st.sampled_from([" ", ": ", "'", '"', "(", "=", "\n", "\t", ", ", "["])


@given(st.lists(_segment, min_size=2, max_size=6), st.text(max_size=40), st.text(max_size=40), _separator)
def test_no_absolute_path_survives(segments, before, after, separator):
    path = "/" + "/".join(segments)
    text = before + separator + path + " " + after
    cleaned = public_reason(text, limit=10_000)
    assert path not in cleaned
    assert not LEAK.search(without_paths(text))


@given(st.text(max_size=200))
def test_any_text_is_cleaned_without_error_and_idempotently(text):
    once = public_reason(text, limit=10_000)
    assert public_reason(once, limit=10_000) == once
    assert not LEAK.search(without_paths(text))
    assert "://" not in scrub_urls(text) or "<" in scrub_urls(text)
