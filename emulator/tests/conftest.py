"""Fixtures: tiny media made with ffmpeg's lavfi, a local file server, a webhook receiver and the emulator."""

import os
import subprocess
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from emulator.tests.helpers import API_KEY, WebhookReceiver, start_emulator


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory):
    """A 2 s 1280x720 h264+aac mp4, a PNG, a WAV and a corrupt file."""
    root = tmp_path_factory.mktemp("media")
    _ffmpeg("-f", "lavfi", "-i", "testsrc=size=1280x720:rate=15:duration=2",
            "-f", "lavfi", "-i", "sine=frequency=440:duration=2",
            "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest",
            str(root / "video.mp4"))
    _ffmpeg("-f", "lavfi", "-i", "testsrc=size=800x600", "-frames:v", "1", str(root / "image.png"))
    _ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=1", str(root / "audio.wav"))
    (root / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(4096))
    return root


class _QuietFiles(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def file_server(media_dir):
    """Serves media_dir over HTTP; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietFiles, directory=str(media_dir)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def receiver():
    hook = WebhookReceiver()
    yield hook
    hook.close()


@pytest.fixture
def emulator(tmp_path):
    emu = start_emulator(tmp_path)
    yield emu
    emu.stop()


@pytest.fixture
def client(emulator):
    with httpx.Client(base_url=emulator.base_url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=10) as c:
        yield c
