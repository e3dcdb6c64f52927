"""Every format the upload sniffer accepts is read by the emulator: probed with the right kind
and transcoded by a job. Plus HEIC/AVIF outputs, rotation in jobs, and the fit options."""

import dataclasses
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from common import media_kinds
from emulator.tests.helpers import API_KEY, RangeFileServer, ffprobe, start_emulator, wait_final
from emulator.tests.media import CORPUS, ffmpeg, make, rotate_tkhd, with_exif_orientation

# What a job of each kind makes from the corpus file.
JOB_OPTIONS = {
    "image": {"format": "webp", "width": 48},
    "video": {"format": "mp4", "width": 64, "quality": "very_low"},
    "audio": {"format": "mp3"},
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    for name in CORPUS:
        make(name, root)
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x180:rate=10:duration=0.5", "-c:v", "libx264", "-preset",
           "ultrafast", "-pix_fmt", "yuv420p", root / "wide.mp4")
    (root / "rotated.mp4").write_bytes(rotate_tkhd((root / "wide.mp4").read_bytes(), 90))
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=160x120", "-frames:v", "1", root / "photo.jpg")
    (root / "exif6.jpg").write_bytes(with_exif_orientation((root / "photo.jpg").read_bytes(), 6))
    server = RangeFileServer(root)
    yield root, server
    server.close()


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    emulator = start_emulator(tmp_path_factory.mktemp("formats-emulator"))
    with httpx.Client(base_url=emulator.base_url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=60) as client:
        yield client
    emulator.stop()


def test_the_corpus_covers_every_sniffed_format(corpus):
    root, _server = corpus
    sniffed = {}
    for name in CORPUS:
        found = media_kinds.sniff((root / name).read_bytes()[:media_kinds.SNIFF_BYTES])
        assert found is not None, f"the sniffer refuses {name}"
        assert found.kind == CORPUS[name][0], name
        sniffed[(found.content_type, found.extension)] = name
    every = {(value.content_type, value.extension) for value in vars(media_kinds).values()
             if isinstance(value, media_kinds.Sniffed)}
    assert every, "media_kinds defines its formats as module-level Sniffed values"
    assert every - set(sniffed) == set(), "a sniffed format has no file in emulator/tests/media.py CORPUS"


def _size(name: str) -> tuple:
    if CORPUS[name][0] == "audio":
        return (None, None)
    return (128, 96) if name.endswith((".3gp", ".3g2")) else (96, 64)  # H.263 has fixed sizes


def test_every_sniffed_format_is_probed_and_transcoded(api, corpus):
    root, server = corpus
    jobs = {name: api.post("/jobs", json={"kind": CORPUS[name][0], "input": f"{server.url}/{name}",
                                          "options": JOB_OPTIONS[CORPUS[name][0]]}).json()["id"] for name in CORPUS}
    with ThreadPoolExecutor(4) as pool:
        answers = pool.map(lambda name: api.post("/tasks", json={"kind": "probe", "input": f"{server.url}/{name}"}), CORPUS)
        probes = {name: answer.json() for name, answer in zip(CORPUS, answers)}
    problems = []
    for name, task in probes.items():
        kind = CORPUS[name][0]
        if task["status"] != "completed":
            problems.append(f"probe {name}: {task['error']}")
        elif task["output"]["kind"] != kind:
            problems.append(f"probe {name}: kind {task['output']['kind']}, not {kind}")
        elif name.startswith("image.hei") and task["output"]["codec"] != "hevc":
            problems.append(f"probe {name}: codec {task['output']['codec']}")
        elif (task["output"]["width"], task["output"]["height"]) != _size(name):
            problems.append(f"probe {name}: {task['output']['width']}x{task['output']['height']}")
    for name, job_id in jobs.items():
        job = wait_final(api, job_id)
        if job["status"] != "completed":
            problems.append(f"job {name}: {job['error']}")
        elif CORPUS[name][0] != "audio" and job["tasks"][0]["output"]["width"] != JOB_OPTIONS[CORPUS[name][0]]["width"]:
            problems.append(f"job {name}: width {job['tasks'][0]['output']['width']}")
    assert problems == []


@pytest.mark.parametrize("name", ["image.heic", "image.avif", "image.heif"])
def test_heif_stills_become_the_requested_outputs(api, corpus, name):
    _root, server = corpus
    for options, size in (({"format": "webp", "width": 48}, (48, 32)), ({"format": "png"}, (96, 64)),
                          ({"format": "jpeg", "width": 30, "height": 30, "fit": "cover"}, (30, 30))):
        job = wait_final(api, api.post("/jobs", json={"kind": "image", "input": f"{server.url}/{name}",
                                                      "options": options}).json()["id"])
        assert job["status"] == "completed", job["error"]
        output = job["tasks"][0]["output"]
        assert (output["width"], output["height"]) == size, options
        stream = ffprobe(output["url"])["streams"][0]
        assert (stream["width"], stream["height"]) == size
        assert stream["codec_name"] == {"webp": "webp", "png": "png", "jpeg": "mjpeg"}[options["format"]]


def _job_size(api, server, kind, name, options) -> tuple[int, int]:
    job = wait_final(api, api.post("/jobs", json={"kind": kind, "input": f"{server.url}/{name}",
                                                  "options": options}).json()["id"])
    assert job["status"] == "completed", job["error"]
    stream = next(s for s in ffprobe(job["output"])["streams"] if s["codec_type"] == "video")
    assert (stream["width"], stream["height"]) == (job["tasks"][0]["output"]["width"], job["tasks"][0]["output"]["height"])
    return stream["width"], stream["height"]


def test_fit_fill_gives_exactly_the_size_asked(api, corpus):
    _root, server = corpus
    assert _job_size(api, server, "video", "wide.mp4", {"width": 200, "height": 112, "fit": "fill"}) == (200, 112)
    assert _job_size(api, server, "image", "photo.jpg", {"format": "png", "width": 101, "height": 77, "fit": "fill"}) == (101, 77)


def test_fit_contain_stays_inside_the_box_and_cover_fills_it(api, corpus):
    _root, server = corpus
    assert _job_size(api, server, "video", "wide.mp4", {"width": 100, "height": 100, "fit": "contain"}) == (100, 56)
    assert _job_size(api, server, "video", "wide.mp4", {"width": 100, "height": 100}) == (100, 56)  # contain is the default
    assert _job_size(api, server, "video", "wide.mp4", {"width": 100, "height": 100, "fit": "cover"}) == (100, 100)
    assert _job_size(api, server, "image", "photo.jpg", {"format": "png", "width": 80, "height": 80}) == (80, 60)


def test_jobs_follow_the_display_rotation(api, corpus):
    """A 320x180 video turned 90 degrees by its matrix, and an EXIF-6 JPEG, come out portrait."""
    _root, server = corpus
    assert _job_size(api, server, "video", "rotated.mp4", {"width": 90}) == (90, 160)
    assert _job_size(api, server, "video", "rotated.mp4", {"width": 90, "height": 160, "fit": "fill"}) == (90, 160)
    assert _job_size(api, server, "image", "rotated.mp4", {"format": "png"}) == (180, 320)
    assert _job_size(api, server, "image", "exif6.jpg", {"format": "png"}) == (120, 160)


def test_sniffed_is_a_dataclass_of_kind_type_extension():
    """The coverage check above reads media_kinds' module-level values; fail loudly if that changes."""
    assert [f.name for f in dataclasses.fields(media_kinds.Sniffed)] == ["kind", "content_type", "extension"]
