from common.playback_tokens import MAX_LIFETIME_SECONDS, TokenCheck, check_token, make_token, playback_url

SECRET = "s3cret"
NOW = 1_800_000_000


def test_round_trip():
    token = make_token(SECRET, "media1", NOW + 60)
    assert check_token(SECRET, token, "media1", NOW) == TokenCheck.OK


def test_expired_refused():
    token = make_token(SECRET, "media1", NOW - 1)
    assert check_token(SECRET, token, "media1", NOW) == TokenCheck.REFUSED


def test_other_media_refused():
    token = make_token(SECRET, "media1", NOW + 60)
    assert check_token(SECRET, token, "media2", NOW) == TokenCheck.REFUSED


def test_expiry_cannot_be_stretched():
    token = make_token(SECRET, "media1", NOW + 60)
    stretched = f"{NOW + 3600}.{token.split('.')[1]}"
    assert check_token(SECRET, stretched, "media1", NOW) == TokenCheck.REFUSED


def test_other_secret_refused():
    token = make_token("other", "media1", NOW + 60)
    assert check_token(SECRET, token, "media1", NOW) == TokenCheck.REFUSED
    assert check_token("", make_token(SECRET, "media1", NOW + 60), "media1", NOW) == TokenCheck.REFUSED


def test_too_long_a_lifetime_refused():
    token = make_token(SECRET, "media1", NOW + MAX_LIFETIME_SECONDS + 10)
    assert check_token(SECRET, token, "media1", NOW) == TokenCheck.REFUSED


def test_malformed_tokens():
    for token in (None, "", "abc", "123.", "123.short", "x" * 100, "١٢٣." + "a" * 43, "-1." + "a" * 43,
                  "123456789012." + "a" * 43):
        assert check_token(SECRET, token, "media1", NOW) == TokenCheck.MALFORMED


def test_files_signature_is_not_a_token():
    from common.url_signing import signature

    sig = signature(SECRET, "/files/renditions/media1/hls/master.m3u8", NOW + 60)
    assert check_token(SECRET, f"{NOW + 60}.{sig}", "media1", NOW) == TokenCheck.REFUSED


def test_token_is_path_safe_and_url_is_the_master():
    url = playback_url("http://api.example/", SECRET, "media1", NOW + 60)
    token = url.split("/")[4]
    assert url == f"http://api.example/hls/{token}/media1/master.m3u8"
    assert all(c.isalnum() or c in "._-" for c in token)
