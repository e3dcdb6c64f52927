"""emulator/ensure_ffmpeg.sh installs only what is missing (ffmpeg, libheif-examples) and warns
on an untested libheif; run against stub commands on a private PATH, so nothing is installed."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "ensure_ffmpeg.sh"


def _stub(bin_dir: Path, name: str, body: str) -> None:
    path = bin_dir / name
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)


@pytest.fixture
def fake_system(tmp_path):
    """A PATH with a few real tools, stub ffmpeg/ffprobe/dpkg-query, and an apt-get that logs and 'installs'."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("id", "head", "cat", "cp", "chmod"):
        os.symlink(shutil.which(tool), bin_dir / tool)
    log = tmp_path / "apt.log"
    _stub(bin_dir, "dpkg-query", f'cat "{tmp_path}/libheif.version" 2>/dev/null')
    _stub(bin_dir, "apt-get", f'echo "$@" >> "{log}"\n'
                              f'for p in "$@"; do case "$p" in\n'
                              f'  ffmpeg) printf "#!/bin/sh\\necho ffmpeg version 5.1\\n" > "{bin_dir}/ffmpeg";'
                              f' cp "{bin_dir}/ffmpeg" "{bin_dir}/ffprobe"; chmod +x "{bin_dir}/ffmpeg" "{bin_dir}/ffprobe";;\n'
                              f'  libheif-examples) printf "#!/bin/sh\\n" > "{bin_dir}/heif-convert"; chmod +x "{bin_dir}/heif-convert";'
                              f' echo 1.15.1-1+deb12u1 > "{tmp_path}/libheif.version";;\n'
                              f'esac; done')

    def run():
        done = subprocess.run(["/bin/sh", str(SCRIPT)], env={"PATH": str(bin_dir)}, capture_output=True, text=True,
                              timeout=30)
        calls = log.read_text().splitlines() if log.exists() else []
        return done, calls

    run.bin_dir, run.root = bin_dir, tmp_path
    return run


def test_installs_only_libheif_examples_when_heif_convert_is_missing(fake_system):
    _stub(fake_system.bin_dir, "ffmpeg", "echo ffmpeg version 5.1")
    _stub(fake_system.bin_dir, "ffprobe", "true")
    done, calls = fake_system()
    assert done.returncode == 0, done.stderr
    assert calls == ["update", "install -y --no-install-recommends libheif-examples"]
    assert "heif-convert present: libheif-examples 1.15.1-1+deb12u1" in done.stdout
    assert done.stderr == ""
    again, calls = fake_system()  # idempotent: nothing more is installed
    assert again.returncode == 0 and len(calls) == 2


def test_installs_both_on_a_bare_machine(fake_system):
    done, calls = fake_system()
    assert done.returncode == 0, done.stderr
    assert calls[-1] == "install -y --no-install-recommends ffmpeg libheif-examples"


def test_another_libheif_version_is_a_warning_not_a_failure(fake_system):
    for name in ("ffmpeg", "ffprobe", "heif-convert"):
        _stub(fake_system.bin_dir, name, "echo ffmpeg version 5.1")
    (fake_system.root / "libheif.version").write_text("1.16.0-1")
    done, calls = fake_system()
    assert done.returncode == 0 and calls == []
    assert "warning: libheif-examples 1.16.0-1 is installed" in done.stderr
    assert "1.15.1-1+deb12u1" in done.stderr
