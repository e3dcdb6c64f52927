"""Per-message ack/retry decided in Python, with the config's batching, retries and DLQ."""

import time
import uuid

from local_runtime.tests.conftest import wait_for_kv


def send(probe, *messages):
    assert probe.post("/enqueue", json={"messages": list(messages)}).status_code == 202


def test_an_acked_message_is_delivered_once(probe):
    ident = uuid.uuid4().hex
    send(probe, {"id": ident, "mode": "ack"})
    log = wait_for_kv(probe, f"log:{ident}")
    time.sleep(2.5)  # longer than the batch timeout: a redelivery would have come
    assert len(probe.get(f"/kv/log:{ident}").json()["value"]) == len(log) == 1


def test_a_message_retried_with_a_delay_comes_back_after_that_delay(probe):
    ident = uuid.uuid4().hex
    send(probe, {"id": ident, "mode": "retry-once", "delay": 3})
    log = wait_for_kv(probe, f"log:{ident}", until=lambda v: len(v) == 2, timeout=30)
    assert [entry["attempts"] for entry in log] == [1, 2]
    assert log[1]["at"] - log[0]["at"] >= 2.9


def test_a_message_that_always_fails_lands_in_the_dead_letter_queue(probe):
    ident = uuid.uuid4().hex
    send(probe, {"id": ident, "mode": "fail"})
    wait_for_kv(probe, f"dlq:{ident}", timeout=40)
    log = probe.get(f"/kv/log:{ident}").json()["value"]
    assert len(log) == 3  # the first delivery and max_retries = 2 retries


def test_messages_sent_together_are_batched_up_to_max_batch_size(probe):
    idents = [uuid.uuid4().hex for _ in range(6)]
    send(probe, *({"id": ident, "mode": "ack"} for ident in idents))
    sizes = [wait_for_kv(probe, f"log:{ident}")[0]["batch"] for ident in idents]
    assert max(sizes) == 4  # max_batch_size in the probe's wrangler.toml
    assert sum(1 for size in sizes if size == 4) == 4
