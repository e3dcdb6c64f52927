"""Renditions fit their source (issue 17), end to end through the emulator's probe and ffmpeg.

A small generated corpus of what phones and people upload (a portrait video, a phone-style
rotated one, a small VP9 WebM, an odd-sized MKV, a small JPEG, a JPEG with EXIF orientation
6, HEIC and AVIF stills): every item completes; every stored rendition, measured with
ffprobe, is no larger than its source, within its preset's bounds and exactly the size the
sizing rule gives; portrait stays portrait; GET /api/media/{id} shows the original's facts;
and an unreadable file fails with a reason that names no path.
"""

from __future__ import annotations

import json
import re
import shutil
import struct
from dataclasses import dataclass
from pathlib import Path

import pytest

from common.rendition_sizing import rendition_size
from processor.presets import DEFAULT_PRESETS
from tests.e2e.processor_helpers import ffmpeg, probe, upload, wait_final

pytestmark = pytest.mark.stack

# What a leaked path looks like: an absolute path of two segments or more.
PATH_LIKE = re.compile(r"(?<![\w.])/[^\s/:'\"<>()\[\]{},;]+/")


@dataclass(frozen=True)
class Source:
    name: str
    content_type: str
    kind: str
    width: int  # as displayed
    height: int
    duration: float | None = None
    fps: float | None = None
    codec: str | None = None


def _rotate_mp4(path: Path) -> None:
    """Turn the (only) track's tkhd matrix by 90 degrees, as a phone records portrait video.

    ffmpeg 5.1 ignores `-metadata:s:v rotate=90`; the patched file probes `rotation: -90`."""
    data = bytearray(path.read_bytes())
    at = data.find(b"tkhd")
    assert at > 0, "no tkhd box"
    version = data[at + 4]
    times = 8 + 8 + 4 + 4 + 8 if version == 1 else 4 + 4 + 4 + 4 + 4  # creation, modification, id, reserved, duration
    matrix = at + 4 + 4 + times + 8 + 2 + 2 + 2 + 2  # reserved, layer, alternate group, volume, reserved
    fixed = lambda value: (value * 0x10000) & 0xFFFFFFFF  # noqa: E731
    data[matrix:matrix + 36] = struct.pack(">9I", fixed(0), fixed(1), 0, fixed(-1), fixed(0), 0, 0, 0, 0x40000000)
    path.write_bytes(bytes(data))


def _exif_orientation(path: Path, orientation: int = 6) -> None:
    """Insert an EXIF APP1 with Orientation (6: display turned 90 degrees clockwise) after SOI."""
    tiff = b"MM\x00*" + struct.pack(">IH", 8, 1) + struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0) + b"\x00" * 4
    payload = b"Exif\x00\x00" + tiff
    data = path.read_bytes()
    assert data[:2] == b"\xff\xd8"
    path.write_bytes(data[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + data[2:])


def _video_args(size: str, rate: int, seconds: int, source: str = "testsrc2") -> list[str]:
    return ["-f", "lavfi", "-i", f"{source}=size={size}:rate={rate}:duration={seconds}",
            "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict[Source, bytes]:
    folder = tmp_path_factory.mktemp("corpus")
    x264 = ["-c:v", "libx264", "-preset", "ultrafast", "-crf", "35"]
    made: dict[Source, Path] = {}

    path = folder / "portrait.mp4"
    ffmpeg(*_video_args("1080x1920", 30, 2), *x264, "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest",
           "-movflags", "+faststart", str(path))
    made[Source("portrait", "video/mp4", "video", 1080, 1920, 2.0, 30, "h264")] = path

    path = folder / "rotated.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=30:duration=2", *x264, "-pix_fmt", "yuv420p",
           "-movflags", "+faststart", str(path))
    _rotate_mp4(path)
    made[Source("rotated", "video/mp4", "video", 1080, 1920, 2.0, 30, "h264")] = path

    path = folder / "small.webm"
    ffmpeg(*_video_args("640x360", 25, 2), "-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8",
           "-b:v", "200k", "-c:a", "libopus", "-shortest", str(path))
    made[Source("webm", "video/webm", "video", 640, 360, 2.0, 25, "vp9")] = path

    path = folder / "odd.mkv"  # testsrc (not testsrc2) keeps odd sides; 4:4:4 has no even-size rule
    ffmpeg(*_video_args("1279x719", 25, 1, "testsrc"), *x264, "-pix_fmt", "yuv444p", "-c:a", "aac", "-shortest",
           str(path))
    made[Source("odd", "video/x-matroska", "video", 1279, 719, 1.0, 25, "h264")] = path

    path = folder / "photo.jpg"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=640x480", "-frames:v", "1", str(path))
    made[Source("jpeg", "image/jpeg", "image", 640, 480)] = path

    path = folder / "exif6.jpg"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=640x480", "-frames:v", "1", str(path))
    _exif_orientation(path)
    made[Source("jpeg-exif6", "image/jpeg", "image", 480, 640)] = path

    if shutil.which("heif-enc"):
        import subprocess

        for suffix, content_type in (("heic", "image/heic"), ("avif", "image/avif")):
            path = folder / f"photo.{suffix}"
            args = ["heif-enc", "-q", "50", "-o", str(path), str(folder / "photo.jpg")]
            if suffix == "avif":
                args.insert(1, "--avif")
            subprocess.run(args, check=True, capture_output=True, timeout=120)
            made[Source(suffix, content_type, "image", 640, 480)] = path
    return {source: path.read_bytes() for source, path in made.items()}


@pytest.fixture(scope="module")
def finished(api, corpus) -> dict[Source, dict]:
    ids = {source: upload(api, data, source.content_type) for source, data in corpus.items()}
    return {source: wait_final(api, media_id, timeout=240) for source, media_id in ids.items()}


def test_the_corpus_has_heif_stills():
    if not shutil.which("heif-enc"):
        pytest.skip("heif-enc (Debian libheif-examples, installed by scripts/setup) is missing: HEIC/AVIF not covered")


def _presets(kind: str) -> dict:
    return {preset.name: preset for preset in DEFAULT_PRESETS[kind]}


def test_every_item_completes(finished):
    for source, item in finished.items():
        assert item["status"] == "completed", (source.name, item["error"], item["renditions"])
        assert {r["name"] for r in item["renditions"]} == set(_presets(source.kind)), source.name


def test_no_rendition_exceeds_its_source_or_its_bounds(api, finished, tmp_path):
    for source, item in finished.items():
        presets = _presets(source.kind)
        for rendition in item["renditions"]:
            preset = presets[rendition["name"]]
            if rendition["kind"] == "adaptive_video":
                # An HLS ladder: every rung within the source and the preset's bounds.
                for rung in rendition["ladder"]["rungs"]:
                    where = f"{source.name}/{rendition['name']}/{rung['name']}: {rung['width']}x{rung['height']}"
                    assert rung["width"] <= source.width and rung["height"] <= source.height, where
                    assert max(rung["width"], rung["height"]) <= preset.options.get("max_long", 1 << 30), where
                    assert min(rung["width"], rung["height"]) <= preset.options.get("max_short", 1 << 30), where
                    if source.height > source.width:
                        assert rung["height"] > rung["width"], f"portrait stays portrait: {where}"
                continue
            response = api.get(rendition["url"])
            assert response.status_code == 200, (source.name, rendition["name"])
            stream = next(s for s in probe(response.content, tmp_path, f"{source.name}-{rendition['name']}")["streams"]
                          if s["codec_type"] == "video")
            width, height = stream["width"], stream["height"]
            where = f"{source.name}/{rendition['name']}: {width}x{height} of {source.width}x{source.height}"
            assert width <= source.width and height <= source.height, where
            bounds = preset.options
            assert max(width, height) <= bounds.get("max_long", 1 << 30), where
            assert min(width, height) <= bounds.get("max_short", 1 << 30), where
            expected = rendition_size(preset.kind, preset.options, source.width, source.height)
            assert (width, height) == (expected.width, expected.height), where
            if preset.kind == "video":
                assert width % 2 == 0 and height % 2 == 0, where
            if source.height > source.width:
                assert height > width, f"portrait stays portrait: {where}"


def test_named_sizes(api, finished, tmp_path):
    by_name = {source.name: item for source, item in finished.items()}

    def size(name: str, rendition: str) -> tuple[int, int]:
        (found,) = [r for r in by_name[name]["renditions"] if r["name"] == rendition]
        stream = next(s for s in probe(api.get(found["url"]).content, tmp_path, f"{name}-{rendition}")["streams"]
                      if s["codec_type"] == "video")
        return stream["width"], stream["height"]

    for name in ("portrait", "rotated"):
        assert (size(name, "web"), size(name, "mobile"), size(name, "thumbnail")) == (
            (1080, 1920), (480, 854), (360, 640)), name
    assert size("webm", "web") == size("webm", "mobile") == (640, 360)  # not scaled up, not skipped
    assert size("jpeg", "large") == (640, 480)
    assert size("jpeg-exif6", "large") == (480, 640)


def test_the_original_s_facts_are_in_the_record(api, finished):
    for source, item in finished.items():
        record = api.get(f"/api/media/{item['id']}").json()
        assert (record["width"], record["height"]) == (source.width, source.height), source.name
        expected_orientation = "portrait" if source.height > source.width else "landscape"
        assert record["orientation"] == expected_orientation, source.name
        if source.kind == "video":
            assert abs(record["duration"] - source.duration) <= 0.1, (source.name, record["duration"])
            assert abs(record["fps"] - source.fps) < 0.01, (source.name, record["fps"])
            assert record["codec"] == source.codec, source.name
        else:
            assert record["duration"] is record["fps"] is record["codec"] is None, source.name
        listed = api.get("/api/media", params={"limit": 100}).json()["items"]
        (summary,) = [m for m in listed if m["id"] == item["id"]]
        assert (summary["width"], summary["height"]) == (source.width, source.height)


def test_unreadable_files_fail_with_reasons_that_name_no_path(api, corpus, pipeline):
    portrait = next(data for source, data in corpus.items() if source.name == "portrait")
    truncated = portrait[: len(portrait) // 3]  # faststart: moov is whole, most media data is gone
    garbage_mp4 = portrait[:64] + bytes(range(256)) * 100  # a valid ftyp, then nothing readable
    fake_heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(range(256)) * 40
    bodies = []
    for data, content_type in ((truncated, "video/mp4"), (garbage_mp4, "video/mp4"), (fake_heic, "image/heic")):
        response = api.post("/api/media", content=data, headers={"content-type": content_type})
        bodies.append(response.text)
        if response.status_code != 202:
            assert response.status_code == 415, response.text  # refused by the sniffer: fine, and no path
            continue
        item = wait_final(api, response.json()["id"], timeout=120)
        bodies.append(api.get(f"/api/media/{item['id']}").text)
        if data is garbage_mp4 or data is fake_heic:
            assert item["status"] == "failed", item
    private = [str(pipeline.work_dir), str(pipeline.state_dir), "/tmp/", "/work/", "/var/"]
    errors = []
    for body in bodies:
        for word in private:
            assert word not in body, (word, body)
        record = json.loads(body)
        errors += [record.get("error")] + [r.get("error") for r in record.get("renditions", [])]
    errors = [error for error in errors if error]
    assert errors, "the unreadable files left no reason to check"
    for error in errors:  # our own links (/api/media/..., /files/...) are not errors, and not checked
        assert not PATH_LIKE.search(error), error
