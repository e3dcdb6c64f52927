import pytest

from common.errors import HttpError
from api.upload_rules import (
    DEFAULT_MAX_FILE_SIZE,
    check_declared_length,
    declared_length,
    file_name,
    file_too_large,
    max_file_size,
)


@pytest.mark.parametrize(
    ("var", "expected"),
    [
        (None, DEFAULT_MAX_FILE_SIZE),
        ("", DEFAULT_MAX_FILE_SIZE),
        ("abc", DEFAULT_MAX_FILE_SIZE),
        ("-5", DEFAULT_MAX_FILE_SIZE),
        ("0", DEFAULT_MAX_FILE_SIZE),
        ("1.5", DEFAULT_MAX_FILE_SIZE),
        ("1e6", DEFAULT_MAX_FILE_SIZE),
        ("9" * 30, DEFAULT_MAX_FILE_SIZE),
        ("10485760", 10485760),
        (" 1024 ", 1024),
    ],
)
def test_max_file_size(var, expected):
    assert max_file_size(var) == expected
    assert DEFAULT_MAX_FILE_SIZE == 100 * 1024 * 1024


@pytest.mark.parametrize(
    ("header", "expected"), [(None, None), ("0", 0), ("123", 123), (" 42 ", 42)]
)
def test_declared_length(header, expected):
    assert declared_length(header) == expected


@pytest.mark.parametrize(
    "header",
    ["", "abc", "-1", "+1", "1.0", "1e3", "10, 10", "10,20", "１２", "0x10", "9" * 40],
)
def test_declared_length_rejects_malformed(header):
    with pytest.raises(HttpError) as caught:
        declared_length(header)
    assert (caught.value.status, caught.value.code) == (400, "invalid_content_length")


def test_check_declared_length():
    check_declared_length(None, 10)
    check_declared_length(1, 10)
    check_declared_length(10, 10)
    with pytest.raises(HttpError) as caught:
        check_declared_length(11, 10)
    assert (caught.value.status, caught.value.code) == (413, "file_too_large")
    assert caught.value.body()["max_file_size"] == 10
    with pytest.raises(HttpError) as caught:
        check_declared_length(0, 10)
    assert (caught.value.status, caught.value.code) == (400, "empty_body")


def test_file_too_large_names_the_limit():
    error = file_too_large(10)
    assert (error.status, error.code, error.body()["max_file_size"]) == (413, "file_too_large", 10)


def headers(**values):
    mapping = {key.replace("_", "-").lower(): value for key, value in values.items()}
    return lambda name: mapping.get(name.lower())


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({}, None),
        ({"X_File_Name": "photo.png"}, "photo.png"),
        ({"X_File_Name": "my%20photo%20%C3%A9.png"}, "my photo é.png"),
        (
            {"X_File_Name": "caf\xc3\xa9.png"},
            "café.png",
        ),  # raw UTF-8 read as Latin-1 by the runtime
        ({"X_File_Name": "../../etc/passwd"}, "passwd"),
        ({"X_File_Name": "..%2F..%2Fetc%2Fpasswd"}, "passwd"),
        ({"X_File_Name": "C:\\Users\\me\\clip.mp4"}, "clip.mp4"),
        ({"X_File_Name": "a%00b%0d%0a.png"}, "ab.png"),
        ({"X_File_Name": "evil\u202egnp.exe"}, "evilgnp.exe"),  # bidi override dropped
        ({"X_File_Name": "  spaced.png  "}, "spaced.png"),
        ({"X_File_Name": ".."}, None),
        ({"X_File_Name": "dir/"}, None),
        ({"X_File_Name": "%ff%fe"}, None),  # invalid UTF-8, no fallback
        (
            {
                "X_File_Name": "%ff",
                "Content_Disposition": 'attachment; filename="b.png"',
            },
            "b.png",
        ),
        (
            {"X_File_Name": "", "Content_Disposition": 'attachment; filename="b.png"'},
            "b.png",
        ),
        ({"Content_Disposition": 'attachment; filename="my file.png"'}, "my file.png"),
        ({"Content_Disposition": "attachment; filename=plain.png"}, "plain.png"),
        ({"Content_Disposition": 'inline; filename="a\\"b.png"'}, 'a"b.png'),
        (
            {"Content_Disposition": 'attachment; filename="semi;colon.png"; size=5'},
            "semi;colon.png",
        ),
        (
            {
                "Content_Disposition": "attachment; filename*=UTF-8''%E2%82%AC%20rates.png"
            },
            "€ rates.png",
        ),
        (
            {
                "Content_Disposition": "attachment; filename=\"fallback.png\"; filename*=utf-8''r%C3%A9el.png"
            },
            "réel.png",
        ),
        (
            {"Content_Disposition": "attachment; filename*=iso-8859-1'en'%A3.png"},
            "£.png",
        ),
        (
            {
                "Content_Disposition": "attachment; filename=\"ok.png\"; filename*=koi8-r''%C1.png"
            },
            "ok.png",
        ),
        (
            {
                "Content_Disposition": "attachment; filename=\"ok.png\"; filename*=utf-8''%ff.png"
            },
            "ok.png",
        ),
        ({"Content_Disposition": 'attachment; FILENAME="upper.png"'}, "upper.png"),
        ({"Content_Disposition": 'attachment; filename="../../x.png"'}, "x.png"),
        ({"Content_Disposition": "attachment"}, None),
        ({"Content_Disposition": "attachment; filename="}, None),
        ({"Content_Disposition": "attachment; junk; filename=a.png"}, "a.png"),
        (
            {"Content_Disposition": 'attachment; filename="unterminated.png'},
            "unterminated.png",
        ),
    ],
)
def test_file_name(given, expected):
    assert file_name(headers(**given)) == expected


def test_file_name_is_cut_to_255_keeping_the_extension():
    name = file_name(headers(X_File_Name="a" * 400 + ".jpeg"))
    assert len(name) == 255 and name.endswith(".jpeg") and name.startswith("aaa")
    no_extension = file_name(headers(X_File_Name="b" * 400))
    assert no_extension == "b" * 255
    long_extension = file_name(headers(X_File_Name="c." + "d" * 400))
    assert len(long_extension) == 255
