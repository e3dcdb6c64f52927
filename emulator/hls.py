"""`adaptive_video` jobs with `format: "hls"`: an HLS ladder made by one ffmpeg run.

Ittybit documents the layout (`master.m3u8`, one folder per rendition holding `stream.m3u8` and
MPEG-TS `segment-N.ts`) but not the rungs, the segment length, whether URIs are relative, or
what the job's `output` holds (peers.md section 3). The emulator's inference, documented in
its README: rungs of 360, 720 and 1080 lines (the short side; `--hls-rungs`) up to the
source's and never above it (a source shorter than the lowest rung gets one rung at its own
size), each no taller than `options.height`/`width` when given; segments of
`--hls-segment-seconds` (4 s), keyframes forced on the boundaries; relative URIs; VOD
playlists ending with `#EXT-X-ENDLIST`; a master with `BANDWIDTH` (the peak segment bitrate),
`AVERAGE-BANDWIDTH`, `RESOLUTION` and `CODECS`. The job's `output` is the master's URL, and
its task's output file `{"kind": "adaptive_video", "format": "hls", "url": <master>, "width",
"height" (the top rung), "duration", "filesize" (every file of the ladder)}`.
"""

import os
from dataclasses import dataclass

from emulator.transcode import X264_CRF, MediaInfo, TranscodeError

MASTER_NAME = "master.m3u8"

__all__ = ["DEFAULT_RUNGS", "MASTER_NAME", "Rung", "build_ladder_command", "codecs_string", "ladder_files", "master_playlist", "plan_rungs"]

DEFAULT_RUNGS = (360, 720, 1080)
AUDIO_BITRATE = {360: "64k", 720: "96k", 1080: "128k"}
_AVC_PROFILES = {"constrained baseline": "42e0", "baseline": "4200", "main": "4d40", "high": "6400"}


@dataclass(frozen=True)
class Rung:
    name: str  # the folder: "720p"
    width: int
    height: int


def _even(value: float) -> int:
    return max(2, int(round(value)) // 2 * 2)


def plan_rungs(info: MediaInfo, options: dict, rungs: tuple[int, ...] = DEFAULT_RUNGS) -> list[Rung]:
    """The ladder for a source: each rung's short side up to the source's (and the options' box)."""
    if not info.has_video or not info.width or not info.height:
        raise TranscodeError("input has no video stream")
    src_w, src_h = int(info.width), int(info.height)
    short = min(src_w, src_h)
    ceiling = short
    if options.get("height") or options.get("width"):
        box_w = options.get("width") or 10**6
        box_h = options.get("height") or 10**6
        scale = min(box_w / src_w, box_h / src_h, 1.0)
        ceiling = max(2, int(short * scale))
    heights = [h for h in sorted(set(rungs)) if h <= ceiling] or [ceiling - ceiling % 2]
    ladder = []
    for lines in heights:
        scale = lines / short
        width, height = _even(src_w * scale), _even(src_h * scale)
        ladder.append(Rung(f"{lines}p", width, height))
    return ladder


def build_ladder_command(info: MediaInfo, options: dict, ladder: list[Rung], src: str, out_dir: str,
                         segment_seconds: float) -> list[str]:
    """One ffmpeg run decoding the source once and writing every rung's playlist and segments."""
    base = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y"]
    start, end = options.get("start") or 0.0, options.get("end")
    before = ["-ss", f"{start:g}"] if start else []
    after = ["-t", f"{end - start:g}"] if end is not None else []
    labels = "".join(f"[s{i}]" for i in range(len(ladder)))
    graph = [f"[0:v:0]split={len(ladder)}{labels}" if len(ladder) > 1 else "[0:v:0]null[s0]"]
    for i, rung in enumerate(ladder):
        graph.append(f"[s{i}]scale={rung.width}:{rung.height},setsar=1[v{i}]")
    crf = str(X264_CRF[options.get("quality") or "medium"])
    argv = [*base, *before, "-i", src, *after, "-filter_complex", ";".join(graph)]
    for i, rung in enumerate(ladder):
        folder = os.path.join(out_dir, rung.name)
        os.makedirs(folder, exist_ok=True)
        audio = ["-map", "0:a:0", "-c:a", "aac", "-b:a", AUDIO_BITRATE.get(int(rung.name[:-1]), "96k"), "-ac", "2"] \
            if info.has_audio else []
        argv += [
            "-map", f"[v{i}]", *audio,
            "-c:v", "libx264", "-preset", "ultrafast", "-crf", crf, "-pix_fmt", "yuv420p",
            "-force_key_frames", f"expr:gte(t,n_forced*{segment_seconds:g})", "-sc_threshold", "0",
            "-f", "hls", "-hls_time", f"{segment_seconds:g}", "-hls_playlist_type", "vod",
            "-hls_segment_type", "mpegts", "-hls_flags", "independent_segments",
            "-hls_segment_filename", os.path.join(folder, "segment-%d.ts"),
            os.path.join(folder, "stream.m3u8"),
        ]
    return argv


def codecs_string(video_stream: dict | None, has_audio: bool) -> str:
    """RFC 6381 codecs of a rung (`avc1.42e01e,mp4a.40.2`) from ffprobe's video stream."""
    profile = _AVC_PROFILES.get(str((video_stream or {}).get("profile", "")).lower(), "4d40")
    level = int((video_stream or {}).get("level") or 31)
    words = [f"avc1.{profile}{level:02x}"]
    if has_audio:
        words.append("mp4a.40.2")
    return ",".join(words)


def _segments(playlist_path: str) -> list[tuple[float, str]]:
    pairs, duration = [], None
    with open(playlist_path, encoding="utf-8") as handle:
        for line in handle:
            line = line.strip()
            if line.startswith("#EXTINF:"):
                duration = float(line[8:].split(",")[0])
            elif line and not line.startswith("#") and duration is not None:
                pairs.append((duration, line))
                duration = None
    return pairs


def master_playlist(out_dir: str, ladder: list[Rung], codecs: list[str]) -> tuple[str, float]:
    """The master playlist's text for the rungs written under `out_dir`, and the ladder's duration."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-INDEPENDENT-SEGMENTS"]
    duration = 0.0
    for rung, codec in zip(ladder, codecs):
        folder = os.path.join(out_dir, rung.name)
        pairs = _segments(os.path.join(folder, "stream.m3u8"))
        if not pairs:
            raise TranscodeError(f"ffmpeg wrote no segment for {rung.name}")
        sizes = [(os.path.getsize(os.path.join(folder, name)), seconds) for seconds, name in pairs]
        peak = max(int(size * 8 / max(seconds, 0.1)) for size, seconds in sizes)
        total_seconds = sum(seconds for _, seconds in sizes)
        average = int(sum(size for size, _ in sizes) * 8 / max(total_seconds, 0.1))
        duration = max(duration, total_seconds)
        lines.append(f"#EXT-X-STREAM-INF:BANDWIDTH={peak},AVERAGE-BANDWIDTH={average},"
                     f"RESOLUTION={rung.width}x{rung.height},CODECS=\"{codec}\"")
        lines.append(f"{rung.name}/stream.m3u8")
    return "\n".join(lines) + "\n", duration


def ladder_files(out_dir: str) -> list[str]:
    """Every file of the ladder under `out_dir`, as paths relative to it."""
    found = []
    for root, _dirs, names in os.walk(out_dir):
        for name in names:
            found.append(os.path.relpath(os.path.join(root, name), out_dir).replace(os.sep, "/"))
    return sorted(found)
