import pytest

from api import auth
from api.auth import api_keys_from_vars, is_authorized, presented_key


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
        auth,
        "matches_any",
        lambda given, keys: seen.append((given, tuple(keys))) or True,
    )
    assert is_authorized("k", ["a"]) is True
    assert seen == [("k", ("a",))]
