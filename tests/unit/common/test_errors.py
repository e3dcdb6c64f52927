"""common.errors: the one error type and its JSON body; error texts for people carry no
file-system path and no URL beyond its host (issue 17)."""

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from common.errors import (
    HttpError,
    error_body,
    public_reason,
    scrub_urls,
    without_paths,
)
from common.messages import StoreMessage
from processor.ittybit_client import (
    IttybitClient,
    MockTransport,
    RejectedError,
    RetryableError,
    TransportError,
    TransportResponse,
)
from processor.job_status import outcome_from_job
from processor.queue_consumer import give_up_reason
from processor.renditions import store_rendition
from tests.unit.fakes import NOW, insert_media, make_context


def test_error_body():
    assert error_body(404, "not_found", "No such media.") == {
        "error": "No such media.",
        "code": "not_found",
    }
    assert error_body(413, "file_too_large", "Too big.", max_file_size=10) == {
        "error": "Too big.",
        "code": "file_too_large",
        "max_file_size": 10,
    }


def test_api_error_carries_status_code_message_headers_and_extra():
    error = HttpError(
        405, "method_not_allowed", "Use GET.", headers={"Allow": "GET"}, extra={"x": 1}
    )
    assert (error.status, error.code, error.message) == (
        405,
        "method_not_allowed",
        "Use GET.",
    )
    assert error.headers == {"Allow": "GET"}
    assert error.body() == {"error": "Use GET.", "code": "method_not_allowed", "x": 1}
    assert str(error) == "Use GET."
    assert isinstance(error, Exception)


def test_api_error_defaults():
    error = HttpError(400, "bad", "Bad.")
    assert error.headers == {} and error.extra == {}
    assert error.body() == {"error": "Bad.", "code": "bad"}
    assert "400" in repr(error)


# Error texts for people: no file-system path, no URL beyond its host (issue 17).


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


# Where Ittybit's (or the network's) words become a stored, public reason, no path or URL query survives.


MEDIA = "01aaaaaaaaaaaaaaaaaaaaaaaa"


LEAKY = "/var/lib/ittybit/inputs/job_1/input: Invalid data found (see https://cdn.test/o/x?signature=abc)"


def _clean(text: str) -> None:
    assert "/var/lib" not in text and "inputs/job_1" not in text
    assert "signature" not in text and "/o/x" not in text


def test_a_failed_job_s_error_is_stored_without_paths():
    outcome = outcome_from_job({"id": "job_1", "object": "job", "status": "failed", "error": {"message": LEAKY}})
    _clean(outcome.error)
    assert outcome.error.startswith("<path>: Invalid data found")
    task = {"id": "job_2", "status": "failed", "tasks": [{"id": "t", "object": "task", "status": "failed", "error": LEAKY}]}
    _clean(outcome_from_job(task).error)


async def test_ittybit_error_bodies_are_cleaned():
    transport = MockTransport(lambda request: TransportResponse.json(400, {"kind": "invalid_input", "message": LEAKY}))
    client = IttybitClient("https://ittybit.test", "k", transport, clock=lambda: NOW)
    with pytest.raises(RejectedError) as refused:
        await client.create_job("video", "https://in.test/x", {}, {}, None, "k" * 32)
    _clean(refused.value.reason)
    assert "Invalid data found" in refused.value.reason


async def test_a_network_error_is_cleaned():
    def broken(request):
        raise TransportError(f"connect to https://ittybit.test/jobs?k=1 failed: [Errno 2] {LEAKY}")

    client = IttybitClient("https://ittybit.test", "k", MockTransport(broken), clock=lambda: NOW)
    with pytest.raises(RetryableError) as retry:
        await client.get_job("job_1")
    _clean(retry.value.message)


def test_the_dead_letter_reason_is_cleaned():
    reason = give_up_reason([{"status": "pending", "error": LEAKY, "attempts": 3, "updated_at": 1}], 6)
    _clean(reason)
    assert reason.startswith("gave up after 6 attempts: <path>: Invalid data found")


async def test_a_failed_copy_note_is_cleaned():
    ctx = make_context()
    insert_media(ctx, MEDIA)
    ctx.db.conn.execute(
        "INSERT INTO renditions (media_id, name, kind, options, job_id, status, output_key, created_at, updated_at)"
        " VALUES (?, 'web', 'video', '{}', 'job_1', 'processing', ?, 1, 1)", (MEDIA, f"renditions/{MEDIA}/web.mp4"))
    ctx.storage.fail_fetch = OSError(f"[Errno 28] No space left on device: '/tmp/spool/{MEDIA}/part-1'")
    with pytest.raises(OSError):
        await store_rendition(ctx, StoreMessage(MEDIA, "web", "job_1", "https://out.test/o/x?signature=abc"))
    (row,) = ctx.db.rows("SELECT error FROM renditions WHERE media_id = ?", MEDIA)
    assert row["error"] == "copying the output into R2 failed: [Errno 28] No space left on device: '<path>'"
