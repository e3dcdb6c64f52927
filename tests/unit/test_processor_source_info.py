"""Reading Ittybit's probe answer (both shapes), and that any JSON is read without error."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from processor.probe import ProbeResult, SourceInfo, parse_fps, read_probe

FILE = {
    "object": "file", "kind": "video", "format": "mp4", "width": 1080, "height": 1920, "rotation": 90,
    "duration": 2.0, "fps": 29.97, "codec": "h264", "audio_codec": "aac", "filesize": 12345,
}


def test_a_completed_task_with_a_file_output():
    result = read_probe({"id": "task_1", "object": "task", "kind": "probe", "status": "completed", "error": None,
                         "output": FILE})
    assert result == ProbeResult("task_1", "completed", None, SourceInfo(1080, 1920, 90, 2.0, 29.97, "h264", "aac", "mp4"))
    assert result.is_final


def test_a_bare_file_object():
    result = read_probe({**FILE, "id": "file_1"})
    assert result.status == "completed" and result.source.width == 1080 and result.source.video_codec == "h264"
    # No "object", no status: still a file when it carries a file's fields.
    assert read_probe({"width": 640, "height": 480}).source == SourceInfo(640, 480)


def test_codecs_object_fps_fraction_and_negative_rotation():
    result = read_probe({"status": "succeeded", "output": [{"width": "1920", "height": 1080.0, "rotation": -90,
                                                             "frame_rate": "30000/1001",
                                                             "codecs": {"video": "HEVC", "audio": "opus"}}]})
    assert result.source == SourceInfo(1920, 1080, 270, None, 29.97, "hevc", "opus")


def test_an_orientation_that_contradicts_the_sides_swaps_them():
    # Some APIs give the stored size and a rotation; their orientation word tells the displayed one.
    assert read_probe({**FILE, "width": 1920, "height": 1080, "orientation": "portrait"}).source.width == 1080
    assert read_probe({**FILE, "width": 1080, "height": 1920, "orientation": "portrait"}).source.width == 1080


def test_failed_and_still_running_tasks():
    failed = read_probe({"id": "task_2", "status": "failed",
                         "error": {"message": "/data/inputs/task_2/input: Invalid data found when processing input"}})
    assert failed == ProbeResult("task_2", "failed", "<path>: Invalid data found when processing input")
    assert read_probe({"id": "t", "status": "failed"}).error == "the source could not be probed"
    assert read_probe({"id": "t", "status": "processing"}) == ProbeResult("t", "processing")
    assert read_probe({"id": "t", "status": "queued"}).status == "pending"
    assert not read_probe({"id": "t", "status": "pending"}).is_final


@pytest.mark.parametrize(
    "fields",
    [
        {"width": 0, "height": 10},
        {"width": -5, "height": 10},
        {"width": 1.5, "height": 10},
        {"width": True, "height": 10},
        {"width": 10 ** 9, "height": 10},
        {"width": 640},  # one side alone sizes nothing
        {"width": "wide", "height": "tall"},
    ],
)
def test_nonsense_sizes_are_unknown(fields):
    source = read_probe({"object": "file", **fields}).source
    assert (source.width, source.height) == (None, None)


def test_nonsense_other_fields_are_unknown():
    source = read_probe({"object": "file", "width": 2, "height": 2, "duration": -1, "fps": "0/0", "rotation": 45,
                         "codec": "h264; rm -rf /", "format": "x" * 100}).source
    assert source == SourceInfo(2, 2)


@pytest.mark.parametrize(
    ("value", "fps"),
    [(25, 25.0), ("30", 30.0), ("30000/1001", 29.97), ("24000/1001", 23.976), (0, None), ("1/0", None),
     ("nan", None), (float("inf"), None), (5000, None), ("a/b", None), (None, None), ([30], None)],
)
def test_parse_fps(value, fps):
    assert parse_fps(value) == fps


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=6),
    max_leaves=30,
)
_keys = st.sampled_from(["id", "object", "status", "error", "output", "width", "height", "rotation", "duration",
                         "fps", "frame_rate", "codec", "audio_codec", "codecs", "format", "orientation", "file"])
_probe_like = st.recursive(
    _json,
    lambda children: st.dictionaries(_keys, children, max_size=10),
    max_leaves=40,
)


@given(_json | _probe_like)
def test_any_json_is_read_without_error_into_sane_values(obj):
    result = read_probe(obj)
    assert result.status in ("pending", "processing", "completed", "failed")
    assert (result.source is not None) == (result.status == "completed")
    if result.status == "failed":
        assert result.error and "\n" not in result.error
    source = result.source
    if source is not None:
        assert (source.width is None) == (source.height is None)
        if source.width is not None:
            assert 0 < source.width <= 1 << 20 and 0 < source.height <= 1 << 20
            assert isinstance(source.width, int) and isinstance(source.height, int)
        assert source.rotation in (0, 90, 180, 270)
        assert source.duration is None or (math.isfinite(source.duration) and source.duration >= 0)
        assert source.fps is None or 0 < source.fps <= 1000
        for name in (source.video_codec, source.audio_codec, source.format):
            assert name is None or (len(name) <= 64 and " " not in name)
