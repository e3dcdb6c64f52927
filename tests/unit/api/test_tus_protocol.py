"""api.tus_protocol: the pure parts of tus 1.0 (headers, metadata, checksums, the part plan)."""

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.tus_protocol import (
    DEFAULT_PART_SIZE,
    MAX_PARTS,
    MIN_PART_SIZE,
    check_version,
    encode_metadata,
    http_date,
    options_headers,
    parse_checksum,
    parse_defer_length,
    parse_metadata,
    parse_number,
    part_size_for,
    position_of,
    split_metadata,
)
from common.errors import HttpError


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def code_of(call) -> tuple[int, str]:
    with pytest.raises(HttpError) as raised:
        call()
    assert raised.value.headers["tus-resumable"] == "1.0.0"  # every error is a tus answer
    return raised.value.status, raised.value.code


def test_only_version_1_0_0_is_spoken():
    check_version("1.0.0")
    check_version(" 1.0.0 ")
    for wrong in (None, "", "0.2.2", "1.0"):
        assert code_of(lambda: check_version(wrong)) == (412, "tus_version_unsupported")


def test_options_lists_the_extensions_and_the_limit():
    headers = options_headers(1234)
    assert headers["tus-max-size"] == "1234" and headers["tus-version"] == "1.0.0"
    assert "checksum" in headers["tus-extension"].split(",") and "sha1" in headers["tus-checksum-algorithm"]


def test_numbers_and_defer_length():
    assert parse_number(None, "Upload-Length") is None
    assert parse_number(" 42 ", "Upload-Length") == 42
    for bad in ("-1", "1.5", "1e3", "", "9" * 20, "1,2"):
        assert code_of(lambda: parse_number(bad, "Upload-Offset")) == (400, "invalid_tus_header")
    assert parse_defer_length(None) is False and parse_defer_length("1") is True
    assert code_of(lambda: parse_defer_length("0")) == (400, "invalid_tus_header")


def test_metadata_is_decoded_and_split():
    header = f"filename {b64('clip.mov')},filetype {b64('video/quicktime')},project {b64('ünï')},flag"
    pairs = parse_metadata(header)
    assert pairs == {"filename": "clip.mov", "filetype": "video/quicktime", "project": "ünï", "flag": ""}
    meta = split_metadata(pairs)
    assert (meta.name, meta.declared_type, meta.extra) == ("clip.mov", "video/quicktime", {"project": "ünï", "flag": ""})
    assert split_metadata({"name": "a.png", "type": "image/png"}).name == "a.png"
    assert parse_metadata(None) == {} and parse_metadata("  ") == {}


@pytest.mark.parametrize("header", [
    "bad key here",                         # three fields
    f"k {b64('a')},k {b64('b')}",           # repeated key
    "k not*base64",                         # not base64
    "k " + base64.b64encode(bytes([0xFF, 0xFE])).decode(),  # not UTF-8
    f"k\x00 {b64('a')}",                    # a control in the key
    f"k\r\nX-Smuggled: 1 {b64('a')}",       # header smuggling
    ",".join(f"k{i} {b64('v')}" for i in range(33)),  # too many keys
])
def test_malformed_metadata_is_refused(header):
    assert code_of(lambda: parse_metadata(header)) == (400, "invalid_metadata")


def test_metadata_over_4_kib_is_refused():
    assert code_of(lambda: parse_metadata("k " + "A" * 5000)) == (400, "metadata_too_large")


@given(st.dictionaries(st.from_regex(r"[a-z][a-z0-9_.-]{0,20}", fullmatch=True), st.text(max_size=40), max_size=8))
def test_metadata_round_trips_through_its_encoding(pairs):
    assert parse_metadata(encode_metadata(pairs)) == pairs


def test_checksums():
    digest = base64.b64encode(b"\x01" * 20).decode()
    parsed = parse_checksum(f"sha1 {digest}")
    assert (parsed.algorithm, parsed.digest_name, parsed.digest) == ("sha1", "SHA-1", b"\x01" * 20)
    assert parse_checksum(None) is None
    assert code_of(lambda: parse_checksum(f"crc32 {digest}")) == (400, "checksum_algorithm_unsupported")
    assert code_of(lambda: parse_checksum("sha1")) == (400, "invalid_checksum")
    assert code_of(lambda: parse_checksum("sha1 ***")) == (400, "invalid_checksum")


def test_the_part_size_fits_the_largest_upload_in_r2s_parts():
    assert part_size_for(1) == DEFAULT_PART_SIZE >= MIN_PART_SIZE
    assert part_size_for(30 * 1024**3) == DEFAULT_PART_SIZE  # 3,072 parts
    for size in (100 * 1024**3, 5 * 1024**4, 10_000 * DEFAULT_PART_SIZE + 1):
        part = part_size_for(size)
        assert part % (1024 * 1024) == 0 and -(-size // part) <= MAX_PARTS


@given(st.integers(min_value=0, max_value=10**13), st.sampled_from([5 * 2**20, 10 * 2**20, 17 * 2**20]))
def test_an_offset_is_whole_parts_and_a_stash_smaller_than_a_part(offset, part):
    position = position_of(offset, part)
    assert position.parts * part + position.stash == offset and 0 <= position.stash < part


def test_http_date():
    assert http_date(0) == "Thu, 01 Jan 1970 00:00:00 GMT"


@given(st.integers(min_value=0, max_value=253402300799999))
def test_http_date_is_the_rfc_9110_form_of_email_utils(epoch_ms):
    from email.utils import formatdate

    assert http_date(epoch_ms) == formatdate(epoch_ms // 1000, usegmt=True)
