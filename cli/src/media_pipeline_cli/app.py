"""The `media-pipeline` command: Typer commands over media_pipeline_cli.api and .tus."""

from __future__ import annotations

import functools
import json
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait as wait_futures
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Optional

import httpx
import typer
from rich.console import Console
from rich.progress import (BarColumn, DownloadColumn, Progress, TaskProgressColumn, TextColumn,
                           TimeRemainingColumn, TransferSpeedColumn)
from rich.table import Table

from media_pipeline_cli import __version__, config, tus
from media_pipeline_cli.api import Api, ApiError, error_from
from media_pipeline_cli.util import (MAX_LINK_SECONDS, collect_files, human_size, parse_duration, parse_metadata,
                                     parse_since, sign_url, url_expiry)

# Exit codes (documented in cli/README.md and `media-pipeline --help`).
EXIT_OK = 0
EXIT_FAILED = 1        # an item failed (upload refused, media failed), or a local file problem
EXIT_USAGE = 2         # bad arguments (Typer/Click's own code)
EXIT_AUTH = 3          # no profile, or the API refused the key (401/403)
EXIT_NOT_FOUND = 4     # the media item, rendition, endpoint or HLS playback does not exist
EXIT_API = 5           # the API answered another error, or could not be reached
EXIT_TIMEOUT = 6       # `wait` / `--wait` gave up before every item was final
EXIT_INTERRUPTED = 130  # Ctrl-C (uploads and downloads resume when run again)

FINAL = ("completed", "failed")

HELP = f"""Upload media to a media-pipeline API, wait for renditions, and script everything with --json.

Start with `media-pipeline login`, then `media-pipeline upload ./videos --wait`.

Exit codes: {EXIT_OK} ok, {EXIT_FAILED} an item failed, {EXIT_USAGE} bad usage, {EXIT_AUTH} not logged in or key
refused, {EXIT_NOT_FOUND} not found, {EXIT_API} API or network error, {EXIT_TIMEOUT} timed out waiting,
{EXIT_INTERRUPTED} interrupted (run the same command again to resume).
"""

app = typer.Typer(help=HELP, no_args_is_help=True, rich_markup_mode="rich", pretty_exceptions_enable=False,
                  context_settings={"help_option_names": ["-h", "--help"]})
webhooks_app = typer.Typer(help="Outbound webhook endpoints, their deliveries, and replays.", no_args_is_help=True)
app.add_typer(webhooks_app, name="webhooks")

# Piped into a file or a pager, tables are drawn 120 wide rather than Rich's 80 (ids never wrap).
out = Console(width=None if sys.stdout.isatty() else 120)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 120)


class State:
    profile: str | None = None
    debug: bool = False


STATE = State()


def examples(*lines: str) -> str:
    """An epilog listing examples, one per line (Rich keeps a paragraph per blank line)."""
    return "[b]Examples[/b]\n\n" + "\n\n".join(f"  [cyan]{line}[/cyan]" for line in lines)


NO_WRAP = {"id", "delivery", "media"}
MIN_WIDTH = {"status": 10, "event": 16, "attempts": 8, "name": 10, "file": 16, "url": 16, "details": 24, "renditions": 16, "note": 12}


def new_table(*columns: str, **options) -> Table:
    """A table whose id, status and time columns never wrap (ids are copied from it)."""
    table = Table(**options)
    for column in columns:
        table.add_column(column, no_wrap=column in NO_WRAP, min_width=MIN_WIDTH.get(column))
    return table


def emit_json(value) -> None:
    """One JSON document per line on stdout (every --json output is JSON lines)."""
    sys.stdout.write(json.dumps(value, sort_keys=True) + "\n")
    sys.stdout.flush()


def fail(message: str, code: int) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(code)


def exit_code_for(error: ApiError) -> int:
    if error.status in (401, 403):
        return EXIT_AUTH
    if error.status in (404, 410):
        return EXIT_NOT_FOUND
    return EXIT_API


def handled(func):
    """Errors in words with the API's code; a traceback only with --debug."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except (typer.Exit, typer.Abort, typer.BadParameter, SystemExit):
            raise
        except KeyboardInterrupt:
            if STATE.debug:
                err.print_exception()
            raise fail("interrupted; run the same command again to resume", EXIT_INTERRUPTED) from None
        except config.ConfigError as error:
            raise fail(str(error), EXIT_AUTH) from None
        except ApiError as error:
            if STATE.debug:
                err.print_exception()
            hint = " (check the key: `media-pipeline login`)" if error.status == 401 else ""
            raise fail(f"{error}{hint}", exit_code_for(error)) from None
        except httpx.TransportError as error:  # a stream opened outside Api.request
            if STATE.debug:
                err.print_exception()
            raise fail(f"network error: {error or type(error).__name__} (code network_error)", EXIT_API) from None
        except OSError as error:
            if STATE.debug:
                err.print_exception()
            raise fail(str(error), EXIT_FAILED) from None
        except Exception as error:  # a bug: say so briefly
            if STATE.debug:
                err.print_exception()
            raise fail(f"unexpected {type(error).__name__}: {error} (run with --debug for the traceback)",
                       EXIT_FAILED) from None

    return wrapper


def connect(timeout: float = 60.0) -> Api:
    return Api(config.resolve(STATE.profile), timeout=timeout)


def version_callback(value: bool) -> None:
    if value:
        out.print(f"media-pipeline {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    profile: Annotated[Optional[str], typer.Option("--profile", "-p", envvar="MEDIA_PIPELINE_PROFILE",
                                                   help="The saved profile to use (default: the last one logged in).")] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
    version: Annotated[Optional[bool], typer.Option("--version", callback=version_callback, is_eager=True,
                                                    help="Print the version.")] = None,
) -> None:
    STATE.profile, STATE.debug = profile, debug


# -- login -------------------------------------------------------------------------------------------
@app.command(epilog=examples("media-pipeline login --url http://127.0.0.1:8787 --api-key local-dev-key",
                             "media-pipeline --profile prod login --url https://media.example.com",
                             "MEDIA_PIPELINE_URL=... MEDIA_PIPELINE_API_KEY=... media-pipeline ls   (no login needed)"))
@handled
def login(
    url: Annotated[Optional[str], typer.Option(help="The API's base URL.")] = None,
    api_key: Annotated[Optional[str], typer.Option(help="The API key (asked for, hidden, if left out).")] = None,
    signing_secret: Annotated[Optional[str], typer.Option(
        help="The deployment's URL_SIGNING_SECRET, if you operate it: `url --expires` can then sign links of any "
             "length (up to 7 days) itself.")] = None,
    verify: Annotated[bool, typer.Option(help="Check the key against the API before saving.")] = True,
) -> None:
    """Save a profile (API URL and key) in a file only you can read (0600)."""
    name = STATE.profile or config.DEFAULT_PROFILE
    url = url or typer.prompt("API URL", default="http://127.0.0.1:8787")
    api_key = api_key or typer.prompt("API key", hide_input=True)
    url = url.rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise fail(f"{url!r} is not an http(s) URL", EXIT_USAGE)
    if verify:
        with Api(config.Profile(name, url, api_key)) as api:
            api.stats()  # needs the key: a 401 here is "key refused"
    path = config.save_profile(name, url, api_key, signing_secret)
    err.print(f"saved profile [b]{name}[/b] ({url}) in {path}", highlight=False)


@app.command(epilog=examples("media-pipeline logout", "media-pipeline --profile prod logout"))
@handled
def logout() -> None:
    """Forget a saved profile (the default one, or --profile NAME)."""
    data = config.load_file()
    name = STATE.profile or data.get("default") or config.DEFAULT_PROFILE
    if not config.remove_profile(name):
        raise fail(f"no profile named {name!r}", EXIT_NOT_FOUND)
    err.print(f"removed profile [b]{name}[/b] from {config.config_path()}", highlight=False)


# -- upload ------------------------------------------------------------------------------------------
def _wait_records(api: Api, ids: list[str], names: dict[str, str], timeout: float, show: bool,
                  interval: float = 1.0) -> tuple[dict[str, dict], bool]:
    """Poll each item until final: (last record per id, whether all became final)."""
    records: dict[str, dict] = {}
    pending = list(dict.fromkeys(ids))
    deadline = time.monotonic() + timeout if timeout > 0 else None
    columns = [TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total} renditions"),
               TextColumn("{task.fields[status]}")]
    live = show and err.is_terminal
    said: dict[str, tuple] = {}  # off a terminal (CI logs), one line per change instead of bars
    with Progress(*columns, console=err, disable=not live, transient=False) as progress:
        tasks = {i: progress.add_task(names.get(i, i), total=None, status="…") for i in pending}
        while pending:
            for media_id in list(pending):
                record = api.media(media_id)
                records[media_id] = record
                renditions = record.get("renditions") or []
                done = sum(1 for r in renditions if r.get("status") in FINAL)
                status = record.get("status")
                colour = {"completed": "green", "failed": "red"}.get(status, "yellow")
                progress.update(tasks[media_id], total=max(len(renditions), 1) if renditions else None,
                                completed=done, status=f"[{colour}]{status}[/{colour}]")
                if show and not live and said.get(media_id) != (status, done, len(renditions)):
                    said[media_id] = (status, done, len(renditions))
                    err.print(f"{names.get(media_id, media_id)} ({media_id}): {status}, "
                              f"{done}/{len(renditions)} renditions final", highlight=False)
                if status in FINAL:
                    pending.remove(media_id)
            if not pending:
                break
            if deadline is not None and time.monotonic() >= deadline:
                return records, False
            time.sleep(interval)
    return records, True


def _rendition_summary(record: dict) -> dict[str, str]:
    return {r["name"]: r.get("status") for r in record.get("renditions") or []}


@app.command(epilog=examples("media-pipeline upload ./videos --wait",
                             "media-pipeline upload film.mp4 -m project=x -m owner=ann",
                             "media-pipeline upload ./shoot -r -c 4 --json > uploaded.jsonl",
                             "media-pipeline upload ./videos   (again after Ctrl-C: resumes where it stopped)"))
@handled
def upload(
    paths: Annotated[list[Path], typer.Argument(help="Files, or folders (their files; -r for subfolders too).")],
    recursive: Annotated[bool, typer.Option("--recursive", "-r", help="Descend into subfolders.")] = False,
    concurrency: Annotated[int, typer.Option("--concurrency", "-c", min=1, max=16, help="Files at once.")] = 3,
    metadata: Annotated[Optional[list[str]], typer.Option(
        "--metadata", "-m", help="key=value kept with every item (repeat for more).")] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Then show rendition progress until every item is final.")] = False,
    timeout: Annotated[str, typer.Option(help="With --wait: give up after this long (0: never).")] = "1h",
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines on stdout, one per file.")] = False,
    chunk_mib: Annotated[int, typer.Option("--chunk-size", min=1, max=95,
                                           help="MiB per request (under the platform's 100 MiB limit).")] = 50,
    fresh: Annotated[bool, typer.Option("--fresh", help="Ignore the record of earlier runs: upload everything anew.")] = False,
) -> None:
    """Upload files through tus (resumable): a bar per file and a total, then a summary.

    A run stopped by Ctrl-C, a crash or a lost connection resumes each file where it stopped when run
    again (the upload URLs are recorded in $XDG_STATE_HOME/media-pipeline/uploads.json by path, size and
    modification time); files finished before are not sent twice.
    """
    try:
        meta = parse_metadata(metadata or [])
        wait_seconds = parse_duration(timeout)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
    files = collect_files(paths, recursive)
    if not files:
        raise fail("no files to upload", EXIT_USAGE)
    record = tus.UploadRecord()
    results: dict[Path, tus.UploadResult] = {}
    cancel = threading.Event()
    interrupted = False
    total_size = sum(f.stat().st_size for f in files)
    columns = [TextColumn("{task.description}", justify="left"), BarColumn(), TaskProgressColumn(),
               DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn()]
    api = connect()
    try:
        with Progress(*columns, console=err, disable=not err.is_terminal) as progress:
            total_task = progress.add_task(f"[b]total ({len(files)} files)", total=total_size)
            offsets: dict[Path, int] = {}
            lock = threading.Lock()

            def run(file: Path) -> tus.UploadResult:
                task = progress.add_task(file.name[:40], total=file.stat().st_size)

                def on_progress(offset: int) -> None:
                    if cancel.is_set():
                        raise KeyboardInterrupt
                    with lock:
                        offsets[file] = offset
                        progress.update(total_task, completed=sum(offsets.values()))
                    progress.update(task, completed=offset)

                try:
                    result = tus.upload_file(api, file, metadata=meta, record=record,
                                             chunk_size=chunk_mib * 1024 * 1024, fresh=fresh, on_progress=on_progress)
                except (ApiError, OSError) as error:
                    if isinstance(error, OSError):  # the file went away or became unreadable mid-run
                        error = ApiError(0, "file_error", str(error))
                    if not err.is_terminal:
                        err.print(f"failed {file}: {error}", highlight=False)
                    return tus.UploadResult(path=file, size=file.stat().st_size, error=error)
                else:
                    if not err.is_terminal:  # CI logs: a line per file rather than bars
                        err.print(f"uploaded {file} ({human_size(file.stat().st_size)}) -> {result.media_id}",
                                  highlight=False)
                    return result
                finally:
                    progress.update(task, visible=len(files) <= 20)  # keep the screen for big folders

            with ThreadPoolExecutor(max_workers=concurrency) as pool:
                futures = {pool.submit(run, f): f for f in files}
                try:
                    pending = set(futures)
                    while pending:
                        finished, pending = wait_futures(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                        for future in finished:
                            results[futures[future]] = future.result()
                except KeyboardInterrupt:
                    cancel.set()  # each upload stops at its next block; the record keeps its URL
                    pool.shutdown(wait=True, cancel_futures=True)
                    interrupted = True
        if interrupted:  # said once the bars are drawn for the last time
            unfinished = len(files) - sum(1 for r in results.values() if r.media_id)
            raise fail(f"interrupted: {unfinished} file(s) unfinished; run the same command again to resume",
                       EXIT_INTERRUPTED)
        ordered = [results[f] for f in files]
        ids = [r.media_id for r in ordered if r.media_id]
        records: dict[str, dict] = {}
        all_final = True
        if wait and ids:
            names = {r.media_id: r.path.name for r in ordered if r.media_id}
            records, all_final = _wait_records(api, ids, names, wait_seconds, show=True)
    finally:
        api.close()

    rows = []
    for r in ordered:
        row = {"path": str(r.path), "name": r.path.name, "size": r.size, "id": r.media_id,
               "resumed_from": r.resumed_from, "earlier": r.earlier, "error": None}
        if r.error:
            row["status"] = "failed"
            row["error"] = {"code": r.error.code, "message": r.error.message, "http_status": r.error.status}
        elif wait and r.media_id in records:
            rec = records[r.media_id]
            row["status"] = rec.get("status")
            row["renditions"] = _rendition_summary(rec)
            if rec.get("error"):
                row["error"] = {"code": "media_failed", "message": rec["error"], "http_status": None}
        else:
            row["status"] = "queued"
        rows.append(row)
    if as_json:
        for row in rows:
            emit_json(row)
    else:
        table = new_table("file", "id", "status", "size", "renditions" if wait else "note",
                          title=f"{len(rows)} file(s)")
        for row in rows:
            colour = {"completed": "green", "failed": "red"}.get(row["status"], "yellow")
            if wait and row.get("renditions"):
                note = ", ".join(f"{k} {v}" for k, v in row["renditions"].items())
                if row["error"]:
                    note += f" ({row['error']['message']})"
            elif row["error"]:
                note = f"{row['error']['message']} ({row['error']['code']})"
            elif row["earlier"]:
                note = "uploaded by an earlier run"
            elif row["resumed_from"]:
                note = f"resumed at {human_size(row['resumed_from'])}"
            else:
                note = ""
            table.add_row(row["path"], row["id"] or "-", f"[{colour}]{row['status']}[/{colour}]",
                          human_size(row["size"]), note)
        out.print(table)
    if any(row["status"] == "failed" for row in rows):
        raise typer.Exit(EXIT_FAILED)
    if not all_final:
        raise fail("timed out waiting for renditions (items still processing: see `media-pipeline wait`)", EXIT_TIMEOUT)


# -- ls, get, wait, events, rm, stats -----------------------------------------------------------------
STATUS_COLOURS = {"completed": "green", "delivered": "green", "failed": "red", "processing": "yellow",
                  "pending": "yellow"}


def _short_time(value: str | None) -> str:
    """2026-12-01T14:02:55.123Z -> 2026-12-01 14:02:55 (UTC, as the API gives it)."""
    return value[:19].replace("T", " ") if value else "-"


def _coloured(status: str | None) -> str:
    colour = STATUS_COLOURS.get(status or "", "white")
    return f"[{colour}]{status}[/{colour}]"


@app.command("ls", epilog=examples("media-pipeline ls", "media-pipeline ls --status failed --limit 100",
                                   "media-pipeline ls --kind video --json | jq -r .id"))
@handled
def list_media(
    status: Annotated[Optional[str], typer.Option(help="pending, processing, completed or failed.")] = None,
    kind: Annotated[Optional[str], typer.Option(help="image, video or audio (filtered here: the API lists all).")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10000, help="At most this many items.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines, one item per line.")] = False,
) -> None:
    """List media items, newest first."""
    with connect() as api:
        page_size = 100 if kind else min(limit, 100)
        items = []
        for item in api.pages("/api/media", {"status": status, "limit": page_size}):
            if kind and item.get("kind") != kind:
                continue
            items.append(item)
            if len(items) >= limit:
                break
    if as_json:
        for item in items:
            emit_json(item)
        return
    table = new_table("id", "name", "kind", "status", "size", "created")
    for item in items:
        table.add_row(item["id"], item.get("name") or "-", item.get("kind") or "-", _coloured(item.get("status")),
                      human_size(item.get("size")), _short_time(item.get("created_at")))
    out.print(table)
    if not items:
        err.print("no media items")


def _print_record(record: dict) -> None:
    table = Table(show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column()
    for field in ("id", "name", "kind", "status", "error", "content_type", "size", "width", "height",
                  "orientation", "duration", "fps", "codec", "source", "created_at", "updated_at"):
        value = record.get(field)
        if value is None:
            continue
        if field == "status":
            value = _coloured(value)
        elif field == "size":
            value = f"{human_size(value)} ({value} bytes)"
        table.add_row(field, str(value))
    for key, value in (record.get("metadata") or {}).items():
        table.add_row(f"metadata.{key}", str(value))
    hls = (record.get("playback") or {}).get("hls")
    if hls:
        table.add_row("playback.hls", hls)
    out.print(table)
    renditions = record.get("renditions") or []
    if renditions:
        r_table = new_table("name", "status", "type", "size", "width×height", "duration", "error", title="renditions")
        for r in renditions:
            dims = f"{r['width']}×{r['height']}" if r.get("width") and r.get("height") else "-"
            r_table.add_row(r["name"], _coloured(r.get("status")), r.get("content_type") or "-",
                            human_size(r.get("size")), dims,
                            f"{r['duration']:.2f} s" if r.get("duration") is not None else "-", r.get("error") or "")
        out.print(r_table)


@app.command(epilog=examples("media-pipeline get 01jd8x3k2q9m4n5p6r7s8t9v0w",
                             "media-pipeline get 01jd8x3k2q9m4n5p6r7s8t9v0w --json | jq .renditions"))
@handled
def get(media_id: Annotated[str, typer.Argument(metavar="ID")],
        as_json: Annotated[bool, typer.Option("--json", help="The record as JSON.")] = False) -> None:
    """Show one media item with its renditions."""
    with connect() as api:
        record = api.media(media_id)
    if as_json:
        emit_json(record)
    else:
        _print_record(record)


@app.command("wait", epilog=examples("media-pipeline wait 01jd8x3k2q9m4n5p6r7s8t9v0w",
                                     "media-pipeline ls --status processing --json | jq -r .id | "
                                     "xargs media-pipeline wait --timeout 30m"))
@handled
def wait_cmd(
    ids: Annotated[list[str], typer.Argument(metavar="ID...", help="Media ids.")],
    timeout: Annotated[str, typer.Option(help="Give up after this long (0: never).")] = "1h",
    interval: Annotated[float, typer.Option(min=0.2, help="Seconds between checks.")] = 1.0,
    as_json: Annotated[bool, typer.Option("--json", help="The final records, JSON lines.")] = False,
) -> None:
    """Wait until every item is completed or failed (exit 1 if any failed, 6 on timeout)."""
    try:
        seconds = parse_duration(timeout)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
    with connect() as api:
        records, all_final = _wait_records(api, ids, {}, seconds, show=not as_json, interval=interval)
    rows = [records[i] for i in dict.fromkeys(ids) if i in records]
    if as_json:
        for record in rows:
            emit_json(record)
    else:
        table = new_table("id", "name", "status", "renditions")
        for record in rows:
            table.add_row(record["id"], record.get("name") or "-", _coloured(record.get("status")),
                          ", ".join(f"{k} {v}" for k, v in _rendition_summary(record).items()))
        out.print(table)
    if not all_final:
        raise fail("timed out: some items are not final yet", EXIT_TIMEOUT)
    if any(r.get("status") == "failed" for r in rows):
        raise typer.Exit(EXIT_FAILED)


def _event_summary(event: dict) -> str:
    data = event.get("data") or {}
    if event.get("public"):
        parts = [f"status={data.get('status')}"]
        rendition = data.get("rendition")
        if isinstance(rendition, dict):
            parts.insert(0, f"rendition={rendition.get('name')} ({rendition.get('status')})")
        if data.get("error"):
            parts.append(f"error={data['error']}")
        return " ".join(parts)
    return " ".join(f"{k}={v}" for k, v in data.items() if isinstance(v, (str, int, float, bool)))[:160]


@app.command(epilog=examples("media-pipeline events 01jd8x3k2q9m4n5p6r7s8t9v0w",
                             "media-pipeline events 01jd8x3k2q9m4n5p6r7s8t9v0w --json | jq -r .type"))
@handled
def events(media_id: Annotated[str, typer.Argument(metavar="ID")],
           as_json: Annotated[bool, typer.Option("--json", help="JSON lines, one event per line.")] = False) -> None:
    """An item's timeline, oldest first (kept after a delete)."""
    with connect() as api:
        items = list(api.pages(f"/api/media/{media_id}/events", {"limit": 100}))
    if as_json:
        for item in items:
            emit_json(item)
        return
    table = new_table("time", "type", "details", title=f"timeline of {media_id}")
    for item in items:
        kind = f"[b]{item['type']}[/b]" if item.get("public") else item["type"]
        table.add_row(item.get("timestamp") or "-", kind, _event_summary(item))
    out.print(table)


@app.command(epilog=examples("media-pipeline rm 01jd8x3k2q9m4n5p6r7s8t9v0w",
                             "media-pipeline ls --status failed --json | jq -r .id | xargs media-pipeline rm --yes"))
@handled
def rm(ids: Annotated[list[str], typer.Argument(metavar="ID...")],
       yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask (needed when not at a terminal).")] = False,
       as_json: Annotated[bool, typer.Option("--json", help="JSON lines, one per id.")] = False) -> None:
    """Delete media items: the original, every rendition, the records."""
    if not yes:
        if not sys.stdin.isatty():
            raise fail("refusing to delete without --yes when not at a terminal", EXIT_USAGE)
        if not typer.confirm(f"Delete {len(ids)} item(s) and all their files?"):
            raise typer.Exit(EXIT_FAILED)
    worst = EXIT_OK
    with connect() as api:
        for media_id in dict.fromkeys(ids):
            try:
                answer = api.delete_media(media_id)
                row = {"id": media_id, "deleted": True, "objects_deleted": answer.get("objects_deleted"), "error": None}
            except ApiError as error:
                if error.status in (401, 403) or error.status == 0:
                    raise
                worst = max(worst, exit_code_for(error))
                row = {"id": media_id, "deleted": False, "objects_deleted": 0,
                       "error": {"code": error.code, "message": error.message, "http_status": error.status}}
            if as_json:
                emit_json(row)
            elif row["deleted"]:
                out.print(f"deleted {media_id} ({row['objects_deleted']} files)", highlight=False)
            else:
                err.print(f"[red]error:[/red] {media_id}: {row['error']['message']} ({row['error']['code']})",
                          highlight=False)
    if worst:
        raise typer.Exit(worst)


@app.command(epilog=examples("media-pipeline stats", "media-pipeline stats --json | jq .failed"))
@handled
def stats(as_json: Annotated[bool, typer.Option("--json", help="The counts as JSON.")] = False) -> None:
    """Counts of media items by status."""
    with connect() as api:
        counts = api.stats()
    if as_json:
        emit_json(counts)
        return
    table = new_table("total", "pending", "processing", "completed", "failed")
    table.add_row(*(str(counts.get(c, 0)) for c in ("total", "pending", "processing", "completed", "failed")))
    out.print(table)


# -- url, download ---------------------------------------------------------------------------------------
def _target(record: dict, rendition: str | None) -> tuple[str, str | None, dict]:
    """(unsigned URL, signed URL, the rendition or the record) of the original or a rendition."""
    if rendition is None:
        if not record.get("url"):
            raise fail(f"{record['id']} has no stored original", EXIT_NOT_FOUND)
        return record["url"], record.get("signed_url"), record
    by_name = {r["name"]: r for r in record.get("renditions") or []}
    chosen = by_name.get(rendition)
    if chosen is None:
        known = ", ".join(by_name) or "none yet"
        raise fail(f"{record['id']} has no rendition {rendition!r} (renditions: {known})", EXIT_NOT_FOUND)
    if chosen.get("status") != "completed" or not chosen.get("url"):
        raise fail(f"rendition {rendition!r} of {record['id']} is {chosen.get('status')}, not completed"
                   f"{': ' + chosen['error'] if chosen.get('error') else ''}", EXIT_NOT_FOUND)
    return chosen["url"], chosen.get("signed_url"), chosen


@app.command(epilog=examples("media-pipeline url 01jd8x3k2q9m4n5p6r7s8t9v0w --rendition web",
                             "media-pipeline url 01jd8x3k2q9m4n5p6r7s8t9v0w --expires 10m",
                             "media-pipeline url 01jd8x3k2q9m4n5p6r7s8t9v0w --hls | xargs ffplay"))
@handled
def url(
    media_id: Annotated[str, typer.Argument(metavar="ID")],
    rendition: Annotated[Optional[str], typer.Option("--rendition", "-r", help="A rendition's name (web, mobile, ...); "
                                                     "default: the original.")] = None,
    expires: Annotated[Optional[str], typer.Option(
        help="How long the link must stay valid (15m, 1h, up to 7d): the API signs it for that long "
             "(GET /api/media/{id}?expires_in=); default the API's SIGNED_URL_TTL.")] = None,
    hls: Annotated[bool, typer.Option("--hls", help="The HLS playback URL (playback.hls) instead.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="{url, expires_at} as JSON.")] = False,
) -> None:
    """Print a signed link to an item's original, a rendition, or its HLS playback."""
    try:
        wanted = parse_duration(expires) if expires else None
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
    if wanted is not None and not 0 < wanted <= MAX_LINK_SECONDS:
        raise typer.BadParameter("--expires must be between 1 s and 7 days")
    api_conn = connect()
    with api_conn as api:
        secret = api.profile.signing_secret
        # The API signs links for as long as asked (expires_in), unless the profile signs them itself.
        record = api.media(media_id, None if secret or hls else wanted)
    if hls:
        link = (record.get("playback") or {}).get("hls")
        if not link:
            why = ("the item is not a video" if record.get("kind") not in (None, "video") else
                   f"the item is {record.get('status')}" if record.get("status") != "completed" else
                   "this API gives no playback.hls (no HLS ladder for this item)")
            raise fail(f"{media_id} has no HLS playback: {why}", EXIT_NOT_FOUND)
    else:
        unsigned, signed, _ = _target(record, rendition)
        if wanted is not None and secret:
            link = sign_url(unsigned, secret, int(time.time()) + wanted)
        else:
            if not signed:
                raise fail("the API gives no signed links (its URL_SIGNING_SECRET is not set)", EXIT_API)
            link = signed
            if wanted is not None:
                left = (url_expiry(signed) or 0) - int(time.time())
                if left < wanted:
                    raise fail(f"the API signed the link for {left} s, shorter than --expires {expires} (an API"
                               " without expires_in?): ask for less, or log in with --signing-secret", EXIT_FAILED)
    expiry = url_expiry(link)
    if as_json:
        emit_json({"id": media_id, "rendition": rendition, "hls": hls, "url": link,
                   "expires_at": datetime.fromtimestamp(expiry, timezone.utc).isoformat().replace("+00:00", "Z")
                   if expiry else None})
    else:
        sys.stdout.write(link + "\n")


def _default_name(record: dict, rendition: str | None, chosen: dict) -> str:
    name = Path(record.get("name") or record["id"]).name
    if rendition is None:
        return name
    ext = Path(chosen.get("output_key") or "").suffix
    return f"{Path(name).stem}.{rendition}{ext}"


@app.command(epilog=examples("media-pipeline download 01jd8x3k2q9m4n5p6r7s8t9v0w",
                             "media-pipeline download 01jd8x3k2q9m4n5p6r7s8t9v0w --rendition web -o web.mp4",
                             "media-pipeline download 01jd8x3k2q9m4n5p6r7s8t9v0w -o downloads/   "
                             "(again after Ctrl-C: resumes)"))
@handled
def download(
    media_id: Annotated[str, typer.Argument(metavar="ID")],
    rendition: Annotated[Optional[str], typer.Option("--rendition", "-r", help="A rendition's name; default: the original.")] = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="File or folder (default: the item's name here).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="What was written, as JSON.")] = False,
) -> None:
    """Download the original or a rendition, streamed with a bar; an interrupted download resumes (Range)."""
    with connect(timeout=600.0) as api:
        record = api.media(media_id)
        unsigned, _, chosen = _target(record, rendition)
        name = _default_name(record, rendition, chosen)
        target = output or Path(name)
        if target.is_dir():
            target = target / name
        part = target.with_name(target.name + ".part")
        sidecar = target.with_name(target.name + ".part.json")
        have = part.stat().st_size if part.exists() else 0
        validator = None
        if have:
            try:
                side = json.loads(sidecar.read_text())
                validator = side.get("etag") if side.get("url") == unsigned else None
            except (FileNotFoundError, ValueError):
                validator = None
        headers = {}
        if have and validator:
            headers = {"Range": f"bytes={have}-", "If-Range": validator}
        else:
            have = 0
        with api.http.stream("GET", unsigned, headers=headers) as response:
            if response.status_code == 416:  # the part is already whole
                response.read()
                length = int(response.headers.get("content-range", "*/0").rpartition("/")[2] or 0)
                if length != have:
                    part.unlink(missing_ok=True)
                    sidecar.unlink(missing_ok=True)
                    raise fail("the partial download does not match the file any more; run again", EXIT_FAILED)
                total, received, resumed_from = have, 0, have
            elif response.status_code >= 400:
                response.read()
                raise error_from(response)
            else:
                if response.status_code == 206:
                    resumed_from = have
                    total = int(response.headers["content-range"].rpartition("/")[2])
                    mode = "ab"
                else:
                    resumed_from = 0
                    total = int(response.headers.get("content-length", "0")) or None
                    mode = "wb"
                target.parent.mkdir(parents=True, exist_ok=True)
                sidecar.write_text(json.dumps({"url": unsigned, "etag": response.headers.get("etag")}))
                received = 0
                columns = [TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                           TimeRemainingColumn()]
                with Progress(*columns, console=err, disable=not err.is_terminal) as progress:
                    task = progress.add_task(target.name[:40], total=total, completed=resumed_from)
                    with part.open(mode) as handle:
                        try:
                            for block in response.iter_bytes(1024 * 1024):
                                handle.write(block)
                                received += len(block)
                                progress.update(task, completed=resumed_from + received)
                        except httpx.TransportError as error:
                            handle.flush()
                            raise ApiError(0, "network_error",
                                           f"download interrupted at {human_size(resumed_from + received)} "
                                           f"({error or type(error).__name__}); run the same command again to "
                                           "resume") from error
                if total is not None and part.stat().st_size != total:
                    raise fail(f"download incomplete ({part.stat().st_size} of {total} bytes); run again to resume",
                               EXIT_API)
    part.replace(target)
    sidecar.unlink(missing_ok=True)
    size = target.stat().st_size
    if as_json:
        emit_json({"id": media_id, "rendition": rendition, "path": str(target), "size": size,
                   "resumed_from": resumed_from, "bytes_received": received})
    else:
        note = f" (resumed at {human_size(resumed_from)})" if resumed_from else ""
        err.print(f"saved {target} ({human_size(size)}){note}", highlight=False)


# -- webhooks ------------------------------------------------------------------------------------------
@webhooks_app.command("add", epilog=examples(
    "media-pipeline webhooks add https://example.com/hooks",
    "media-pipeline webhooks add https://example.com/hooks -e media.ready -e media.failed -d 'CI'"))
@handled
def webhooks_add(
    endpoint_url: Annotated[str, typer.Argument(metavar="URL", help="https (plain http only for the API's "
                                                "WEBHOOK_INSECURE_HOSTS).")],
    event: Annotated[Optional[list[str]], typer.Option("--event", "-e", help="An event type (repeat); default: all.")] = None,
    description: Annotated[str, typer.Option("--description", "-d")] = "",
    as_json: Annotated[bool, typer.Option("--json", help="The endpoint, with its secret, as JSON.")] = False,
) -> None:
    """Register an endpoint; prints its signing secret (shown only this once)."""
    with connect() as api:
        endpoint = api.json("POST", "/api/webhooks",
                            json={"url": endpoint_url, "events": event or ["*"], "description": description})
    if as_json:
        emit_json(endpoint)
        return
    out.print(f"endpoint [b]{endpoint['id']}[/b] → {endpoint['url']} ({', '.join(endpoint['events'])})", highlight=False)
    out.print(f"signing secret: {endpoint['secret']}", highlight=False)
    err.print("keep the secret now: the API never shows it again (rotate it to get a new one)")


@webhooks_app.command("ls", epilog=examples("media-pipeline webhooks ls", "media-pipeline webhooks ls --json"))
@handled
def webhooks_ls(as_json: Annotated[bool, typer.Option("--json", help="JSON lines, one endpoint per line.")] = False) -> None:
    """List webhook endpoints (never their secrets)."""
    with connect() as api:
        items = api.json("GET", "/api/webhooks").get("items", [])
    if as_json:
        for item in items:
            emit_json(item)
        return
    table = new_table("id", "url", "events", "enabled", "description")
    for item in items:
        enabled = "yes" if item.get("enabled") else f"[red]no[/red] {item.get('disabled_reason') or ''}"
        table.add_row(item["id"], item["url"], ", ".join(item.get("events", [])), enabled, item.get("description") or "")
    out.print(table)


@webhooks_app.command("rm", epilog=examples("media-pipeline webhooks rm ep_abcdefghijklmnopqrstuvwx"))
@handled
def webhooks_rm(ids: Annotated[list[str], typer.Argument(metavar="ENDPOINT_ID...")],
                as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Delete endpoints and their delivery history."""
    with connect() as api:
        for endpoint_id in dict.fromkeys(ids):
            answer = api.json("DELETE", f"/api/webhooks/{endpoint_id}")
            if as_json:
                emit_json(answer)
            else:
                out.print(f"deleted {endpoint_id}", highlight=False)


@webhooks_app.command("deliveries", epilog=examples(
    "media-pipeline webhooks deliveries ep_abcdefghijklmnopqrstuvwx",
    "media-pipeline webhooks deliveries ep_abcdefghijklmnopqrstuvwx --status failed --json"))
@handled
def webhooks_deliveries(
    endpoint_id: Annotated[str, typer.Argument(metavar="ENDPOINT_ID")],
    status: Annotated[Optional[str], typer.Option(help="pending, delivered or failed.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10000)] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines, one delivery per line.")] = False,
) -> None:
    """An endpoint's deliveries, newest first, with their attempts."""
    with connect() as api:
        items = list(api.pages(f"/api/webhooks/{endpoint_id}/deliveries", {"status": status}, limit=limit))
    if as_json:
        for item in items:
            emit_json(item)
        return
    table = new_table("delivery", "event", "media", "status", "attempts", "last answer", "created")
    for item in items:
        last = str(item.get("last_status") or item.get("last_error") or "-")
        table.add_row(item["id"], item.get("event_type") or "-", item.get("media_id") or "-",
                      _coloured(item["status"]),
                      str(item.get("attempts", 0)), last[:40], _short_time(item.get("created_at")))
    out.print(table)


@webhooks_app.command("replay", epilog=examples(
    "media-pipeline webhooks replay ep_abcdefghijklmnopqrstuvwx dl_...   (one delivery)",
    "media-pipeline webhooks replay ep_abcdefghijklmnopqrstuvwx --since 2h   (every failed one of the last 2 h)"))
@handled
def webhooks_replay(
    endpoint_id: Annotated[str, typer.Argument(metavar="ENDPOINT_ID")],
    delivery_id: Annotated[Optional[str], typer.Argument(metavar="[DELIVERY_ID]")] = None,
    since: Annotated[Optional[str], typer.Option(help="Every failed delivery since this time (ISO 8601) or this "
                                                 "long ago (2h).")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Deliver again: one delivery (same event id), or every failed one since a time."""
    if (delivery_id is None) == (since is None):
        raise typer.BadParameter("give a DELIVERY_ID or --since, not both (nor neither)")
    with connect() as api:
        if delivery_id:
            answer = api.json("POST", f"/api/webhooks/{endpoint_id}/deliveries/{delivery_id}/replay")
        else:
            try:
                when = parse_since(since)
            except ValueError as error:
                raise typer.BadParameter(str(error)) from None
            answer = api.json("POST", f"/api/webhooks/{endpoint_id}/replay", json={"since": when})
    if as_json:
        emit_json(answer)
    elif delivery_id:
        out.print(f"replaying {delivery_id}", highlight=False)
    else:
        out.print(f"replaying {answer.get('replayed', 0)} failed deliveries since {answer.get('since')}", highlight=False)


def main() -> None:
    app(prog_name="media-pipeline")
