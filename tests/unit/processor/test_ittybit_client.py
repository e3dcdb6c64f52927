"""processor.ittybit_client: the client (idempotency, errors, retries, jobs, tasks); which output
URLs are fetched, and that texts name hosts only."""

import hashlib
import json

import pytest

from common.errors import host_label, scrub_urls
from processor.ittybit_client import (
    IttybitClient,
    IttybitError,
    OutputPolicy,
    OutputRefused,
    RejectedError,
    RetryableError,
    idempotency_key,
    parse_host_list,
    parse_retry_after,
)
from processor.ittybit_client import MockTransport, TransportError, TransportResponse
from processor.presets import DEFAULT_PRESETS, Preset
from processor.queue_consumer import handle_message
from processor.settings import input_url_for
from processor.webhook_handler import handle_webhook
from processor.webhook_signature import sign
from tests.unit.fakes import NOW as FAKE_NOW, SECRET, insert_media, make_context, submit

NOW = 1_700_000_000.0
JOB = {"id": "job_1", "object": "job", "status": "pending", "tasks": []}


def client_for(handler):
    transport = MockTransport(handler)
    return IttybitClient("https://api.example.test/", "sk_test", transport, clock=lambda: NOW), transport


def test_idempotency_key_is_deterministic_and_16_to_32_chars():
    key = idempotency_key("m1", "web", 1_800_000_000_000)
    assert key == hashlib.sha256(b"m1:1800000000000:web").hexdigest()[:32]
    assert 16 <= len(key) <= 32
    assert key == idempotency_key("m1", "web", 1_800_000_000_000)
    assert key != idempotency_key("m1", "mobile", 1_800_000_000_000) != idempotency_key("m2", "web", 1_800_000_000_000)


def test_idempotency_key_changes_with_the_record_not_only_the_id():
    # A record deleted and made again under the same id (a direct upload put again) is
    # another record: Ittybit must not replay the old record's jobs for it.
    first = idempotency_key("m1", "web", 1_800_000_000_000)
    assert idempotency_key("m1", "web", 1_800_000_060_000) != first
    assert idempotency_key("m1", "web", 1_800_000_000_001) != first


async def test_job_body_with_s3_input_and_connection():
    # The options as submission computes them for a 1280x720 source (explicit sides, never the box).
    preset = Preset("thumbnail", "image", {"format": "webp", "width": 640, "height": 360, "fit": "fill", "start": 2})
    client, transport = client_for(lambda request: TransportResponse.json(201, JOB))
    await client.create_job(preset.kind, "s3://media/originals/m1", preset.options,
                            {"media_id": "m1", "rendition": "thumbnail"}, "https://p.test/webhooks/ittybit",
                            idempotency_key("m1", "thumbnail", 1), "conn_1")
    payload = transport.requests[0].json()
    assert payload == {
        "kind": "image",
        "input": "s3://media/originals/m1",
        "options": {"format": "webp", "width": 640, "height": 360, "fit": "fill", "start": 2},
        "metadata": {"media_id": "m1", "rendition": "thumbnail"},
        "webhook_url": "https://p.test/webhooks/ittybit",
        "connection_id": "conn_1",
    }
    assert preset.options["width"] == 640


async def test_job_body_with_signed_url_has_no_connection():
    preset = DEFAULT_PRESETS["video"][0]
    client, transport = client_for(lambda request: TransportResponse.json(201, JOB))
    await client.create_job(preset.kind, "https://api.test/files/x?sig=1", preset.options, {}, "https://p.test/w",
                            idempotency_key("m1", "web", 1))
    payload = transport.requests[0].json()
    assert "connection_id" not in payload
    assert payload["input"] == "https://api.test/files/x?sig=1"


def test_input_url_for_s3():
    assert input_url_for("s3", "media", "uploads/a b.mp4", connection_id="conn_1") == "s3://media/uploads/a b.mp4"


@pytest.mark.parametrize(
    ("mode", "kwargs", "message"),
    [
        ("s3", {}, "connection id"),
        ("signed_url", {"public_api_url": "https://api.test"}, "signing secret"),
        ("ftp", {}, "input mode must be one of s3, signed_url"),
    ],
)
def test_input_url_for_validates(mode, kwargs, message):
    with pytest.raises(ValueError, match=message):
        input_url_for(mode, "media", "originals/m1", **kwargs)


def test_input_url_for_signed_url_uses_the_shared_signer():
    from common.keys import file_path
    from common.url_signing import signed_url

    url = input_url_for("signed_url", "media", "originals/m1", public_api_url="https://api.test", signing_secret="s3cret", expires=NOW + 900)
    assert url == signed_url("https://api.test", file_path("originals/m1"), "s3cret", NOW + 900)
    assert url.startswith("https://api.test/files/")


async def test_create_job_sends_payload_and_headers():
    client, transport = client_for(lambda request: TransportResponse.json(201, JOB))
    job = await client.create_job(
        "video", "s3://media/originals/m1", {"format": "mp4"}, {"media_id": "m1", "rendition": "web"},
        "https://p.test/webhooks/ittybit", idempotency_key("m1", "web", 1), connection_id="conn_1",
    )
    assert job == JOB
    (request,) = transport.requests
    assert (request.method, request.url) == ("POST", "https://api.example.test/jobs")
    assert request.headers["authorization"] == "Bearer sk_test"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["idempotency-key"] == idempotency_key("m1", "web", 1)
    assert request.json() == {
        "kind": "video",
        "input": "s3://media/originals/m1",
        "options": {"format": "mp4"},
        "metadata": {"media_id": "m1", "rendition": "web"},
        "webhook_url": "https://p.test/webhooks/ittybit",
        "connection_id": "conn_1",
    }


async def test_create_job_with_signed_url_input():
    client, transport = client_for(lambda request: TransportResponse.json(200, JOB))
    await client.create_job("image", "https://api.test/files/o?exp=1&sig=a", {}, {}, "https://p.test/w", "k" * 16)
    body = transport.requests[0].json()
    assert body["input"] == "https://api.test/files/o?exp=1&sig=a"
    assert "connection_id" not in body


@pytest.mark.parametrize("key", ["short", "k" * 33])
async def test_idempotency_key_length_is_enforced(key):
    client, transport = client_for(lambda request: TransportResponse.json(200, JOB))
    with pytest.raises(ValueError, match="16 to 32"):
        await client.create_job("video", "s3://b/k", {}, {}, None, key)
    assert transport.requests == []


async def test_get_job_quotes_the_id_and_unwraps_data_envelopes():
    client, transport = client_for(lambda request: TransportResponse.json(200, {"meta": {}, "data": JOB}))
    assert await client.get_job("job/1") == JOB
    request = transport.requests[0]
    assert (request.method, request.url, request.body) == ("GET", "https://api.example.test/jobs/job%2F1", None)
    assert "idempotency-key" not in request.headers


async def test_create_connection():
    client, transport = client_for(lambda request: TransportResponse.json(201, {"id": "conn_1", "name": "r2"}))
    result = await client.create_connection("r2", "https://acc.r2.cloudflarestorage.com", "AK", "SK", idempotency_key="c" * 20)
    assert result["id"] == "conn_1"
    request = transport.requests[0]
    assert request.url.endswith("/connections")
    assert request.headers["idempotency-key"] == "c" * 20
    assert request.json() == {
        "kind": "s3", "name": "r2", "endpoint": "https://acc.r2.cloudflarestorage.com",
        "region": "auto", "access_key_id": "AK", "secret_access_key": "SK",
    }


async def test_429_with_retry_after_seconds():
    client, _ = client_for(lambda r: TransportResponse.json(429, {"kind": "rate_limited", "message": "slow down"}, {"Retry-After": "17"}))
    with pytest.raises(RetryableError) as caught:
        await client.get_job("job_1")
    error = caught.value
    assert (error.status, error.kind, error.message, error.retry_after) == (429, "rate_limited", "slow down", 17.0)


async def test_429_with_retry_after_http_date():
    client, _ = client_for(lambda r: TransportResponse(429, {"retry-after": "Tue, 14 Nov 2023 22:14:20 GMT"}, b""))
    with pytest.raises(RetryableError) as caught:
        await client.get_job("job_1")
    assert caught.value.retry_after == pytest.approx(1_700_000_060.0 - NOW)


def test_parse_retry_after():
    assert parse_retry_after(None, NOW) is None
    assert parse_retry_after("", NOW) is None
    assert parse_retry_after("soon", NOW) is None
    assert parse_retry_after("2.5", NOW) == 2.5
    assert parse_retry_after("-3", NOW) == 0.0
    assert parse_retry_after("Mon, 01 Jan 2001 00:00:00 GMT", NOW) == 0.0


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408, 409])
async def test_5xx_and_timeouts_are_retryable(status):
    client, _ = client_for(lambda r: TransportResponse(status, {}, b"<html>Bad gateway</html>"))
    with pytest.raises(RetryableError) as caught:
        await client.create_job("video", "s3://b/k", {}, {}, None, "k" * 32)
    assert caught.value.status == status
    assert caught.value.retry_after is None
    assert caught.value.message == f"HTTP {status} with no error message"


async def test_network_error_is_retryable():
    def fail(request):
        raise TransportError("connection reset")

    client, _ = client_for(fail)
    with pytest.raises(RetryableError, match="connection reset") as caught:
        await client.get_job("job_1")
    assert caught.value.status is None


async def test_4xx_is_rejected_with_ittybits_message():
    client, _ = client_for(lambda r: TransportResponse.json(400, {"kind": "invalid_input", "message": "input is not a media file"}))
    with pytest.raises(RejectedError) as caught:
        await client.create_job("video", "s3://b/k", {}, {}, None, "k" * 32)
    error = caught.value
    assert isinstance(error, IttybitError) and not isinstance(error, RetryableError)
    assert (error.status, error.kind, error.message) == (400, "invalid_input", "input is not a media file")
    assert error.reason == "Ittybit rejected the job (400 invalid_input): input is not a media file"
    assert not error.account_problem


@pytest.mark.parametrize(
    ("body", "kind", "message"),
    [
        (b"plain text failure", None, "plain text failure"),
        (b"", None, "HTTP 422 with no error message"),
        (b"<html><body>nope</body></html>", None, "HTTP 422 with no error message"),
        (b'{"error": {"type": "bad", "message": "nested"}}', "bad", "nested"),
        (b'{"error": "flat"}', None, "flat"),
        (b"[1, 2]", None, "HTTP 422 with no error message"),
        (b"\xff\xfe", None, "\ufffd\ufffd"),
    ],
)
async def test_non_json_and_odd_error_bodies(body, kind, message):
    client, _ = client_for(lambda r: TransportResponse(422, {}, body))
    with pytest.raises(RejectedError) as caught:
        await client.get_job("job_1")
    assert (caught.value.kind, caught.value.message) == (kind, message)


async def test_401_is_an_account_problem():
    client, _ = client_for(lambda r: TransportResponse.json(401, {"kind": "unauthorized", "message": "bad key"}))
    with pytest.raises(RejectedError) as caught:
        await client.get_job("job_1")
    assert caught.value.account_problem


async def test_unreadable_success_body_is_retryable():
    client, _ = client_for(lambda r: TransportResponse(200, {}, b"not json"))
    with pytest.raises(RetryableError, match="unreadable"):
        await client.get_job("job_1")


async def test_async_handler_and_empty_key():
    async def handler(request):
        return TransportResponse.json(200, JOB)

    client = IttybitClient("", "sk", MockTransport(handler))
    assert client.base_url == "https://api.ittybit.com"
    assert await client.get_job("job_1") == JOB
    with pytest.raises(ValueError, match="API key"):
        IttybitClient("https://x", "", MockTransport(handler))


async def test_probe_posts_a_probe_task_and_get_task_reads_it():
    task = {"id": "task_1", "object": "task", "kind": "probe", "status": "completed",
            "output": {"object": "file", "width": 640, "height": 480}}
    client, transport = client_for(lambda request: TransportResponse.json(201 if request.method == "POST" else 200, task))
    answer = await client.probe("s3://media/originals/m1", {"media_id": "m1", "rendition": "probe"}, "k" * 32, "conn_1")
    assert answer == task
    await client.get_task("task/1")
    post, get = transport.requests
    assert (post.method, post.url) == ("POST", "https://api.example.test/tasks")
    assert post.json() == {"kind": "probe", "input": "s3://media/originals/m1",
                           "metadata": {"media_id": "m1", "rendition": "probe"}, "connection_id": "conn_1"}
    assert post.headers["idempotency-key"] == "k" * 32
    assert (get.method, get.url) == ("GET", "https://api.example.test/tasks/task%2F1")


# Which output URLs are fetched, and that texts name hosts only.


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
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(int(FAKE_NOW)),
               "webhook-signature": sign(SECRET, "msg_1", int(FAKE_NOW), raw)}
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
