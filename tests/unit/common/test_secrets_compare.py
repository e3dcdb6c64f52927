import pytest

from common import secrets_compare
from common.secrets_compare import constant_time_equals, matches_any


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

    monkeypatch.setattr(secrets_compare, "constant_time_equals", spy)
    assert matches_any("first", ["first", "second", "third"]) is True
    assert calls == ["first", "second", "third"]
