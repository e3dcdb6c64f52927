import pytest

from common import hls
from common.hls import PlaylistError, join, ladder_path, parse_master, parse_media

MASTER = """#EXTM3U
#EXT-X-VERSION:3
#EXT-X-STREAM-INF:BANDWIDTH=900000,RESOLUTION=640x360,CODECS="avc1.64001e,mp4a.40.2"
360p/stream.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=2800000,RESOLUTION=1280x720,CODECS="avc1.64001f,mp4a.40.2"
720p/stream.m3u8
"""

MEDIA = """#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:4
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-PLAYLIST-TYPE:VOD
#EXTINF:4.000000,
segment-0.ts
#EXTINF:4.000000,
segment-1.ts
#EXTINF:2.5,
segment-2.ts
#EXT-X-ENDLIST
"""


def test_master_variants_with_sizes_and_codecs():
    master = parse_master(MASTER)
    assert [v.uri for v in master.variants] == ["360p/stream.m3u8", "720p/stream.m3u8"]
    assert (master.variants[1].width, master.variants[1].height) == (1280, 720)
    assert master.variants[0].bandwidth == 900000
    assert master.variants[0].codecs == "avc1.64001e,mp4a.40.2"


def test_media_segments_resolved_against_the_playlist_folder():
    playlist = parse_media(MEDIA, "720p/stream.m3u8")
    assert [s.uri for s in playlist.segments] == ["720p/segment-0.ts", "720p/segment-1.ts", "720p/segment-2.ts"]
    assert playlist.duration == pytest.approx(10.5)
    assert playlist.target_duration == 4
    assert playlist.files() == ["720p/segment-0.ts", "720p/segment-1.ts", "720p/segment-2.ts"]


def test_bytes_and_bom_and_crlf_accepted():
    text = ("\ufeff" + MEDIA.replace("\n", "\r\n")).encode()
    assert len(parse_media(text, "a/stream.m3u8").segments) == 3


def test_init_segment_of_fmp4_is_a_file_of_the_ladder():
    text = MEDIA.replace("#EXT-X-MEDIA-SEQUENCE:0", '#EXT-X-MAP:URI="init.mp4"')
    assert parse_media(text, "720p/s.m3u8").files()[0] == "720p/init.mp4"


@pytest.mark.parametrize("uri", [
    "http://evil.example/seg.ts", "https://cdn/x.ts", "//evil.example/seg.ts", "/etc/passwd", "../other/seg.ts",
    "a/../../b.ts", "./seg.ts", "a//b.ts", "seg.ts?token=1", "seg.ts#x", "a\\b.ts", "data:video/mp2t;base64,AA",
    "se g.ts", "s%2e%2e/x.ts", "a/b/c/d/e.ts", "", "é.ts", ".hidden",
])
def test_hostile_uris_refused(uri):
    with pytest.raises(PlaylistError):
        ladder_path(uri)


def test_hostile_uri_inside_a_media_playlist_refused():
    with pytest.raises(PlaylistError, match="absolute"):
        parse_media(MEDIA.replace("segment-1.ts", "https://evil.example/segment-1.ts"), "720p/s.m3u8")
    with pytest.raises(PlaylistError, match="'..'"):
        parse_media(MEDIA.replace("segment-1.ts", "../../originals/x"), "720p/s.m3u8")


def test_hostile_variant_uri_refused():
    with pytest.raises(PlaylistError):
        parse_master(MASTER.replace("720p/stream.m3u8", "/720p/stream.m3u8"))


def test_join_cannot_escape_the_ladder():
    assert join("720p/stream.m3u8", "segment-0.ts") == "720p/segment-0.ts"
    assert join("master.m3u8", "720p/stream.m3u8") == "720p/stream.m3u8"
    with pytest.raises(PlaylistError):
        join("720p/stream.m3u8", "../master.m3u8")


def test_missing_extm3u_refused():
    with pytest.raises(PlaylistError, match="EXTM3U"):
        parse_media(MEDIA.replace("#EXTM3U\n", ""), "a/s.m3u8")
    with pytest.raises(PlaylistError, match="EXTM3U"):
        parse_master("")
    with pytest.raises(PlaylistError, match="EXTM3U"):
        parse_master(b"\x00\x01binary")


def test_vod_needs_endlist():
    with pytest.raises(PlaylistError, match="ENDLIST"):
        parse_media(MEDIA.replace("#EXT-X-ENDLIST\n", ""), "a/s.m3u8")


def test_nothing_after_endlist():
    with pytest.raises(PlaylistError):
        parse_media(MEDIA + "#EXTINF:1,\nmore.ts\n", "a/s.m3u8")


def test_huge_segment_counts_refused():
    body = "".join(f"#EXTINF:1,\ns{i}.ts\n" for i in range(hls.MAX_SEGMENTS + 1))
    with pytest.raises(PlaylistError, match="more than"):
        parse_media("#EXTM3U\n#EXT-X-TARGETDURATION:1\n" + body + "#EXT-X-ENDLIST\n", "a/s.m3u8")


def test_bound_is_inclusive():
    body = "".join(f"#EXTINF:1,\ns{i}.ts\n" for i in range(hls.MAX_SEGMENTS))
    playlist = parse_media("#EXTM3U\n#EXT-X-TARGETDURATION:1\n" + body + "#EXT-X-ENDLIST\n", "a/s.m3u8")
    assert len(playlist.segments) == hls.MAX_SEGMENTS


def test_oversized_playlist_refused_before_parsing():
    with pytest.raises(PlaylistError, match="over"):
        parse_media(b"#EXTM3U\n" + b"#" * hls.MAX_PLAYLIST_BYTES, "a/s.m3u8")


def test_too_many_variants_refused():
    body = "".join(f"#EXT-X-STREAM-INF:BANDWIDTH=1\nv{i}/s.m3u8\n" for i in range(hls.MAX_VARIANTS + 1))
    with pytest.raises(PlaylistError, match="variants"):
        parse_master("#EXTM3U\n" + body)


@pytest.mark.parametrize("change", [
    ("#EXTINF:2.5,", "#EXTINF:nan,"), ("#EXTINF:2.5,", "#EXTINF:-1,"), ("#EXTINF:2.5,", "#EXTINF:inf,"),
    ("#EXTINF:2.5,\n", ""), ("#EXT-X-TARGETDURATION:4\n", ""),
    ("#EXT-X-MEDIA-SEQUENCE:0", '#EXT-X-KEY:METHOD=AES-128,URI="https://evil/key"'),
])
def test_malformed_media_playlists_refused(change):
    with pytest.raises(PlaylistError):
        parse_media(MEDIA.replace(*change), "a/s.m3u8")


def test_encryption_none_is_fine():
    assert parse_media(MEDIA.replace("#EXT-X-MEDIA-SEQUENCE:0", "#EXT-X-KEY:METHOD=NONE"), "a/s.m3u8")


@pytest.mark.parametrize("text", [
    "#EXTM3U\n",
    "#EXTM3U\nstream.m3u8\n",
    "#EXTM3U\n#EXT-X-STREAM-INF:RESOLUTION=1x1\na.m3u8\n",
    "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=-5\na.m3u8\n",
    "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=5,RESOLUTION=axb\na.m3u8\n",
    "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=5\na.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=6\na.m3u8\n",
    '#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",URI="http://x/a.m3u8"\n#EXT-X-STREAM-INF:BANDWIDTH=5\na.m3u8\n',
    MEDIA,
])
def test_malformed_master_playlists_refused(text):
    with pytest.raises(PlaylistError):
        parse_master(text)


def test_master_given_as_media_refused():
    with pytest.raises(PlaylistError, match="master"):
        parse_media(MASTER, "a/s.m3u8")


def test_content_types():
    assert hls.content_type("master.m3u8") == "application/vnd.apple.mpegurl"
    assert hls.content_type("720p/segment-0.ts") == "video/mp2t"
    assert hls.content_type("720p/init.mp4") == "video/mp4"
    assert hls.content_type("x.bin") == "application/octet-stream"
    assert hls.is_playlist("720p/stream.m3u8") and not hls.is_playlist("a.ts")


def test_errors_never_quote_the_uri():
    with pytest.raises(PlaylistError) as info:
        ladder_path("https://secret.example/token=abc/seg.ts")
    assert "secret" not in str(info.value)
