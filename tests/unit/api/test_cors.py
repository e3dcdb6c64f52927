import pytest

from api.cors import (
    EXPOSED_HEADERS,
    CorsConfigError,
    CorsPolicy,
    log_config_error_once,
    policy_from_vars,
    preflight,
    response_headers,
)

APP = "https://app.example.com"


def test_policy_from_vars_parses_origins_and_credentials():
    policy = policy_from_vars(
        " https://App.Example.com/ , https://b.example.com,,https://app.example.com",
        "TRUE",
    )
    assert policy.origins == ("https://app.example.com", "https://b.example.com")
    assert policy.allow_credentials is True
    assert "POST" in policy.methods and "OPTIONS" in policy.methods
    assert "X-API-Key" in policy.headers and "Authorization" in policy.headers
    assert policy.max_age > 0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, False),
        ("", False),
        ("false", False),
        ("0", False),
        ("true", True),
        ("1", True),
        ("yes", True),
        (" On ", True),
    ],
)
def test_credentials_var(value, expected):
    assert policy_from_vars(APP, value).allow_credentials is expected


def test_no_origins_configured_means_no_cors():
    policy = policy_from_vars(None, None)
    assert policy.origins == ()
    assert response_headers(policy, APP) == {}
    assert preflight(policy, APP, "GET", None) == (403, {})


def test_listed_origin_is_echoed_with_vary_and_exposed_headers():
    policy = policy_from_vars(APP, "false")
    headers = response_headers(policy, APP)
    assert headers["Access-Control-Allow-Origin"] == APP
    assert headers["Vary"] == "Origin"
    assert "Access-Control-Allow-Credentials" not in headers
    exposed = headers["Access-Control-Expose-Headers"]
    for name in ("ETag", "Content-Range", "Accept-Ranges", "Content-Length"):
        assert name in exposed
    # What a browser's tus client must read (tus-js-client, Uppy): the upload URL, the offset, the media id.
    for name in ("Location", "Upload-Offset", "Upload-Length", "Upload-Metadata", "Upload-Expires",
                 "Tus-Resumable", "Tus-Version", "Tus-Extension", "Tus-Max-Size", "Media-Id"):
        assert name in exposed.split(", ")
    assert set(EXPOSED_HEADERS) >= {"ETag", "Content-Range", "Accept-Ranges", "Content-Length"}


def test_listed_origin_with_credentials():
    headers = response_headers(policy_from_vars(APP, "true"), APP)
    assert headers["Access-Control-Allow-Origin"] == APP
    assert headers["Access-Control-Allow-Credentials"] == "true"


@pytest.mark.parametrize(
    "origin",
    [
        None,
        "",
        "https://evil.example.com",
        "https://app.example.com.evil.com",
        "http://app.example.com",
        "null",
    ],
)
def test_unlisted_origin_gets_no_allow_origin(origin):
    headers = response_headers(policy_from_vars(APP, "true"), origin)
    assert headers == {"Vary": "Origin"}


def test_wildcard_without_credentials_answers_star():
    policy = policy_from_vars("*", None)
    headers = response_headers(policy, "https://anyone.example")
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in headers
    assert "Vary" not in headers
    # Same answer with or without Origin, so caches need no Vary.
    assert response_headers(policy, None) == headers


@pytest.mark.parametrize("origins", ["*", f"{APP},*", " * "])
@pytest.mark.parametrize("credentials", ["true", "1", " On "])
def test_wildcard_with_credentials_is_a_config_error_naming_the_vars(origins, credentials):
    # Reflecting every origin with credentials would let any site read the API.
    with pytest.raises(CorsConfigError) as error:
        policy_from_vars(origins, credentials)
    message = str(error.value)
    assert "CORS_ORIGINS" in message and "CORS_CREDENTIALS" in message
    with pytest.raises(CorsConfigError):
        CorsPolicy(origins=("*",), allow_credentials=True)


def test_credentials_default_to_false():
    assert policy_from_vars(APP, None).allow_credentials is False
    assert policy_from_vars("*", None).allow_credentials is False
    assert policy_from_vars("*", "false").allow_credentials is False


def test_a_config_error_is_logged_once_per_isolate(capsys):
    error = CorsConfigError("a config error for this test only")
    log_config_error_once(error)
    log_config_error_once(error)
    assert capsys.readouterr().out.count("a config error for this test only") == 1


def test_the_shipped_api_config_has_no_credentials():
    import tomllib
    from pathlib import Path

    config = tomllib.loads((Path(__file__).resolve().parents[3] / "wrangler.api.toml").read_text())
    assert config["vars"]["CORS_CREDENTIALS"] == "false"
    policy_from_vars(config["vars"]["CORS_ORIGINS"], config["vars"]["CORS_CREDENTIALS"])


def test_listed_origin_beside_wildcard():
    policy = policy_from_vars(f"{APP},*", None)
    assert response_headers(policy, APP)["Access-Control-Allow-Origin"] == "*"


def test_preflight_allowed():
    policy = policy_from_vars(APP, "true")
    status, headers = preflight(
        policy, APP, "post", "content-type, X-API-Key,x-file-name"
    )
    assert status == 204
    assert headers["Access-Control-Allow-Origin"] == APP
    assert "POST" in headers["Access-Control-Allow-Methods"]
    assert "X-API-Key" in headers["Access-Control-Allow-Headers"]
    assert headers["Access-Control-Max-Age"] == str(policy.max_age)
    assert headers["Access-Control-Allow-Credentials"] == "true"
    assert "Origin" in headers["Vary"]


def test_preflight_without_requested_headers_and_with_safelisted_ones():
    policy = policy_from_vars(APP, None)
    assert preflight(policy, APP, "GET", None)[0] == 204
    assert preflight(policy, APP, "GET", "")[0] == 204
    assert preflight(policy, APP, "DELETE", "accept, accept-language")[0] == 204
    assert preflight(policy, APP, "GET", "range, if-none-match")[0] == 204
    assert (
        "Access-Control-Allow-Credentials" not in preflight(policy, APP, "GET", None)[1]
    )


def test_preflight_with_wildcard():
    assert (
        preflight(policy_from_vars("*", None), "https://x.example", "GET", None)[1][
            "Access-Control-Allow-Origin"
        ]
        == "*"
    )
    assert "Access-Control-Allow-Credentials" not in preflight(policy_from_vars("*", None), "https://x.example", "GET", None)[1]


@pytest.mark.parametrize(
    ("origin", "method", "headers"),
    [
        ("https://evil.example.com", "GET", None),
        (None, "GET", None),
        (APP, None, None),
        (APP, "", None),
        (APP, "PUT", None),
        (APP, "TRACE", None),
        (APP, "GET", "x-secret-header"),
        (APP, "GET", "content-type, cookie"),
    ],
)
def test_preflight_refused_has_no_cors_headers(origin, method, headers):
    assert preflight(policy_from_vars(APP, "true"), origin, method, headers) == (
        403,
        {},
    )


def test_custom_policy_fields():
    policy = CorsPolicy(origins=(APP,), methods=("GET",), headers=("X-One",), max_age=5)
    assert preflight(policy, APP, "POST", None) == (403, {})
    status, headers = preflight(policy, APP, "GET", "x-one")
    assert status == 204 and headers["Access-Control-Max-Age"] == "5"
    assert headers["Access-Control-Allow-Headers"] == "X-One"
