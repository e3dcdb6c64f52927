"""Which output URLs are fetched (processor.output_urls), and that texts name hosts only."""

import json

import pytest

from processor.output_urls import host_label, OutputPolicy, OutputRefused, parse_host_list, scrub_urls
from processor.queue_consumer import handle_message
from processor.webhook_handler import handle_webhook
from processor.webhook_signature import sign
from tests.unit.fakes import NOW, SECRET, insert_media, make_context, submit


POLICY = OutputPolicy(
    allowed=parse_host_list("cdn.example.com, *.ittybitcdn.com, files.example.net:8443, api.example.com", "V"),
    insecure=parse_host_list("127.0.0.1:8790", "V"),
    own_urls=("https://api.example.com", "https://processor.example.com"),
    max_bytes=1000,
)


SECRET_PATH = "/private/job_1/output.mp4?X-Amz-Signature=s3cr3t"


@pytest.mark.parametrize("url", [
    "https://cdn.example.com/a.mp4",
    "https://CDN.example.com./a.mp4",
    "https://cdn.example.com:443/a.mp4",
    "https://media.ittybitcdn.com/a.mp4",
    "https://a.b.ittybitcdn.com/a.mp4",
    "https://files.example.net:8443/a.mp4",
    "http://127.0.0.1:8790/files/job_1/output.mp4",
])
def test_allowed_urls_pass(url):
    POLICY.check(url)


@pytest.mark.parametrize(("url", "words"), [
    ("http://cdn.example.com/a.mp4", "plain http"),
    ("https://evil.example/a.mp4", "not in ITTYBIT_OUTPUT_HOSTS"),
    ("https://ittybitcdn.com/a.mp4", "not in ITTYBIT_OUTPUT_HOSTS"),  # *.x is subdomains only
    ("https://evilittybitcdn.com/a.mp4", "not in ITTYBIT_OUTPUT_HOSTS"),
    ("https://cdn.example.com.evil.example/a.mp4", "not in ITTYBIT_OUTPUT_HOSTS"),
    ("https://cdn.example.com:8443/a.mp4", "not in ITTYBIT_OUTPUT_HOSTS"),
    ("https://files.example.net/a.mp4", "not in ITTYBIT_OUTPUT_HOSTS"),
    ("http://127.0.0.1:8787/files/originals/x", "plain http"),
    ("https://api.example.com/files/originals/01b?expires=1&signature=x", "own host"),  # listed, still refused
    ("https://processor.example.com/x", "own host"),
    ("https://user:pw@cdn.example.com/a.mp4", "credentials"),
    ("ftp://cdn.example.com/a.mp4", "not https"),
    ("file:///etc/passwd", "not https"),
    ("//cdn.example.com/a.mp4", "no scheme"),
    ("https:///a.mp4", "no host"),
    ("https://cdn.example.com:99999/a", "not a valid URL"),
    ("https://[::1/a", "not a valid URL"),
    ("", "missing"),
    ("https://cdn.example.com/" + "a" * 9000, "too long"),
])
def test_refused_urls_say_why(url, words):
    with pytest.raises(OutputRefused) as refused:
        POLICY.check(url)
    assert words in refused.value.reason


def test_a_refusal_names_the_host_and_never_the_path_or_query():
    for url in (f"https://evil.example{SECRET_PATH}", f"http://cdn.example.com{SECRET_PATH}",
                f"https://api.example.com{SECRET_PATH}", f"https://u:pw@cdn.example.com{SECRET_PATH}"):
        with pytest.raises(OutputRefused) as refused:
            POLICY.check(url)
        assert "s3cr3t" not in refused.value.reason and "/private" not in refused.value.reason
        assert "pw" not in refused.value.reason.replace("plain http", "")


def test_redirects_are_followed_within_the_same_host_only():
    start = f"https://cdn.example.com{SECRET_PATH}"
    assert POLICY.redirect_target(start, 302, "/moved/a.mp4") == "https://cdn.example.com/moved/a.mp4"
    assert POLICY.redirect_target(start, 307, "https://cdn.example.com/b") == "https://cdn.example.com/b"
    for location in ("https://media.ittybitcdn.com/a", "http://cdn.example.com/a", "https://cdn.example.com:8443/a",
                     "https://api.example.com/files/originals/x", "//evil.example/a", None, ""):
        with pytest.raises(OutputRefused) as refused:
            POLICY.redirect_target(start, 301, location)
        assert "s3cr3t" not in refused.value.reason and "/private" not in refused.value.reason
    with pytest.raises(OutputRefused) as refused:
        POLICY.redirect_target(start, 302, f"https://evil.example{SECRET_PATH}")
    assert "HTTP 302" in refused.value.reason and "evil.example" in refused.value.reason


def test_a_declared_length_over_the_limit_is_refused_before_reading():
    url = f"https://cdn.example.com{SECRET_PATH}"
    assert POLICY.check_length(url, "1000") == 1000
    assert POLICY.check_length(url, None, 10) == 10  # Ittybit's filesize when no Content-Length
    assert POLICY.check_length(url, None) is None  # unknown: capped while streaming instead
    assert POLICY.check_length(url, "12abc", 7) == 7
    for declared, hint in (("1001", None), (None, 5000), ("9" * 19, None)):
        with pytest.raises(OutputRefused) as refused:
            POLICY.check_length(url, declared, hint)
        assert "over 1000" in refused.value.reason and "s3cr3t" not in refused.value.reason


def test_host_label_and_scrub_urls_keep_hosts_only():
    assert host_label(f"https://cdn.example.com{SECRET_PATH}") == "cdn.example.com"
    assert host_label("http://127.0.0.1:8790/files/x") == "127.0.0.1:8790"
    assert host_label("https://[::1]:8443/x") == "[::1]:8443"
    assert host_label("https://h:bad/x") == "an unreadable URL"
    text = f"TypeError: fetch to https://cdn.example.com{SECRET_PATH} failed; see 'http://x.test/a?b=c'"
    scrubbed = scrub_urls(text)
    assert scrubbed == "TypeError: fetch to <cdn.example.com> failed; see '<x.test>'"


@pytest.mark.parametrize("value", ["https://x.com", "x.com/path", "a@x.com", "x.com:port", "*x.com", "x.*.com", "bad host"])
def test_host_lists_refuse_anything_but_names_and_ports_naming_only_the_var(value):
    with pytest.raises(ValueError) as error:
        parse_host_list(value, "ITTYBIT_OUTPUT_HOSTS")
    assert str(error.value).startswith("ITTYBIT_OUTPUT_HOSTS") and value not in str(error.value)


# A refused output URL fails its rendition at once with a reason naming the host only, and
# no output URL reaches renditions.error, media.error or the log.


MEDIA = "01cccccccccccccccccccccccc"


SECRET_MP3_PATH = "/private/job/output.mp3?X-Amz-Signature=s3cr3t"


async def _completed_with(url, logs=None):
    """An audio media item (one rendition, `web`) whose job Ittybit reports done at `url`."""
    ctx = make_context()
    if logs is not None:
        ctx.log = logs.append
    insert_media(ctx, MEDIA, kind="audio")
    await submit(ctx, MEDIA)
    job_id = ctx.db.rows("SELECT job_id FROM renditions WHERE media_id = ?", MEDIA)[0]["job_id"]
    raw = json.dumps(ctx.itty.finish(job_id, url)).encode()
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(int(NOW)),
               "webhook-signature": sign(SECRET, "msg_1", int(NOW), raw)}
    answer = await handle_webhook(ctx, headers, raw)
    assert answer["result"] == "store_queued"  # a 200: errors raise HttpError
    return ctx


async def _consume(ctx):
    sent, ctx.jobs.sent = ctx.jobs.sent, []
    return [await handle_message(ctx, body, 1, "media-pipeline-jobs") for body in sent]


def _rendition(ctx):
    return ctx.db.rows("SELECT * FROM renditions WHERE media_id = ?", MEDIA)[0]


def _media(ctx):
    return ctx.db.rows("SELECT * FROM media WHERE id = ?", MEDIA)[0]


async def test_an_output_on_another_host_fails_the_rendition_without_fetching_it():
    ctx = await _completed_with(f"https://evil.example{SECRET_MP3_PATH}")  # nothing in storage.outputs: a fetch would raise
    decisions = await _consume(ctx)
    assert [(d.action, d.what) for d in decisions] == [("ack", "output_refused")]
    row = _rendition(ctx)
    assert row["status"] == "failed"
    assert row["error"] == "output refused: the output host evil.example is not in ITTYBIT_OUTPUT_HOSTS"
    assert _media(ctx)["status"] == "failed" and "evil.example" in _media(ctx)["error"]
    assert "s3cr3t" not in _media(ctx)["error"] and "/private" not in _media(ctx)["error"]
    assert not any(key.startswith("renditions/") for key in ctx.storage.objects)
    assert ctx.kv.json(f"media:{MEDIA}")["status"] == "failed"


async def test_plain_http_and_our_own_api_host_are_refused():
    for url in (f"http://out.test{SECRET_MP3_PATH}", f"https://api.test/files/originals/01x?expires=1&signature=s3cr3t"):
        ctx = await _completed_with(url)
        assert [d.what for d in await _consume(ctx)] == ["output_refused"]
        assert _rendition(ctx)["status"] == "failed" and "s3cr3t" not in _rendition(ctx)["error"]


async def test_a_refusal_from_the_fetch_itself_fails_the_rendition():
    # R2Storage raises OutputRefused for a redirect off the host or a declared length over the limit.
    ctx = await _completed_with(f"https://out.test{SECRET_MP3_PATH}")
    ctx.storage.fail_fetch = OutputRefused("the output on out.test answered HTTP 302, a redirect to evil.example"
                                           " (redirects are followed only within the same host)")
    assert [d.what for d in await _consume(ctx)] == ["output_refused"]
    row = _rendition(ctx)
    assert row["status"] == "failed" and "HTTP 302, a redirect to evil.example" in row["error"]
    assert _media(ctx)["status"] == "failed"


async def test_a_refusal_leaves_a_final_rendition_alone():
    ctx = await _completed_with(f"https://evil.example{SECRET_MP3_PATH}")
    store = ctx.jobs.sent[:]
    ctx.db.conn.execute("UPDATE renditions SET status = 'completed' WHERE media_id = ?", (MEDIA,))
    ctx.jobs.sent = store
    assert [d.what for d in await _consume(ctx)] == ["already_final"]
    assert _rendition(ctx)["status"] == "completed"


async def test_failed_copies_log_the_output_host_only():
    logs = []
    ctx = await _completed_with(f"https://out.test{SECRET_MP3_PATH}", logs)
    ctx.storage.fail_fetch = OSError(f"network lost while reading https://out.test{SECRET_MP3_PATH}")
    assert [d.action for d in await _consume(ctx)] == ["retry"]
    logged = "\n".join(logs)
    assert "<out.test>" in logged
    assert "s3cr3t" not in logged and "/private" not in logged
