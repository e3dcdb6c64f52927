"""Properties of common.url_signing: signed URLs verify until they expire, and nothing else does."""

from urllib.parse import parse_qs, urlsplit

from hypothesis import example, given
from hypothesis import strategies as st

from common.url_signing import MAX_LIFETIME_SECONDS, signature, signed_url, verify

secrets = st.text(min_size=1, max_size=40)
paths = st.text(min_size=1, max_size=60).map(lambda text: "/files/originals/" + text)
nows = st.integers(min_value=0, max_value=2**35)
lifetimes = st.integers(min_value=0, max_value=MAX_LIFETIME_SECONDS)


@given(secrets, st.builds(lambda s: "/files/" + s, st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789/%._-", min_size=1, max_size=60)), nows, lifetimes)
def test_a_signed_url_verifies_until_it_expires(secret, path, now, lifetime):
    url = signed_url("http://api.example/", path, secret, now + lifetime)
    parts = urlsplit(url)
    assert parts.path == path
    query = {name: values[0] for name, values in parse_qs(parts.query).items()}
    assert verify(secret, path, query["expires"], query["signature"], now)
    assert verify(secret, path, query["expires"], query["signature"], now + lifetime)
    assert not verify(secret, path, query["expires"], query["signature"], now + lifetime + 1)


@given(secrets, paths, nows, lifetimes, st.data())
def test_another_path_secret_or_expiry_does_not_verify(secret, path, now, lifetime, data):
    expires = now + lifetime
    sig = signature(secret, path, expires)
    other_path = data.draw(paths.filter(lambda p: p != path))
    other_secret = data.draw(secrets.filter(lambda s: s != secret))
    other_expires = data.draw(st.integers(min_value=now, max_value=now + MAX_LIFETIME_SECONDS).filter(lambda e: e != expires))
    assert not verify(secret, other_path, str(expires), sig, now)
    assert not verify(other_secret, path, str(expires), sig, now)
    assert not verify(secret, path, str(other_expires), sig, now)


@given(secrets, paths, st.one_of(st.none(), st.text(max_size=20)), st.one_of(st.none(), st.text(max_size=60)), nows)
@example("k", "/files/originals/a", "+100", "x", 0)
@example("k", "/files/originals/a", " 100", "x", 0)
@example("k", "/files/originals/a", "1_00", "x", 0)
@example("k", "/files/originals/a", "١٠٠", "x", 0)
@example("k", "/files/originals/a", "9" * 5000, "x", 0)
def test_verify_of_any_query_values_is_a_bool_and_never_raises(secret, path, expires, sig, now):
    result = verify(secret, path, expires, sig, now)
    assert result is True or result is False
    if result:
        # Only the canonical spelling of an expiry within the window can pass.
        assert expires.isascii() and expires.isdigit()
        assert now <= int(expires) <= now + MAX_LIFETIME_SECONDS
        assert sig == signature(secret, path, int(expires))


@given(secrets, paths, nows, st.integers(min_value=MAX_LIFETIME_SECONDS + 1, max_value=2**36))
def test_a_link_living_longer_than_the_maximum_is_refused(secret, path, now, lifetime):
    expires = now + lifetime
    assert not verify(secret, path, str(expires), signature(secret, path, expires), now)
