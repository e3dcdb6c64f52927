import pytest

from common.media_kinds import SNIFF_BYTES, Sniffed, declared_matches, sniff


def _ogg(packet: bytes) -> bytes:
    # OggS page header: version, flags, granule(8), serial(4), sequence(4), crc(4),
    # one segment of 30 bytes; the first packet starts at byte 28.
    return (
        b"OggS\x00\x02"
        + b"\x00" * 8
        + b"\x01\x02\x03\x04"
        + b"\x00" * 8
        + b"\x01\x1e"
        + packet
    )


def _bmp(dib_size: int) -> bytes:
    return (
        b"BM"
        + (70).to_bytes(4, "little")
        + b"\x00" * 4
        + (54).to_bytes(4, "little")
        + dib_size.to_bytes(4, "little")
        + b"\x01\x00\x00\x00"
    )


SAMPLES = {
    "jpeg_jfif": (
        b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01",
        "image",
        "image/jpeg",
        "jpg",
    ),
    "jpeg_exif": (
        b"\xff\xd8\xff\xe1\x00\x18Exif\x00\x00II*\x00",
        "image",
        "image/jpeg",
        "jpg",
    ),
    "png": (
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01",
        "image",
        "image/png",
        "png",
    ),
    "gif87": (b"GIF87a\x01\x00\x01\x00\x80\x00\x00", "image", "image/gif", "gif"),
    "gif89": (b"GIF89a\x01\x00\x01\x00\x80\x00\x00", "image", "image/gif", "gif"),
    "webp": (
        b"RIFF\x24\x00\x00\x00WEBPVP8 \x18\x00\x00\x00",
        "image",
        "image/webp",
        "webp",
    ),
    "avif": (
        b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf",
        "image",
        "image/avif",
        "avif",
    ),
    "avif_mif1_major": (
        b"\x00\x00\x00\x1cftypmif1\x00\x00\x00\x00mif1avifmiaf",
        "image",
        "image/avif",
        "avif",
    ),
    "heic": (
        b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic",
        "image",
        "image/heic",
        "heic",
    ),
    "heic_mif1_major": (
        b"\x00\x00\x00\x1cftypmif1\x00\x00\x00\x00mif1heicmiaf",
        "image",
        "image/heic",
        "heic",
    ),
    "heif_plain": (
        b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1miaf",
        "image",
        "image/heif",
        "heif",
    ),
    "bmp_info": (_bmp(40), "image", "image/bmp", "bmp"),
    "bmp_v5": (_bmp(124), "image", "image/bmp", "bmp"),
    "tiff_le": (b"II*\x00\x08\x00\x00\x00\x0e\x00", "image", "image/tiff", "tiff"),
    "tiff_be": (b"MM\x00*\x00\x00\x00\x08\x00\x0e", "image", "image/tiff", "tiff"),
    "mp4_isom": (
        b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41",
        "video",
        "video/mp4",
        "mp4",
    ),
    "mp4_iso2": (
        b"\x00\x00\x00\x18ftypiso2\x00\x00\x02\x00iso2mp41",
        "video",
        "video/mp4",
        "mp4",
    ),
    "mp4_mp41": (
        b"\x00\x00\x00\x18ftypmp41\x00\x00\x00\x00mp41isom",
        "video",
        "video/mp4",
        "mp4",
    ),
    "mp4_mp42": (
        b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom",
        "video",
        "video/mp4",
        "mp4",
    ),
    "mp4_avc1": (
        b"\x00\x00\x00\x18ftypavc1\x00\x00\x00\x00avc1isom",
        "video",
        "video/mp4",
        "mp4",
    ),
    "mp4_dash": (
        b"\x00\x00\x00\x18ftypdash\x00\x00\x00\x00iso6mp41",
        "video",
        "video/mp4",
        "mp4",
    ),
    "mov": (
        b"\x00\x00\x00\x14ftypqt  \x00\x00\x02\x00qt  ",
        "video",
        "video/quicktime",
        "mov",
    ),
    "mov_legacy_wide": (
        b"\x00\x00\x00\x08wide\x00\x01\x00\x00mdat",
        "video",
        "video/quicktime",
        "mov",
    ),
    "mov_legacy_moov": (
        b"\x00\x00\x01\x00moov\x00\x00\x00\x6cmvhd",
        "video",
        "video/quicktime",
        "mov",
    ),
    "m4v": (
        b"\x00\x00\x00\x1cftypM4V \x00\x00\x00\x01M4V M4A mp42isom",
        "video",
        "video/x-m4v",
        "m4v",
    ),
    "3gp": (
        b"\x00\x00\x00\x14ftyp3gp4\x00\x00\x02\x00isom",
        "video",
        "video/3gpp",
        "3gp",
    ),
    "3g2": (
        b"\x00\x00\x00\x14ftyp3g2a\x00\x00\x00\x00isom",
        "video",
        "video/3gpp2",
        "3g2",
    ),
    "unknown_major_isom_compatible": (
        b"\x00\x00\x00\x18ftypzzzz\x00\x00\x00\x00isom",
        "video",
        "video/mp4",
        "mp4",
    ),
    "webm": (
        (
            b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\xf2\x81\x04\x42\xf3\x81\x08"
            b"\x42\x82\x84webm\x42\x87\x81\x04\x42\x85\x81\x02"
        ),
        "video",
        "video/webm",
        "webm",
    ),
    "matroska": (
        (
            b"\x1a\x45\xdf\xa3\xa3\x42\x86\x81\x01\x42\xf7\x81\x01\x42\xf2\x81\x04\x42\xf3\x81\x08"
            b"\x42\x82\x88matroska\x42\x87\x81\x04\x42\x85\x81\x02"
        ),
        "video",
        "video/x-matroska",
        "mkv",
    ),
    "avi": (
        b"RIFF\x00\x10\x00\x00AVI LIST\x00\x00\x00\x00hdrlavih",
        "video",
        "video/x-msvideo",
        "avi",
    ),
    "mpeg_ts": (
        b"\x47\x40\x00\x10\x00\x00\xb0\x0d\x00\x01\xc1\x00\x00\x00\x01\xf0\x00",
        "video",
        "video/mp2t",
        "ts",
    ),
    # ffmpeg's muxer writes the SDT (PID 0x11, table 0x42) before the PAT.
    "mpeg_ts_sdt_first": (
        b"\x47\x40\x11\x10\x00\x42\xf0\x25\x00\x01\xc1\x00\x00\xff\x01\xff",
        "video",
        "video/mp2t",
        "ts",
    ),
    "flv": (
        b"FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00",
        "video",
        "video/x-flv",
        "flv",
    ),
    "ogg_theora": (_ogg(b"\x80theora\x03\x02\x01"), "video", "video/ogg", "ogv"),
    "mp3_id3v2_4": (
        b"ID3\x04\x00\x00\x00\x00\x00\x23TSSE",
        "audio",
        "audio/mpeg",
        "mp3",
    ),
    "mp3_id3v2_3": (
        b"ID3\x03\x00\x00\x00\x00\x0f\x76TIT2",
        "audio",
        "audio/mpeg",
        "mp3",
    ),
    "mp3_frame_mpeg1": (
        b"\xff\xfb\x90\x64\x00\x00\x00\x00",
        "audio",
        "audio/mpeg",
        "mp3",
    ),
    "mp3_frame_mpeg2": (
        b"\xff\xf3\x84\xc4\x00\x00\x00\x00",
        "audio",
        "audio/mpeg",
        "mp3",
    ),
    "mp2_frame": (b"\xff\xfd\x94\x00\x00\x00\x00\x00", "audio", "audio/mpeg", "mp2"),
    "wav": (
        b"RIFF\x24\x08\x00\x00WAVEfmt \x10\x00\x00\x00",
        "audio",
        "audio/wav",
        "wav",
    ),
    "flac": (b"fLaC\x00\x00\x00\x22\x10\x00\x10\x00", "audio", "audio/flac", "flac"),
    "ogg_vorbis": (_ogg(b"\x01vorbis\x00\x00\x00\x00"), "audio", "audio/ogg", "ogg"),
    "ogg_opus": (_ogg(b"OpusHead\x01\x02"), "audio", "audio/ogg", "opus"),
    "aac_adts_mpeg4": (b"\xff\xf1\x50\x80\x02\x1f\xfc", "audio", "audio/aac", "aac"),
    "aac_adts_mpeg2": (b"\xff\xf9\x50\x80\x02\x1f\xfc", "audio", "audio/aac", "aac"),
    "f4v": (
        b"\x00\x00\x00\x14ftypf4v \x00\x00\x00\x00f4v ",
        "video",
        "video/mp4",
        "mp4",
    ),
    "m4a_in_isom": (
        b"\x00\x00\x00\x1cftypisom\x00\x00\x02\x00isomM4A mp42",
        "audio",
        "audio/mp4",
        "m4a",
    ),
    "m4a": (
        b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00M4A mp42isom\x00\x00\x00\x00",
        "audio",
        "audio/mp4",
        "m4a",
    ),
    "aiff": (
        b"FORM\x00\x00\x10\x00AIFFCOMM\x00\x00\x00\x12",
        "audio",
        "audio/aiff",
        "aiff",
    ),
}


@pytest.mark.parametrize("name", SAMPLES)
def test_recognises_real_signatures(name):
    head, kind, content_type, extension = SAMPLES[name]
    assert sniff(head) == Sniffed(kind, content_type, extension)


@pytest.mark.parametrize("name", SAMPLES)
def test_recognises_signatures_followed_by_more_data(name):
    head, kind, content_type, _ = SAMPLES[name]
    found = sniff(head + bytes(range(256)) * 4)
    assert (found.kind, found.content_type) == (kind, content_type)


@pytest.mark.parametrize(
    "head",
    [
        b"",
        b"hello world, this is plain text and not a media file at all....",
        b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script>',
        b"<!DOCTYPE html><html><body>hi</body></html>",
        b'{"json": true}',
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3",
        b"PK\x03\x04\x14\x00\x00\x00\x08\x00",
        b"BMW is a car brand, not a bitmap.......",
        b"BM" + b"\x00" * 16,  # BM with no plausible DIB header
        b"GET / HTTP/1.1\r\nHost: example.com\r\n",
        b"GIF8",
        b"GIF88a\x01\x00",
        b"\xff\xd8",
        b"\x89PNG",
        b"RIFF",
        b"RIFF\x00\x00\x00\x00JUNK",
        b"FORM\x00\x00\x00\x00ILBM",
        b"ID3",
        b"ID3\x09\x00",
        b"\x00\x00\x00\x18ftypzzzz\x00\x00\x00\x00yyyyxxxx",
        b"\x00\x00\x00\x08ftyp",
        b"\xff\xff\xff\xff\xff\xff",  # sync-like bits, reserved MPEG version
        b"\xff\xfb\xf0\x00",  # MP3 frame with a forbidden bitrate index
        b"\xff\xfb\x9c\x00",  # MP3 frame with a reserved sample rate
        b"\xff\xf1\x7c\x80",  # ADTS with an invalid sampling index
        b"\x47\x45\x54\x20\x2f",  # "GET /": starts with the TS sync byte
        b"\x47\x40\x00\x10\x00\x02",  # TS header but not a PAT
        b"\x47\x40\x11\x10\x00\x02",  # SDT's PID but not an SDT table
        b"\x47\x40\x12\x10\x00\x42",  # an SDT table id on another PID
        b"\x00\x01\x02\x03\x04\x05\x06\x07",
        b"abcdmoovabcdmdat",  # text that looks like an atom name
    ],
)
def test_unrecognised_input_gives_none(head):
    assert sniff(head) is None


def test_only_the_first_sniff_bytes_count():
    assert SNIFF_BYTES == 64
    assert sniff(b"x" * SNIFF_BYTES + b"\x89PNG\r\n\x1a\n") is None
    assert sniff(b"\x89PNG\r\n\x1a\n" + b"x" * 1000).content_type == "image/png"


def test_accepts_bytearray_and_memoryview():
    png = b"\x89PNG\r\n\x1a\n\x00\x00"
    assert sniff(bytearray(png)).content_type == "image/png"
    assert sniff(memoryview(png)).content_type == "image/png"


PNG = Sniffed("image", "image/png", "png")
MP4 = Sniffed("video", "video/mp4", "mp4")
OGG = Sniffed("audio", "audio/ogg", "ogg")
WEBM = Sniffed("video", "video/webm", "webm")
MP3 = Sniffed("audio", "audio/mpeg", "mp3")


@pytest.mark.parametrize(
    ("declared", "sniffed", "expected"),
    [
        (None, PNG, True),
        ("", PNG, True),
        ("application/octet-stream", PNG, True),
        ("Application/Octet-Stream; foo=bar", PNG, True),
        ("application/x-www-form-urlencoded", PNG, True),
        ("image/png", PNG, True),
        ("IMAGE/PNG", PNG, True),
        ("image/png; charset=binary", PNG, True),
        (
            "image/jpeg",
            PNG,
            True,
        ),  # same major type: a mislabelled image is still an image
        (" image/webp ", PNG, True),
        ("video/mp4", PNG, False),
        ("audio/mpeg", PNG, False),
        ("text/plain", PNG, False),
        ("application/json", PNG, False),
        ("image", PNG, False),
        ("imagex/png", PNG, False),
        ("video/quicktime", MP4, True),
        ("image/png", MP4, False),
        ("application/mp4", MP4, True),
        ("application/ogg", OGG, True),
        ("application/ogg", PNG, False),
        ("audio/ogg", OGG, True),
        (
            "video/ogg",
            OGG,
            True,
        ),  # Ogg, MP4, WebM: the header cannot tell audio from video
        ("image/ogg", OGG, False),
        ("audio/mp4", MP4, True),
        ("audio/webm", WEBM, True),
        ("image/webm", WEBM, False),
        ("audio/mpeg", MP3, True),
        ("video/mpeg", MP3, False),  # MP3 is audio only
    ],
)
def test_declared_matches(declared, sniffed, expected):
    assert declared_matches(declared, sniffed) is expected


def test_sniffed_is_frozen():
    with pytest.raises(AttributeError):
        PNG.kind = "video"
