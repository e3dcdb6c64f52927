"""webhooks add|ls|rm|deliveries|replay: human and --json output."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from media_pipeline_cli import app as app_module
from media_pipeline_cli.util import parse_duration, parse_since


def lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_add_shows_the_secret_once_and_ls_never(cli, fake):
    human = cli("webhooks", "add", "https://example.com/hooks", "-e", "media.ready", "-e", "media.failed", "-d", "CI")
    assert human.exit_code == 0, human.output
    assert "whsec_c2VjcmV0" in human.stdout and "never shows it again" in human.stderr
    endpoint = next(iter(fake.endpoints.values()))
    assert endpoint["events"] == ["media.ready", "media.failed"] and endpoint["description"] == "CI"
    added = lines(cli("webhooks", "add", "https://example.com/all", "--json").stdout)[0]
    assert added["events"] == ["*"] and added["secret"].startswith("whsec_")
    listing = cli("webhooks", "ls")
    assert "https://example.com/hooks" in listing.stdout and "whsec_" not in listing.stdout
    assert [e["id"] for e in lines(cli("webhooks", "ls", "--json").stdout)] == list(fake.endpoints)


def test_add_refused_says_why(cli, fake):
    result = cli("webhooks", "add", "http://example.com/hooks")
    assert result.exit_code == app_module.EXIT_API and "invalid_url" in result.stderr


def test_rm_and_an_unknown_endpoint(cli, fake):
    endpoint_id = lines(cli("webhooks", "add", "https://example.com/h", "--json").stdout)[0]["id"]
    assert lines(cli("webhooks", "rm", endpoint_id, "--json").stdout) == [{"deleted": endpoint_id}]
    again = cli("webhooks", "rm", endpoint_id)
    assert again.exit_code == app_module.EXIT_NOT_FOUND and "not_found" in again.stderr


def test_deliveries_human_json_and_status_filter(cli, fake):
    fake.deliveries["ep_x"] = [
        {"id": "dl_2", "event_id": "evt_2", "event_type": "media.ready", "media_id": "01m", "endpoint_id": "ep_x",
         "status": "failed", "attempts": 8, "last_status": 500, "created_at": "2026-12-01T10:00:02Z", "attempt_log": []},
        {"id": "dl_1", "event_id": "evt_1", "event_type": "media.created", "media_id": "01m", "endpoint_id": "ep_x",
         "status": "delivered", "attempts": 1, "last_status": 200, "created_at": "2026-12-01T10:00:01Z",
         "attempt_log": []},
    ]
    human = cli("webhooks", "deliveries", "ep_x")
    assert human.exit_code == 0 and "media.ready" in human.stdout and "delivered" in human.stdout
    assert [d["id"] for d in lines(cli("webhooks", "deliveries", "ep_x", "--json").stdout)] == ["dl_2", "dl_1"]
    assert [d["id"] for d in lines(cli("webhooks", "deliveries", "ep_x", "--status", "failed", "--json").stdout)] == ["dl_2"]


def test_replay_one_or_every_failed_since(cli, fake):
    one = cli("webhooks", "replay", "ep_x", "dl_1", "--json")
    assert lines(one.stdout) == [{"replayed": "dl_1", "endpoint_id": "ep_x"}]
    many = cli("webhooks", "replay", "ep_x", "--since", "2026-12-01T10:00:00Z")
    assert many.exit_code == 0 and "replaying 3 failed deliveries since 2026-12-01T10:00:00Z" in many.stdout
    assert cli("webhooks", "replay", "ep_x").exit_code == 2  # neither
    assert cli("webhooks", "replay", "ep_x", "dl_1", "--since", "1h").exit_code == 2  # both


def test_durations_and_since():
    assert parse_duration("90") == 90 and parse_duration("1h30m") == 5400 and parse_duration("2d") == 172800
    now = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
    assert parse_since("2h", now) == "2026-12-01T10:00:00Z"
    assert parse_since("2026-12-01T11:00:00+01:00", now) == "2026-12-01T10:00:00Z"
    for bad in ("soon", "2026-12-01T10:00:00"):
        try:
            parse_since(bad, now)
        except ValueError:
            continue
        raise AssertionError(bad)
