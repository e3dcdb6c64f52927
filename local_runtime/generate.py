"""Write the generated folder that `wrangler dev` runs for one Python worker.

Layout of `<out>/<worker name>/`:
    wrangler.json       derived config (bindings as in the worker's TOML, main = host.mjs)
    .dev.vars           copy of the project's .dev.vars (wrangler reads it beside the config)
    modules/            host.mjs, shim.mjs, bootstrap.py, host-config.json, Pyodide's
                        assets, sdk.zip (the `workers` SDK) and app.zip (the worker's .py files)
Everything here is derived and rewritten on every start; nothing is committed.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import zipfile
from pathlib import Path

from local_runtime.derive import Notification, PythonWorker, derived_config, host_config

HOST_DIR = Path(__file__).parent / "host"
HOST_FILES = ("host.mjs", "shim.mjs", "counters.mjs", "bootstrap.py")
PYODIDE_FILES = (
    "pyodide.asm.js",
    "pyodide.mjs",
    "pyodide.asm.wasm",
    "python_stdlib.zip",
    "pyodide-lock.json",
)
SKIPPED_DIRS = {"__pycache__", "tests", ".pytest_cache"}


def sdk_package_dir() -> Path:
    """The installed `workers` package (PyPI workers-runtime-sdk), found without importing it."""
    spec = importlib.util.find_spec("workers")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the `workers` SDK is not installed (pip install workers-runtime-sdk)")
    return Path(next(iter(spec.submodule_search_locations)))


def _link_or_copy(source: Path, target: Path) -> None:
    if target.exists() or target.is_symlink():
        target.unlink()
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def _python_files(source: Path, arc_prefix: str = "") -> dict[str, Path]:
    """Every .py file below `source`, keyed by its name in the archive."""
    files = {}
    for path in sorted(source.rglob("*.py")):
        relative = path.relative_to(source)
        if not SKIPPED_DIRS.intersection(relative.parts[:-1]):
            files[arc_prefix + relative.as_posix()] = path
    return files


def _write_zip(files: dict[str, Path], target: Path) -> None:
    """Write the zip, leaving the old file untouched when nothing changed."""
    tmp = target.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, path in files.items():
            # A fixed timestamp keeps the zip identical when no source changed,
            # so wrangler's file watcher reloads only on real edits.
            info = zipfile.ZipInfo(name, date_time=(2025, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    if target.exists() and target.read_bytes() == tmp.read_bytes():
        tmp.unlink()
    else:
        tmp.replace(target)


def write_app_zip(worker: PythonWorker, out_dir: Path) -> Path:
    """(Re)write the zip of the worker's Python modules; cheap, so every start does it."""
    target = out_dir / worker.name / "modules" / "app.zip"
    target.parent.mkdir(parents=True, exist_ok=True)
    files = _python_files(worker.source_dir)
    # Wrangler uploads `main` under its base name, the other modules relative to base_dir.
    files[worker.main_path.name] = worker.main_path
    _write_zip(files, target)
    return target


def generate(
    worker: PythonWorker,
    *,
    out_dir: Path,
    pyodide_dir: Path,
    notifications: list[Notification],
    dev_vars: Path | None,
) -> Path:
    """Write the host folder for `worker`; returns the path of its derived wrangler.json."""
    folder = out_dir / worker.name
    modules = folder / "modules"
    modules.mkdir(parents=True, exist_ok=True)
    for name in PYODIDE_FILES:
        source = pyodide_dir / name
        if not source.exists():
            raise RuntimeError(f"Pyodide asset missing: {source} (run npm install)")
        _link_or_copy(source, modules / name)
    for name in HOST_FILES:
        shutil.copyfile(HOST_DIR / name, modules / name)
    _write_zip(_python_files(sdk_package_dir(), "workers/"), modules / "sdk.zip")
    write_app_zip(worker, out_dir)
    (modules / "host-config.json").write_text(
        json.dumps(host_config(worker, notifications), indent=2) + "\n"
    )
    config_path = folder / "wrangler.json"
    config_path.write_text(json.dumps(derived_config(worker, notifications), indent=2) + "\n")
    vars_copy = folder / ".dev.vars"
    if dev_vars is not None and dev_vars.exists():
        shutil.copyfile(dev_vars, vars_copy)
    elif vars_copy.exists():
        vars_copy.unlink()
    return config_path
