import pytest

from common import secrets
from common.secrets import (
    api_keys_from_vars,
    constant_time_equals,
    is_authorized,
    matches_any,
    presented_key,
)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("secret", "secret", True),
        ("secret", "secreT", False),
        ("secret", "secrets", False),
        ("", "", True),
        ("", "x", False),
        ("kéy-ü", "kéy-ü", True),  # non-ASCII would make compare_digest on str raise
        ("kéy", "key", False),
        ("\ud800", "\ud800", True),  # lone surrogates must not raise either
    ],
)
def test_constant_time_equals(a, b, expected):
    assert constant_time_equals(a, b) is expected


def test_matches_any_finds_any_candidate():
    assert matches_any("new", ["old", "new"]) is True
    assert matches_any("old", ["old", "new"]) is True
    assert matches_any("other", ["old", "new"]) is False


@pytest.mark.parametrize("given", [None, ""])
def test_matches_any_never_accepts_missing_or_empty(given):
    assert matches_any(given, ["", "key"]) is False


def test_empty_candidates_never_match():
    assert matches_any("x", []) is False
    assert matches_any("x", [""]) is False


def test_matches_any_compares_every_candidate(monkeypatch):
    calls = []

    def spy(a, b):
        calls.append(b)
        return a == b

    monkeypatch.setattr(secrets, "constant_time_equals", spy)
    assert matches_any("first", ["first", "second", "third"]) is True
    assert calls == ["first", "second", "third"]


# API keys (X-API-Key or Authorization: Bearer).


def test_api_keys_from_vars_splits_strips_dedupes_and_drops_empties():
    assert api_keys_from_vars("k1, k2 ,,", None, "k2,k3", "", " ") == ("k1", "k2", "k3")
    assert api_keys_from_vars() == ()
    assert api_keys_from_vars(None, "") == ()


@pytest.mark.parametrize(
    ("x_api_key", "authorization", "expected"),
    [
        ("k1", None, "k1"),
        ("  k1  ", None, "k1"),
        (None, "Bearer k1", "k1"),
        (None, "bearer k1", "k1"),
        (None, "BEARER   k1  ", "k1"),
        (None, "Bearer\tk1", "k1"),
        ("k1", "Bearer k2", "k1"),  # X-API-Key wins
        ("", "Bearer k2", "k2"),
        ("   ", "Bearer k2", "k2"),
        (None, "Basic azE6", None),
        (None, "Bearer", None),
        (None, "Bearer ", None),
        (None, "Bearerk1", None),
        (None, "k1", None),
        (None, "", None),
        (None, None, None),
    ],
)
def test_presented_key(x_api_key, authorization, expected):
    assert presented_key(x_api_key, authorization) == expected


def test_is_authorized_with_rotation():
    keys = api_keys_from_vars("old-key,new-key")
    assert is_authorized("old-key", keys)
    assert is_authorized("new-key", keys)
    assert not is_authorized("other", keys)
    assert not is_authorized("old-key ", keys)
    assert not is_authorized("OLD-KEY", keys)
    assert not is_authorized(None, keys)
    assert not is_authorized("", keys)


def test_no_configured_keys_authorises_nobody():
    assert not is_authorized("anything", ())
    assert not is_authorized("", api_keys_from_vars(""))


def test_is_authorized_uses_the_shared_constant_time_comparison(monkeypatch):
    seen = []
    monkeypatch.setattr(
        secrets,
        "matches_any",
        lambda given, keys: seen.append((given, tuple(keys))) or True,
    )
    assert is_authorized("k", ["a"]) is True
    assert seen == [("k", ("a",))]
