"""Job processing: download, transcode, probe and report, with at most ``config.workers`` ffmpeg at once.

A job holds an ffmpeg slot only while ffmpeg runs. Its download and probes run on a
pool twice that size, so the next jobs' inputs are fetched and probed while ffmpeg
works, as a real transcoding service prepares inputs apart from its encoders: a slow
download never leaves an encoder idle.
"""

import dataclasses
import heapq
import itertools
import logging
import os
import shutil
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from emulator import heif, hls, joblog, transcode
from emulator.config import Config
from emulator.counters import Counters
from emulator.download import download, resolve_input_url
from emulator.faults import Faults
from emulator.jobs import JobStore
from emulator.probing import Prober, Task, display_size, rotation_of
from emulator.reasons import public_reason
from emulator.transcode import TranscodeError
from emulator.webhooks import Dispatcher

__all__ = ["Processor"]

log = logging.getLogger("emulator")


class FairSlots:
    """``count`` ffmpeg slots handed out in the order jobs were submitted, as a transcoding
    service works through its queue: a job whose input is ready waits only for jobs
    submitted before it that are ready too (a plain semaphore wakes its waiters in any order,
    so a thumbnail submitted first could wait behind two 1080p encodes submitted after it)."""

    def __init__(self, count: int):
        self._free = count
        self._waiting: list[int] = []  # a heap of submission numbers
        self._changed = threading.Condition()

    def acquire(self, order: int, stopping: threading.Event) -> bool:
        """Block until this job may run ffmpeg; False if the emulator stops first."""
        with self._changed:
            heapq.heappush(self._waiting, order)
            while not (self._free and self._waiting[0] == order):
                if stopping.is_set():
                    self._waiting.remove(order)
                    heapq.heapify(self._waiting)
                    self._changed.notify_all()
                    return False
                self._changed.wait(0.2)
            heapq.heappop(self._waiting)
            self._free -= 1
            self._changed.notify_all()  # the next in line may take another free slot
            return True

    def release(self) -> None:
        with self._changed:
            self._free += 1
            self._changed.notify_all()


class Processor:
    """Runs each job once: ``2 * config.workers`` threads, ``config.workers`` ffmpeg slots."""

    def __init__(self, config: Config, store: JobStore, faults: Faults, counters: Counters,
                 dispatcher: Dispatcher, public_url):
        self._config = config
        self._store = store
        self._faults = faults
        self._counters = counters
        self._dispatcher = dispatcher
        self._public_url = public_url  # callable: the base URL once the port is known
        slots = max(1, config.workers)
        self._pool = ThreadPoolExecutor(max_workers=2 * slots, thread_name_prefix="job")
        self._ffmpeg_slots = FairSlots(slots)
        self._order: dict[str, int] = {}  # job id -> submission number, for FairSlots
        self._submitted = itertools.count()
        self._running: set[subprocess.Popen] = set()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._prober = Prober(config, joblog.task_step)

    @property
    def probe_timeout_s(self) -> float:
        """The longest a probe can take (a HEIF download, its decoding and ffprobe)."""
        return self._config.download_timeout_s + self._config.ffmpeg_timeout_s + self._prober.timeout_s

    @property
    def files_dir(self) -> str:
        return os.path.join(self._config.data_dir, "files")

    def submit(self, job_id: str) -> None:
        self._order[job_id] = next(self._submitted)
        self._pool.submit(self._process_safely, job_id)

    def probe(self, task: Task, delay_ms: int = 0) -> None:
        """Run the probe task to its final state (after ``delay_ms``); never raises."""
        if delay_ms and self._stopping.wait(delay_ms / 1000):
            return
        status, output, error = "completed", None, None
        try:
            forced = task.metadata.get("emulator_fail")
            if forced:
                raise TranscodeError(forced if isinstance(forced, str) else "forced failure (metadata.emulator_fail)")
            if self._faults.roll(self._faults.current.fail_probe_rate):
                raise TranscodeError("injected failure (fail_probe_rate)")
            output = self._prober.run(task)
        except TranscodeError as failure:
            status, error = "failed", str(failure)
        except Exception as failure:  # the emulator must survive any one probe
            log.exception("task %s crashed", task.id)
            status, error = "failed", f"internal error: {type(failure).__name__}: {failure}"
        if error is not None:
            error = public_reason(error, roots=(self._config.data_dir,))
        if self._store.finish_task(task.id, status, error=error, output=output) is None:
            return
        self._counters.probe_final(status)
        if error is not None:
            joblog.task_step(task.id, f"failed: {error}")
        else:
            joblog.task_step(task.id, "completed: " + _describe_output(output))

    def stop(self) -> None:
        """Cancel queued jobs and kill running ffmpeg processes."""
        self._stopping.set()
        with self._lock:
            for process in list(self._running):
                process.kill()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _process_safely(self, job_id: str) -> None:
        try:
            self._process(job_id)
        except TranscodeError as error:
            self._finish(job_id, "failed", error=str(error))
        except Exception as error:  # the emulator must survive any one job
            log.exception("job %s crashed", job_id)
            self._finish(job_id, "failed", error=f"internal error: {type(error).__name__}: {error}")
        finally:
            self._order.pop(job_id, None)
            shutil.rmtree(os.path.join(self._config.data_dir, "inputs", job_id), ignore_errors=True)

    def _process(self, job_id: str) -> None:
        job = self._store.find(job_id)
        if job is None or self._stopping.is_set():
            return
        processing = self._store.transition(job_id, "processing")
        if processing and self._faults.current.processing_webhooks:
            self._notify(processing, "job.processing")
        delay_ms = self._faults.current.processing_delay_ms
        if delay_ms and self._stopping.wait(delay_ms / 1000):
            return
        forced = job.metadata.get("emulator_fail")
        if forced:
            raise TranscodeError(forced if isinstance(forced, str) else "forced failure (metadata.emulator_fail)")
        if self._faults.roll(self._faults.current.fail_job_rate):
            raise TranscodeError("injected failure (fail_job_rate)")

        work_dir = os.path.join(self._config.data_dir, "inputs", job_id)
        os.makedirs(work_dir, exist_ok=True)
        source = os.path.join(work_dir, "input")
        url = resolve_input_url(job.input, self._config.s3_base_url)
        size = download(url, source, self._config.max_input_bytes, self._config.download_timeout_s)
        joblog.step(job_id, f"input fetched: {size} bytes")
        names = {source: "input"}
        brand = heif.heif_brand(heif.read_head(source))
        if brand is not None:
            source = heif.decode_still(source, work_dir, self._config.ffmpeg_timeout_s)
            names[source] = "input"
            joblog.step(job_id, f"decoded by libheif ({brand})")
        probed = transcode.probe(source, roots=(self._config.data_dir,))
        info = transcode.media_info(probed)

        options = job.normalized_options
        fmt = options["format"]
        if job.kind == "adaptive_video":
            # Rungs are sized on the displayed picture: ffmpeg turns a rotated video upright first.
            video = next((s for s in probed.get("streams", []) if s.get("codec_type") == "video"), {})
            width, height = display_size(info.width, info.height, rotation_of(video, []))
            self._make_ladder(job, dataclasses.replace(info, width=width, height=height), source, names)
            return
        name = f"output.{transcode.output_extension(fmt)}"
        out_dir = os.path.join(self.files_dir, job_id)
        os.makedirs(out_dir, exist_ok=True)
        target = os.path.join(out_dir, name)
        argv = transcode.build_command(job.kind, options, info, source, target, transcode.available_encoders())
        self._run_ffmpeg(job_id, argv, f"{job.kind} {fmt}", {**names, target: "output"})
        if not os.path.exists(target) or os.path.getsize(target) == 0:
            raise TranscodeError("ffmpeg produced no output (is options.start inside the input?)")
        url = f"{self._public_url()}/files/{job_id}/{name}"
        summary = transcode.file_summary(transcode.probe(target), job.kind, fmt, url, os.path.getsize(target))
        if self._faults.current.chunked_outputs:
            summary["filesize"] = None
        self._finish(job_id, self._faults.current.status_vocabulary, output_file=summary)

    def _make_ladder(self, job, info, source: str, names: dict) -> None:
        """An HLS ladder (emulator.hls) under files/<job>/, reported as the master's URL."""
        options = job.normalized_options
        ladder = hls.plan_rungs(info, options, self._config.hls_rungs)
        out_dir = os.path.join(self.files_dir, job.id)
        os.makedirs(out_dir, exist_ok=True)
        argv = hls.build_ladder_command(info, options, ladder, source, out_dir, self._config.hls_segment_seconds)
        rungs = " ".join(r.name for r in ladder)
        self._run_ffmpeg(job.id, argv, f"adaptive_video hls {rungs}", {**names, out_dir: "output"})
        codecs = []
        for rung in ladder:
            first = os.path.join(out_dir, rung.name, "segment-0.ts")
            if not os.path.exists(first):
                raise TranscodeError(f"ffmpeg wrote no segment for {rung.name}")
            probed = transcode.probe(first, roots=(self._config.data_dir,))
            video = next((s for s in probed.get("streams", []) if s.get("codec_type") == "video"), None)
            codecs.append(hls.codecs_string(video, info.has_audio))
        text, duration = hls.master_playlist(out_dir, ladder, codecs)
        with open(os.path.join(out_dir, hls.MASTER_NAME), "w", encoding="utf-8") as handle:
            handle.write(text)
        files = hls.ladder_files(out_dir)
        size = sum(os.path.getsize(os.path.join(out_dir, name)) for name in files)
        top = ladder[-1]
        summary = {
            "object": "file", "kind": "adaptive_video", "format": "hls",
            "url": f"{self._public_url()}/files/{job.id}/{hls.MASTER_NAME}",
            "width": top.width, "height": top.height, "duration": round(duration, 3), "filesize": size,
        }
        joblog.step(job.id, f"ladder: {rungs}, {len(files)} files")
        self._finish(job.id, self._faults.current.status_vocabulary, output_file=summary)

    def _run_ffmpeg(self, job_id: str, argv: list[str], what: str, names: dict | None = None) -> None:
        if not self._ffmpeg_slots.acquire(self._order.get(job_id, -1), self._stopping):
            raise TranscodeError("emulator stopping")
        try:
            self._run_ffmpeg_in_slot(job_id, argv, what, names or {})
        finally:
            self._ffmpeg_slots.release()

    def _run_ffmpeg_in_slot(self, job_id: str, argv: list[str], what: str, names: dict) -> None:
        started = time.monotonic()
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        joblog.step(job_id, f"ffmpeg start ({what})")
        with self._lock:
            self._running.add(process)
            self._counters.ffmpeg_running(len(self._running))
        try:
            _, stderr = process.communicate(timeout=self._config.ffmpeg_timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            raise TranscodeError(f"ffmpeg took longer than {self._config.ffmpeg_timeout_s:g} s") from None
        finally:
            with self._lock:
                self._running.discard(process)
            seconds = time.monotonic() - started
            self._counters.ffmpeg(seconds, job_id)
            joblog.step(job_id, f"ffmpeg end: {seconds:.2f} s (exit {process.returncode})")
        if process.returncode != 0:
            why = public_reason(transcode.last_lines(stderr) or f"exit code {process.returncode}", names,
                                (self._config.data_dir,))
            raise TranscodeError(f"ffmpeg failed: {why}")

    def _finish(self, job_id: str, status: str, error: str | None = None, output_file: dict | None = None) -> None:
        if self._stopping.is_set():
            return
        if error is not None:
            error = public_reason(error, roots=(self._config.data_dir,))
        snapshot = self._store.transition(job_id, status, error=error, output_file=output_file)
        if snapshot is None:
            return
        self._counters.job_final(status)
        if error is not None:
            joblog.step(job_id, f"{status}: {error}")
        else:
            size = (output_file or {}).get("filesize")
            joblog.step(job_id, f"{status}" + (f" ({size} bytes of output)" if size is not None else ""))
        self._notify(snapshot, f"job.{status}")

    def _notify(self, snapshot: dict, event: str) -> None:
        job = self._store.find(snapshot["id"])
        url = (job.webhook_url if job else None) or self._config.default_webhook_url
        if url:
            self._dispatcher.enqueue(snapshot, url, event)


def _describe_output(output: dict) -> str:
    """``video mp4 1080x1920 h264 2.000 s`` for the log."""
    words = [output["kind"], output["format"]]
    if output.get("width"):
        words.append(f"{output['width']}x{output['height']}")
    words += [w for w in (output.get("codec"), output.get("audio_codec")) if w]
    if output.get("duration") is not None:
        words.append(f"{output['duration']:.3f} s")
    return " ".join(words)
