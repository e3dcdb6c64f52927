"""Byte ranges, content types and path safety of the files route."""

from emulator.files import content_type, parse_range, safe_path


def test_parse_range():
    assert parse_range(None, 100) is None
    assert parse_range("bytes=0-9", 100) == (0, 9)
    assert parse_range("bytes=90-", 100) == (90, 99)
    assert parse_range("bytes=-10", 100) == (90, 99)
    assert parse_range("bytes=50-500", 100) == (50, 99)
    assert parse_range("bytes=100-", 100) is False
    assert parse_range("bytes=0-1,5-6", 100) is None
    assert parse_range("items=0-1", 100) is None


def test_content_type_and_safe_path():
    assert content_type("output.mp4") == "video/mp4" and content_type("x.m4a") == "audio/mp4"
    assert content_type("x.bin") == "application/octet-stream"
    assert safe_path("/d", "job_1", "output.webp") == "/d/job_1/output.webp"
    assert safe_path("/d", "..", "passwd") is None
    assert safe_path("/d", "job_1", "../x") is None
