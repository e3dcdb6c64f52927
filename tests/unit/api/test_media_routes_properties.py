"""Properties of the cursors of api.media_routes: encode/decode round trip, and decode refuses with ValueError only."""

import re

from hypothesis import example, given
from hypothesis import strategies as st

from api.media_routes import MAX_CREATED_AT, decode_cursor, encode_cursor

times = st.integers(min_value=0, max_value=MAX_CREATED_AT)
ids = st.text(min_size=1, max_size=128)


@given(times, ids)
def test_round_trip(created_at, media_id):
    token = encode_cursor(created_at, media_id)
    assert re.fullmatch(r"[A-Za-z0-9_-]+", token)  # URL-safe, unpadded
    if len(token) <= 256:
        assert decode_cursor(token) == (created_at, media_id)


@given(st.one_of(st.text(max_size=300), st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=", max_size=300)))
@example("W3RydWUsImEiXQ")  # [true,"a"]: a bool is not a time
@example("WzEsImEiXQ==")  # padded: not canonical
@example("WzEuMCwiYSJd")  # [1.0,"a"]
@example("Wy0xLCJhIl0")  # [-1,"a"]
@example("WzkyMjMzNzIwMzY4NTQ3NzU4MDgsIjAxIl0")  # [2**63,"01"]: past the 48-bit time
def test_decode_returns_a_canonical_position_or_raises_value_error(token):
    try:
        created_at, media_id = decode_cursor(token)
    except ValueError:
        return
    assert type(created_at) is int and 0 <= created_at < 2**48
    assert isinstance(media_id, str) and 1 <= len(media_id) <= 128
    assert encode_cursor(created_at, media_id) == token  # one position, one spelling


@given(times, ids, st.integers(min_value=0), st.characters())
def test_a_tampered_token_never_decodes_to_another_position_silently(created_at, media_id, where, char):
    token = encode_cursor(created_at, media_id)
    index = where % len(token)
    tampered = token[:index] + char + token[index + 1 :]
    try:
        decoded = decode_cursor(tampered)
    except ValueError:
        return
    # Only a canonical token decodes, so a change of the text is a change of the position.
    assert (decoded == (created_at, media_id)) == (tampered == token)
