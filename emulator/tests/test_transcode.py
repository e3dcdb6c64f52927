"""ffmpeg command building and probe summaries, without running ffmpeg."""

import pytest

from emulator.transcode import MediaInfo, TranscodeError, build_command, media_info, scale_filter
from emulator.validation import validate_options

ENCODERS = {"libx264", "libvpx-vp9", "libwebp", "libmp3lame", "aac", "libaom-av1", "libopus", "libvorbis"}
VIDEO = MediaInfo(has_video=True, has_audio=True, width=1280, height=720, duration=2.0, still=False)
STILL = MediaInfo(has_video=True, has_audio=False, width=800, height=600, duration=None, still=True)


def _command(kind, options, info=VIDEO):
    return build_command(kind, validate_options(kind, options), info, "in", "out", ENCODERS)


def _after(argv, flag):
    return argv[argv.index(flag) + 1]


def test_scale_keeps_aspect_and_even_dimensions_for_video():
    assert scale_filter(480, None, "contain", even=True) == "scale=480:-2"
    assert scale_filter(481, None, "contain", even=True) == "scale=480:-2"
    assert scale_filter(None, 271, "contain", even=True) == "scale=-2:270"
    assert scale_filter(640, None, "contain", even=False) == "scale=640:-1"
    assert "force_original_aspect_ratio=decrease" in scale_filter(640, 640, "contain", even=True)
    assert scale_filter(640, 640, "cover", even=False).endswith("crop=640:640")
    assert scale_filter(640, 640, "fill", even=False) == "scale=640:640"


def test_video_mp4_is_h264_aac_faststart_with_quality_crf():
    argv = _command("video", {"format": "mp4", "width": 1920, "quality": "high"})
    assert _after(argv, "-c:v") == "libx264" and _after(argv, "-crf") == "23"
    assert _after(argv, "-c:a") == "aac" and _after(argv, "-movflags") == "+faststart"
    assert _after(argv, "-vf").startswith("scale=1920:-2") and _after(argv, "-pix_fmt") == "yuv420p"
    assert _after(argv, "-crf") != _after(_command("video", {"quality": "very_low"}), "-crf")


def test_video_trim_fps_and_webm():
    argv = _command("video", {"format": "webm", "start": 0.5, "end": 1.5, "fps": 12})
    assert _after(argv, "-ss") == "0.5" and argv.index("-ss") < argv.index("-i")
    assert _after(argv, "-t") == "1" and "fps=12" in _after(argv, "-vf")
    assert _after(argv, "-c:v") == "libvpx-vp9" and _after(argv, "-c:a") == "libopus"
    with pytest.raises(TranscodeError, match="beyond the input duration"):
        _command("video", {"start": 5})


def test_image_frame_at_start_and_clamped_past_the_end():
    argv = _command("image", {"format": "webp", "width": 640, "start": 1})
    assert _after(argv, "-ss") == "1" and _after(argv, "-frames:v") == "1" and _after(argv, "-c:v") == "libwebp"
    assert _after(_command("image", {"start": 30}), "-ss") == "1.5"
    assert "-ss" not in _command("image", {"start": 3}, STILL)
    assert _after(_command("image", {"format": "jpeg", "quality": "very_high"}), "-q:v") == "3"


def test_audio_formats_and_missing_streams():
    assert _after(_command("audio", {"format": "mp3", "quality": "low"}), "-b:a") == "96k"
    assert _after(_command("audio", {"format": "aac", "bitrate": 64000}), "-b:a") == "64k"
    assert _after(_command("audio", {"format": "ogg"}), "-c:a") == "libvorbis"
    with pytest.raises(TranscodeError, match="no audio"):
        _command("audio", {}, STILL)
    with pytest.raises(TranscodeError, match="no video"):
        _command("video", {}, MediaInfo(False, True, None, None, 2.0, False))
    with pytest.raises(TranscodeError, match="not available"):
        build_command("video", validate_options("video", {"codec": "h265"}), VIDEO, "in", "out", ENCODERS)


def test_media_info_from_ffprobe_json():
    video = media_info({"format": {"format_name": "mov,mp4,m4a,3gp,3g2,mj2", "duration": "2.0"},
                        "streams": [{"codec_type": "video", "width": 1280, "height": 720},
                                    {"codec_type": "audio"}]})
    assert (video.width, video.height, video.duration, video.still, video.has_audio) == (1280, 720, 2.0, False, True)
    still = media_info({"format": {"format_name": "png_pipe"}, "streams": [{"codec_type": "video", "width": 8,
                                                                             "height": 6}]})
    assert still.still and still.duration is None
