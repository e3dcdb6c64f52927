"""wrangler is kept from reaching the internet: no telemetry, no `request.cf` download."""

from local_runtime.stack import OFFLINE_ENV, wrangler_env

NETWORK_FAILURES = ("ENOTFOUND", "getaddrinfo", "Unable to fetch the `Request.cf` object", "EAI_AGAIN")


def test_wrangler_gets_the_switches_that_keep_it_offline(monkeypatch):
    for name in OFFLINE_ENV:
        monkeypatch.delenv(name, raising=False)
    env = wrangler_env()
    assert env["CLOUDFLARE_CF_FETCH_ENABLED"] == "false"
    assert env["WRANGLER_SEND_METRICS"] == "false" and env["DO_NOT_TRACK"] == "1"


def test_a_started_stack_logs_no_failed_attempt_to_reach_the_internet(runtime_stack, probe):
    # The request.cf fetch happens while each worker starts, before it answers.
    assert probe.get("/__local/heap").status_code == 200
    for running in runtime_stack.running:
        log = running.log_path.read_text(errors="replace")
        assert "Ready on http://127.0.0.1" in log, log
        found = [line for line in log.splitlines() if any(failure in line for failure in NETWORK_FAILURES)]
        assert found == [], f"{running.log_path}:\n" + "\n".join(found)
