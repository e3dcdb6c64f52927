"""Hypothesis: the playlist parsers raise nothing but PlaylistError, and every path they give
stays inside the ladder."""

from hypothesis import given, settings
from hypothesis import strategies as st

from common.hls import PlaylistError, ladder_path, parse_master, parse_media

_LINES = st.sampled_from([
    "#EXTM3U", "#EXT-X-TARGETDURATION:4", "#EXT-X-ENDLIST", "#EXTINF:4.0,", "#EXTINF:nan,", "#EXTINF:-1,",
    "#EXT-X-STREAM-INF:BANDWIDTH=5,RESOLUTION=2x2", "#EXT-X-STREAM-INF:BANDWIDTH=x", '#EXT-X-MAP:URI="i.mp4"',
    "#EXT-X-KEY:METHOD=NONE", "seg.ts", "a/b.ts", "../x.ts", "/abs.ts", "http://h/x.ts", "a//b", "", "é",
]) | st.text(max_size=20)


def _inside(path: str) -> bool:
    parts = path.split("/")
    return not path.startswith("/") and ":" not in path and all(p not in ("", ".", "..") for p in parts)


@settings(max_examples=300, deadline=None)
@given(st.lists(_LINES, max_size=30), st.sampled_from(["v/stream.m3u8", "stream.m3u8"]))
def test_media_playlists_parse_or_are_refused_and_stay_inside(lines, path):
    try:
        playlist = parse_media("\n".join(lines), path)
    except PlaylistError:
        return
    assert playlist.segments and all(_inside(f) for f in playlist.files())


@settings(max_examples=300, deadline=None)
@given(st.lists(_LINES, max_size=30))
def test_master_playlists_parse_or_are_refused_and_stay_inside(lines):
    try:
        master = parse_master("\n".join(lines).encode("utf-8", "surrogatepass"))
    except PlaylistError:
        return
    assert master.variants and all(_inside(v.uri) and v.bandwidth > 0 for v in master.variants)


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=40))
def test_ladder_path_is_inside_or_refused(text):
    try:
        path = ladder_path(text)
    except PlaylistError:
        return
    assert path == text and _inside(path) and "?" not in path and "%" not in path
