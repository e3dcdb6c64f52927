"""HEIF-family stills: brand routing, the heif-convert call, and its failures without paths."""

import struct

import pytest

from emulator import heif


def _ftyp(major: bytes, *compatible: bytes) -> bytes:
    body = major + b"\x00\x00\x00\x00" + b"".join(compatible)
    return struct.pack(">I", len(body) + 8) + b"ftyp" + body + b"\x00" * 32


@pytest.mark.parametrize(("head", "brand"), [
    (_ftyp(b"heic", b"mif1", b"heic"), "heif"),      # iPhone
    (_ftyp(b"mif1", b"heic"), "heif"),
    (_ftyp(b"mif1", b"miaf"), "heif"),
    (_ftyp(b"msf1", b"hevc"), "heif"),
    (_ftyp(b"heix", b"mif1"), "heif"),
    (_ftyp(b"avif", b"mif1", b"miaf"), "avif"),
    (_ftyp(b"mif1", b"avif"), "avif"),
    (_ftyp(b"isom", b"avif"), "avif"),
    (_ftyp(b"avis", b"avif", b"msf1"), None),        # an AVIF sequence: ffmpeg reads it as video
    (_ftyp(b"isom", b"iso2", b"avc1", b"mp41"), None),
    (_ftyp(b"qt  "), None),
    (_ftyp(b"M4A ", b"isom"), None),
    (b"\xff\xd8\xff\xe0", None),
    (b"", None),
])
def test_heif_brand(head, brand):
    assert heif.heif_brand(head) == brand


def test_codec_of_names_the_image_codec():
    assert heif.codec_of(_ftyp(b"heic", b"mif1")) == "hevc"
    assert heif.codec_of(_ftyp(b"mif1", b"avif")) == "av1"
    assert heif.codec_of(_ftyp(b"mif1", b"miaf")) is None
    assert heif.codec_of(b"GIF89a") is None


def test_codec_of_a_plain_heif_reads_the_codec_configuration_box(tmp_path):
    head = _ftyp(b"mif1", b"miaf")
    for box, codec in ((b"hvcC", "hevc"), (b"av1C", "av1"), (b"xxxx", None)):
        path = tmp_path / "input"
        path.write_bytes(head + b"\x00\x00\x00\x20meta...iprp...ipco" + box + bytes(64))
        assert heif.codec_of(head, str(path)) == codec


def test_convert_command():
    assert heif.convert_command("/d/in", "/d/out.png") == ["heif-convert", "--quiet", "/d/in", "/d/out.png"]


def test_a_broken_heif_fails_with_libheif_words_and_no_path(tmp_path):
    source = tmp_path / "input"
    source.write_bytes(_ftyp(b"heic", b"mif1", b"heic") + bytes(500))
    with pytest.raises(heif.HeifError) as failure:
        heif.decode_still(str(source), str(tmp_path), timeout_s=30)
    message = str(failure.value)
    assert message.startswith("input is not a readable media file: HEIF/AVIF image could not be decoded (")
    assert str(tmp_path) not in message and "/tmp" not in message
    assert "meta" in message  # libheif's own words: "No 'meta' box"


def test_missing_heif_convert_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(heif.shutil, "which", lambda name: None)
    with pytest.raises(heif.HeifError, match="libheif-examples"):
        heif.decode_still(str(tmp_path / "input"), str(tmp_path), timeout_s=30)
