"""Session tokens, the cookie and the CSRF rule (api.session_rules), pure."""

import pytest

from api.session_rules import (
    clear_cookie,
    cookie_value,
    csrf_refusal,
    fingerprint_is_current,
    key_fingerprint,
    make_token,
    read_token,
    session_cookie,
)

SECRET = "sign-secret"
SID = "abcdefghijklmnopqrstuvwx"
NOW = 1_800_000_000


def test_a_token_reads_back_until_it_expires():
    token = make_token(SECRET, SID, NOW + 60)
    assert read_token(SECRET, token, NOW).session_id == SID
    assert read_token(SECRET, token, NOW + 59).expires_at == NOW + 60
    assert read_token(SECRET, token, NOW + 60) is None  # expired at its second


@pytest.mark.parametrize("tamper", [
    lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),            # signature
    lambda t: t.replace(f".{NOW + 60}.", f".{NOW + 9999}."),      # a later expiry
    lambda t: "Z" + t[1:],                                        # another session id
    lambda t: t + ".x",
    lambda t: "",
    lambda t: "a.b.c",
    lambda t: t * 3,
])
def test_a_changed_or_malformed_token_is_refused(tamper):
    assert read_token(SECRET, tamper(make_token(SECRET, SID, NOW + 60)), NOW) is None


def test_another_secret_or_no_secret_signs_nothing_valid():
    token = make_token(SECRET, SID, NOW + 60)
    assert read_token("other-secret", token, NOW) is None
    assert read_token("", token, NOW) is None
    with pytest.raises(ValueError):
        make_token("", SID, NOW + 60)


def test_a_session_token_is_not_a_signed_file_url_signature():
    # Its own derived key: the same secret signing a file URL never yields a session's signature.
    from common.url_signing import signed_url

    url = signed_url("https://x", f"/files/{SID}", SECRET, NOW + 60)
    signature = url.rsplit("signature=", 1)[1]
    assert signature not in make_token(SECRET, SID, NOW + 60)


def test_a_key_rotated_out_closes_its_sessions():
    fingerprint = key_fingerprint(SECRET, "key-one")
    assert "key-one" not in fingerprint
    assert fingerprint_is_current(SECRET, fingerprint, ("key-two", "key-one"))
    assert not fingerprint_is_current(SECRET, fingerprint, ("key-two",))
    assert not fingerprint_is_current(SECRET, fingerprint, ())


def test_cookie_parsing_finds_the_session_among_others():
    assert cookie_value("a=1; mp_session=tok.1.sig; b=2") == "tok.1.sig"
    assert cookie_value("mp_sessionx=1; xmp_session=2") is None
    assert cookie_value(None) is None
    assert cookie_value("mp_session=") is None


def test_the_cookie_is_httponly_strict_and_secure_over_https_only():
    cookie = session_cookie("tok", 3600, secure=True)
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" in cookie
    assert "Max-Age=3600" in cookie and "Path=/" in cookie
    assert "Secure" not in session_cookie("tok", 3600, secure=False)
    assert "Max-Age=0" in clear_cookie(secure=False)


OWN = "http://127.0.0.1:8787/api/media/x"


def refusal(method="DELETE", *, origin="http://127.0.0.1:8787", referer=None, site="same-origin", header="dashboard"):
    return csrf_refusal(method, OWN, origin=origin, referer=referer, sec_fetch_site=site, requested_with=header)


def test_the_dashboards_own_requests_pass():
    assert refusal() is None
    assert refusal(site=None) is None  # an older browser without Sec-Fetch-Site
    assert refusal(origin=None, referer="http://127.0.0.1:8787/#/media/x") is None
    assert refusal("GET", origin=None, header=None, site="cross-site") is None  # safe methods change nothing


@pytest.mark.parametrize("case", [
    dict(header=None),                                   # a cross-site form cannot add it
    dict(origin="http://localhost:3000"),                # another origin of the same site
    dict(origin="http://127.0.0.1:3000"),                # another port
    dict(origin="https://127.0.0.1:8787"),               # another scheme
    dict(origin="null"),                                 # a sandboxed or file: page
    dict(origin=None),
    dict(origin=None, referer="http://evil.test/page"),
    dict(site="cross-site"),
    dict(site="same-site"),
])
def test_a_possibly_cross_site_state_change_is_refused_with_a_reason(case):
    for method in ("POST", "PATCH", "DELETE", "PUT"):
        reason = refusal(method, **case)
        assert reason and isinstance(reason, str)
