import base64
import time
from datetime import datetime, timezone

import pytest

from processor.webhook_signature import WebhookVerificationError, secret_bytes, sign, verify

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
OTHER_SECRET = "whsec_" + base64.b64encode(b"another secret of thirty-two byt").decode()
NOW = 1_700_000_000
BODY = b'{"id":"job_1","object":"job","status":"succeeded"}'


def headers(signature=None, *, webhook_id="msg_1", timestamp=NOW, body=BODY):
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature if signature is not None else sign(SECRET, webhook_id, timestamp, body),
    }


def reason(secret, hdrs, body=BODY, now=NOW):
    with pytest.raises(WebhookVerificationError) as caught:
        verify(secret, hdrs, body, now)
    return caught.value.reason


def test_valid_delivery_returns_its_id():
    assert verify(SECRET, headers(), BODY, NOW) == "msg_1"


def test_secret_with_or_without_prefix_and_padding():
    bare = SECRET.removeprefix("whsec_")
    assert verify(bare, headers(), BODY, NOW) == "msg_1"
    assert verify(bare.rstrip("="), headers(), BODY, NOW) == "msg_1"
    assert secret_bytes(SECRET) == b"0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize("secret", ["", "whsec_", "whsec_not base64!"])
def test_bad_secret_is_a_configuration_error(secret):
    with pytest.raises(ValueError):
        verify(secret, headers(), BODY, NOW)


def test_headers_are_case_insensitive_and_svix_names_work():
    hdrs = {name.title(): value for name, value in headers().items()}
    assert verify(SECRET, hdrs, BODY, NOW) == "msg_1"
    svix = {name.replace("webhook-", "svix-"): value for name, value in headers().items()}
    assert verify(SECRET, svix, BODY, NOW) == "msg_1"


def test_wrong_secret():
    assert reason(OTHER_SECRET, headers()) == "no matching signature"


def test_tampered_body():
    assert reason(SECRET, headers(), body=BODY.replace(b"succeeded", b"failed")) == "no matching signature"


def test_signature_binds_id_and_timestamp():
    hdrs = headers()
    hdrs["webhook-id"] = "msg_2"
    assert reason(SECRET, hdrs) == "no matching signature"
    hdrs = headers()
    hdrs["webhook-timestamp"] = str(NOW + 1)
    assert reason(SECRET, hdrs) == "no matching signature"


def test_stale_and_future_timestamps():
    assert reason(SECRET, headers(timestamp=NOW - 301)) == "timestamp too old"
    assert reason(SECRET, headers(timestamp=NOW + 301)) == "timestamp too new"
    assert verify(SECRET, headers(timestamp=NOW - 300), BODY, NOW) == "msg_1"
    assert verify(SECRET, headers(timestamp=NOW + 300), BODY, NOW) == "msg_1"
    assert verify(SECRET, headers(timestamp=NOW - 3000), BODY, NOW, tolerance=3600) == "msg_1"


def test_several_signatures_one_valid():
    good = sign(SECRET, "msg_1", NOW, BODY)
    bad = sign(OTHER_SECRET, "msg_1", NOW, BODY)
    header = f"v2,{good.split(',')[1]} {bad} garbage v1,%%% {good}"
    assert verify(SECRET, headers(header), BODY, NOW) == "msg_1"


def test_only_unknown_versions():
    good = sign(SECRET, "msg_1", NOW, BODY)
    assert reason(SECRET, headers("v1a," + good.split(",")[1])) == "no v1 signature in webhook-signature"


@pytest.mark.parametrize("name", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_missing_headers(name):
    hdrs = headers()
    del hdrs[name]
    assert reason(SECRET, hdrs).startswith("missing")
    hdrs[name] = "  "
    assert reason(SECRET, hdrs).startswith("missing")


@pytest.mark.parametrize("timestamp", ["17e8", "1700000000.5", "-1700000000", "now", "9" * 13])
def test_malformed_timestamps(timestamp):
    hdrs = headers()
    hdrs["webhook-timestamp"] = timestamp
    assert reason(SECRET, hdrs) == "malformed webhook-timestamp"


@pytest.mark.parametrize("webhook_id", ["a b", "x" * 257, "id\n2"])
def test_malformed_ids(webhook_id):
    hdrs = headers()
    hdrs["webhook-id"] = webhook_id
    assert reason(SECRET, hdrs) == "malformed webhook-id"


@pytest.mark.parametrize("signature", ["v1", "v1,", "v1,not-base64!", ","])
def test_malformed_signatures(signature):
    assert reason(SECRET, headers(signature)) in {"no v1 signature in webhook-signature", "missing webhook-id, webhook-timestamp or webhook-signature header"}


def test_overlong_signature_header():
    assert reason(SECRET, headers("v1,AAAA " * 1000)) == "signature header too long"


def test_sign_format():
    value = sign(SECRET, "msg_1", NOW, BODY)
    assert value.startswith("v1,")
    assert len(base64.b64decode(value[3:])) == 32
    assert sign(SECRET, "msg_1", NOW, BODY.decode()) == value


# Cross-checks against the reference implementation (PyPI standardwebhooks), which reads the real clock.
standardwebhooks = pytest.importorskip("standardwebhooks")


def test_theirs_signs_ours_verifies():
    now = int(time.time())
    theirs = standardwebhooks.Webhook(SECRET)
    signature = theirs.sign("msg_x", datetime.fromtimestamp(now, tz=timezone.utc), BODY.decode())
    hdrs = {"webhook-id": "msg_x", "webhook-timestamp": str(now), "webhook-signature": signature}
    assert verify(SECRET, hdrs, BODY, now) == "msg_x"
    assert signature == sign(SECRET, "msg_x", now, BODY)


def test_ours_signs_theirs_verifies():
    now = int(time.time())
    hdrs = {"webhook-id": "msg_y", "webhook-timestamp": str(now), "webhook-signature": sign(SECRET, "msg_y", now, BODY)}
    assert standardwebhooks.Webhook(SECRET).verify(BODY, hdrs) == {"id": "job_1", "object": "job", "status": "succeeded"}
    hdrs["webhook-signature"] = sign(OTHER_SECRET, "msg_y", now, BODY)
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        standardwebhooks.Webhook(SECRET).verify(BODY, hdrs)
