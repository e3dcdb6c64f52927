"""api.webhook_rules: endpoint URLs (https only, local http hosts), events, overlaps."""

from __future__ import annotations

import pytest

from api.webhook_rules import check_url, endpoint_fields, insecure_hosts, overlap_seconds
from common.errors import HttpError

LOCAL = insecure_hosts("127.0.0.1, localhost")


@pytest.mark.parametrize("url", ["https://example.com/hook", "https://example.com:8443/h?x=1",
                                 "http://127.0.0.1:8791/hooks", "http://localhost/h", "https://[::1]/h"])
def test_acceptable_urls(url):
    assert check_url(url, LOCAL) == url


@pytest.mark.parametrize("url", [
    "http://example.com/hook",          # plain http outside the local list
    "http://127.0.0.1.evil.test/",      # not the local host, only named like it
    "ftp://example.com/", "javascript:alert(1)", "https://", "https:///path",
    "https://user:pw@example.com/", "https://example.com/#frag", "https://exa mple.com/",
    "https://example.com:99999/", "not a url", "", None, 42, "https://x.test/" + "a" * 3000,
])
def test_refused_urls_are_400_invalid_webhook(url):
    with pytest.raises(HttpError) as error:
        check_url(url, LOCAL)
    assert error.value.status == 400 and error.value.code == "invalid_webhook"


def test_production_has_no_insecure_hosts():
    with pytest.raises(HttpError):
        check_url("http://127.0.0.1:8791/hooks", insecure_hosts(""))


def test_fields_of_a_creation_and_a_change():
    fields = endpoint_fields({"url": "https://a.test/", "events": ["media.ready", "media.created"]}, ())
    assert fields == {"url": "https://a.test/", "events": ["media.created", "media.ready"], "description": "",
                      "enabled": True}
    assert endpoint_fields({"url": "https://a.test/", "events": ["*", "media.ready"]}, ())["events"] == ["*"]
    changed = endpoint_fields({"enabled": False}, (), partial=True, current=fields)
    assert changed["enabled"] is False and changed["url"] == "https://a.test/"


@pytest.mark.parametrize("body", [{}, {"url": "https://a.test/", "events": []},
                                  {"url": "https://a.test/", "events": ["media.exploded"]},
                                  {"url": "https://a.test/", "secret": "mine"}, [], "x",
                                  {"url": "https://a.test/", "description": 5}])
def test_bad_bodies_are_400(body):
    with pytest.raises(HttpError) as error:
        endpoint_fields(body, ())
    assert error.value.status == 400


def test_overlap_defaults_to_a_day_and_is_bounded():
    assert overlap_seconds(None) == 86400 and overlap_seconds({"overlap_seconds": 0}) == 0
    for bad in ({"overlap_seconds": -1}, {"overlap_seconds": 10**9}, {"overlap_seconds": True}, {"other": 1}):
        with pytest.raises(HttpError):
            overlap_seconds(bad)


def test_the_deployments_own_workers_are_refused():
    own = ("https://api.example.com", "http://127.0.0.1:8788")
    for url in ("https://api.example.com/api/media", "https://API.example.com:443/x", "http://127.0.0.1:8788/hooks"):
        with pytest.raises(HttpError):
            check_url(url, LOCAL, own)
    assert check_url("http://127.0.0.1:8791/hooks", LOCAL, own)  # another port on the same machine
