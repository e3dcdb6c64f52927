"""The opt-in operation counters (host/counters.mjs, LOCAL_COUNTERS=1): what each binding call
counts, driven under Node with stand-ins named as workerd names its bindings
(js/counters_check.mjs); and that a worker started without the var answers 409 at
/__local/counters (the shared runtime stack has counting off)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from local_runtime.stack import node_binary

CHECK = Path(__file__).parent / "js" / "counters_check.mjs"


@pytest.fixture(scope="module")
def run():
    done = subprocess.run([node_binary(), str(CHECK)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_bindings_keep_their_names_and_answers(run):
    # The SDK's _EnvWrapper wraps bindings by constructor name: the Proxy must keep it.
    assert run["seen"]["kvName"] == "KvNamespace"
    assert run["seen"]["dbName"] == "D1Database"
    assert run["seen"]["plainVar"] == "hello"
    # first() is answered from all(), as D1's first() would answer.
    assert run["seen"]["first"] == {"n": 1}
    assert run["seen"]["firstColumn"] == 1
    # Every fetch still reached the real one.
    assert run["realFetchCalls"] == 2


def test_invocations_and_messages(run):
    c = run["snapshot"]
    # The /__local/ request is not a worker invocation, but what it does to the bucket counts.
    assert c["invocations"] == {"fetch": 1, "queue": 1, "scheduled": 1}
    assert c["queue_messages_consumed"] == 3


def test_kv_counts_and_the_hottest_key(run):
    kv = run["snapshot"]["kv"]
    assert (kv["reads"], kv["writes"], kv["deletes"], kv["lists"]) == (3, 2, 1, 1)
    assert kv["max_writes_per_key_per_second"] == 2
    assert kv["hottest_key"] == "media:*"


def test_d1_statements_and_rows_from_d1s_meta(run):
    d1 = run["snapshot"]["d1"]
    # first, first(column), all, run, a batch of two, the cron's all.
    assert d1["statements"] == 7
    assert d1["batches"] == 1
    assert d1["rows_read"] == 7 + 7 + 7 + 1 + 2 + 7
    assert d1["rows_written"] == 3 + 6
    assert d1["size_after"] == 4096


def test_r2_classes_and_bytes(run):
    r2 = run["snapshot"]["r2"]
    assert r2["ops"] == {"put": 2, "get": 1, "head": 1, "list": 1, "delete": 1, "createMultipartUpload": 1,
                         "uploadPart": 2, "completeMultipartUpload": 1}
    assert r2["class_a"] == 2 + 1 + 1 + 2 + 1
    assert r2["class_b"] == 2
    assert r2["free"] == 1
    assert r2["bytes_written"] == len("12345") + len("1234567") + 30


def test_queue_messages_and_subrequests(run):
    c = run["snapshot"]
    assert c["queues"] == {"messages_sent": 4, "send_calls": 2, "by_binding": {"JOBS": 4}}
    assert c["subrequests"]["fetch"] == 2
    assert c["subrequests"]["fetch_by_host"] == {"api.example.test": 1, "hooks.example.test": 1}
    # The fetch invocation: 6 KV, 5 D1 (a batch is one call), 9 R2 (resumeMultipartUpload is no
    # call) and 2 queue calls.
    assert c["per_invocation"]["max_binding_calls"] == 6 + 5 + 9 + 2
    assert c["per_invocation"]["max_fetch_upper"] == 2


def test_reset_zeroes_everything(run):
    zeroed = run["reset"]
    assert zeroed["invocations"] == {"fetch": 0, "queue": 0, "scheduled": 0}
    assert zeroed["d1"]["rows_read"] == 0 and zeroed["r2"]["ops"] == {} and zeroed["kv"]["hottest_key"] is None
    assert zeroed["worker"] == "test-worker"
    assert run["unknownMethod"] is None


def test_counting_off_answers_409_only_for_its_routes(run):
    assert run["offStatus"] == 409
    assert run["offOther"] is None


def test_a_worker_without_the_var_does_not_count(probe):
    answer = probe.get("/__local/counters")
    assert answer.status_code == 409
    assert "LOCAL_COUNTERS=1" in answer.json()["error"]
