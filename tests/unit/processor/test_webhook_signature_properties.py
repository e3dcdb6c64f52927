"""Properties of processor.webhook_signature.verify: signed deliveries pass, anything else
raises WebhookVerificationError (never another exception), whatever the headers hold."""

import base64
from datetime import UTC, datetime

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from processor.webhook_signature import DEFAULT_TOLERANCE, WebhookVerificationError, sign, verify

SECRET = "whsec_" + base64.b64encode(b"property-test-webhook-secret").decode()
NOW = 1_760_000_000

ids = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=256)
offsets = st.integers(min_value=-DEFAULT_TOLERANCE, max_value=DEFAULT_TOLERANCE)
bodies = st.binary(max_size=300)
header_values = st.one_of(st.text(max_size=80), st.sampled_from(["", " ", "v1,", "v1,AAAA", "v2,abc", "v1,!!!!"]))


def _headers(webhook_id, timestamp, signature, prefix="webhook-"):
    return {f"{prefix}id": webhook_id, f"{prefix}timestamp": str(timestamp), f"{prefix}signature": signature}


@given(ids, offsets, bodies, st.sampled_from(["webhook-", "Webhook-", "WEBHOOK-", "svix-"]))
def test_a_signed_delivery_verifies_and_returns_its_id(webhook_id, offset, body, prefix):
    timestamp = NOW + offset
    headers = _headers(webhook_id, timestamp, sign(SECRET, webhook_id, timestamp, body), prefix)
    assert verify(SECRET, headers, body, NOW) == webhook_id


@given(ids, offsets, st.text(max_size=200))
def test_our_signature_is_the_standard_webhooks_one(webhook_id, offset, text):
    from standardwebhooks import Webhook

    timestamp = NOW + offset
    theirs = Webhook(SECRET).sign(webhook_id, datetime.fromtimestamp(timestamp, tz=UTC), text)
    assert sign(SECRET, webhook_id, timestamp, text) == theirs


@given(ids, offsets, bodies, st.lists(header_values, max_size=4), st.randoms())
def test_the_valid_signature_among_garbage_entries_still_verifies(webhook_id, offset, body, garbage, rnd):
    timestamp = NOW + offset
    entries = [value for value in garbage if value.strip()] + [sign(SECRET, webhook_id, timestamp, body)]
    rnd.shuffle(entries)
    headers = _headers(webhook_id, timestamp, " ".join(entries))
    if len(headers["webhook-signature"]) > 4096:
        return
    assert verify(SECRET, headers, body, NOW) == webhook_id


@given(ids, offsets, bodies, st.data())
def test_any_change_to_a_signed_delivery_is_refused(webhook_id, offset, body, data):
    timestamp = NOW + offset
    headers = _headers(webhook_id, timestamp, sign(SECRET, webhook_id, timestamp, body))
    change = data.draw(st.sampled_from(["body", "id", "timestamp", "old", "new"]))
    now, reason = NOW, None
    if change == "body":
        body = data.draw(bodies.filter(lambda other: other != body))
    elif change == "id":
        headers["webhook-id"] = data.draw(ids.filter(lambda other: other != webhook_id))
    elif change == "timestamp":
        headers["webhook-timestamp"] = str(data.draw(offsets.filter(lambda o: o != offset)) + NOW)
    elif change == "old":  # a replay after the tolerance
        now = NOW + offset + DEFAULT_TOLERANCE + data.draw(st.integers(min_value=1, max_value=10**6))
        reason = "timestamp too old"
    else:
        now = NOW + offset - DEFAULT_TOLERANCE - data.draw(st.integers(min_value=1, max_value=10**6))
        reason = "timestamp too new"
    with pytest.raises(WebhookVerificationError) as refused:
        verify(SECRET, headers, body, now)
    if reason is not None:
        assert refused.value.reason == reason


@given(
    st.dictionaries(
        st.sampled_from(["webhook-id", "webhook-timestamp", "webhook-signature", "svix-id", "svix-timestamp",
                         "svix-signature", "Webhook-Id", "x-other"]),
        header_values,
    ),
    bodies,
)
@example({"webhook-id": "a", "webhook-timestamp": "1760000000", "webhook-signature": "v1," + "A" * 5000}, b"")
@example({"webhook-id": "a b", "webhook-timestamp": "1760000000", "webhook-signature": "v1,AAAA"}, b"")
@example({"webhook-id": "a", "webhook-timestamp": "+1760000000", "webhook-signature": "v1,AAAA"}, b"")
@example({"webhook-id": "a", "webhook-timestamp": "１７６００００００００", "webhook-signature": "v1,AAAA"}, b"")
@example({"webhook-id": "a\r\nx-injected: 1", "webhook-timestamp": "1760000000", "webhook-signature": "v1,AAAA"}, b"")
def test_arbitrary_headers_raise_only_the_verification_error(headers, body):
    try:
        verify(SECRET, headers, body, NOW)
    except WebhookVerificationError as error:
        assert error.reason
        return
    raise AssertionError("unsigned headers verified")
