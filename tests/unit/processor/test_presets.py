import json

import pytest

from processor.presets import DEFAULT_PRESETS, Preset, presets_from_var, rendition_key


def test_default_video_presets():
    web, mobile, thumbnail, hls = DEFAULT_PRESETS["video"]
    # Bounds, not targets (issue 17): the long and short side whatever the orientation.
    assert web == Preset("web", "video", {"format": "mp4", "max_long": 1920, "max_short": 1080, "quality": "high"})
    assert mobile == Preset("mobile", "video", {"format": "mp4", "max_long": 854, "max_short": 480, "quality": "medium"})
    assert thumbnail == Preset("thumbnail", "image", {"format": "webp", "max_long": 640, "start": 2})
    assert hls == Preset("hls", "adaptive_video", {"format": "hls", "max_long": 1920, "max_short": 1080, "quality": "medium"})
    assert (hls.output_extension(), hls.output_content_type()) == ("m3u8", "application/vnd.apple.mpegurl")
    assert rendition_key("m1", hls) == "renditions/m1/hls/master.m3u8"


def test_hls_preset_is_configurable_like_the_others():
    presets = presets_from_var(json.dumps({"video": [
        {"name": "web", "kind": "video", "options": {"format": "mp4"}},
        {"name": "stream", "kind": "adaptive_video", "options": {"format": "hls", "max_short": 720, "quality": "low"}},
    ]}))
    assert [p.name for p in presets["video"]] == ["web", "stream"]
    assert rendition_key("m1", presets["video"][1]) == "renditions/m1/stream/master.m3u8"
    for bad in ({"format": "mp4"}, {"format": "hls", "codec": "h264"}, {"format": "hls", "quality": "best"}):
        with pytest.raises(ValueError):
            presets_from_var(json.dumps({"video": [{"name": "s", "kind": "adaptive_video", "options": bad}]}))
    with pytest.raises(ValueError):  # an image has no ladder
        presets_from_var(json.dumps({"image": [{"name": "s", "kind": "adaptive_video", "options": {"format": "hls"}}]}))


def test_default_image_and_audio_presets():
    assert [(p.name, p.kind, p.options) for p in DEFAULT_PRESETS["image"]] == [
        ("large", "image", {"format": "webp", "max_long": 2048}),
        ("thumbnail", "image", {"format": "webp", "max_long": 640}),
    ]
    (web,) = DEFAULT_PRESETS["audio"]
    assert (web.name, web.kind, web.output_extension(), web.output_content_type()) == (
        "web",
        "audio",
        "mp3",
        "audio/mpeg",
    )


def test_extensions_and_content_types():
    assert DEFAULT_PRESETS["video"][0].output_extension() == "mp4"
    assert DEFAULT_PRESETS["video"][0].output_content_type() == "video/mp4"
    assert DEFAULT_PRESETS["video"][2].output_content_type() == "image/webp"
    assert Preset("j", "image", {"format": "jpeg"}).output_extension() == "jpg"
    assert Preset("m", "video", {"format": "mov"}).output_content_type() == "video/quicktime"
    assert Preset("d", "video", {}).output_extension() == "mp4"


def test_presets_are_hashable():
    assert len(set(DEFAULT_PRESETS["video"])) == 4


def test_rendition_key():
    assert rendition_key("m1", DEFAULT_PRESETS["video"][2]) == "renditions/m1/thumbnail.webp"


@pytest.mark.parametrize("value", [None, "", "   "])
def test_empty_var_means_defaults(value):
    assert presets_from_var(value) == DEFAULT_PRESETS


def test_var_overrides_only_the_kinds_it_names():
    value = json.dumps(
        {
            "video": [
                {"name": "hd", "kind": "video", "options": {"format": "webm", "codec": "vp9", "width": 1280, "quality": "very_high"}},
                {"name": "poster", "kind": "image", "options": {"format": "avif", "width": 800, "start": 1.5, "fit": "cover"}},
            ]
        }
    )
    presets = presets_from_var(value)
    assert [p.name for p in presets["video"]] == ["hd", "poster"]
    assert presets["video"][0].options["codec"] == "vp9"
    assert presets["image"] == DEFAULT_PRESETS["image"]
    assert presets["audio"] == DEFAULT_PRESETS["audio"]


def test_kind_defaults_to_media_kind():
    presets = presets_from_var('{"audio": [{"name": "aac", "options": {"format": "aac", "quality": "low"}}]}')
    assert presets["audio"] == (Preset("aac", "audio", {"format": "aac", "quality": "low"}),)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[]", "JSON object keyed by media kind"),
        ('{"document": []}', "unknown media kind"),
        ('{"video": []}', "non-empty list"),
        ('{"video": ["web"]}', "must be an object"),
        ('{"video": [{"name": "Web!", "kind": "video"}]}', "must match"),
        ('{"video": [{"name": "' + "a" * 33 + '", "kind": "video"}]}', "must match"),
        ('{"video": [{"name": "a", "kind": "video"}, {"name": "a", "kind": "video"}]}', "used twice"),
        ('{"image": [{"name": "a", "kind": "video"}]}', "kind 'video' must be one of image"),
        ('{"image": [{"name": "probe", "kind": "image"}]}', "name 'probe' is reserved"),
        ('{"video": [{"name": "a", "kind": "document"}]}', "kind 'document'"),
        ('{"video": [{"name": "a", "kind": "video", "options": {"width": "1920"}}]}', "'width' must be a whole number"),
        ('{"video": [{"name": "a", "kind": "video", "options": {"width": true}}]}', "'width' must be a whole number"),
        ('{"video": [{"name": "a", "kind": "video", "options": {"width": 0}}]}', "'width' must be a whole number"),
        ('{"video": [{"name": "a", "kind": "video", "options": {"max_long": 0}}]}', "'max_long' must be a whole number"),
        ('{"video": [{"name": "a", "kind": "video", "options": {"max_short": 1.5}}]}', "'max_short' must be a whole number"),
        ('{"video": [{"name": "a", "kind": "video", "options": {"max_long": 20000}}]}', "'max_long' must be a whole number"),
        ('{"video": [{"name": "a", "kind": "video", "options": {"max_long": 480, "max_short": 854}}]}',
         "'max_short' \\(854\\) must not exceed 'max_long'"),
        ('{"audio": [{"name": "a", "kind": "audio", "options": {"max_long": 480}}]}', "unknown option 'max_long'"),
        ('{"video": [{"name": "a", "kind": "video", "options": {"quality": 80}}]}', "quality 80 must be one of"),
        ('{"video": [{"name": "a", "kind": "video", "options": {"quality": "best"}}]}', "quality 'best'"),
        ('{"video": [{"name": "a", "kind": "video", "options": {"format": "webp"}}]}', "format 'webp' is not one of"),
        ('{"video": [{"name": "a", "kind": "video", "options": {"fit": "stretch"}}]}', "fit"),
        ('{"video": [{"name": "a", "kind": "video", "options": {"start": -1}}]}', "'start' must be a number"),
        ('{"video": [{"name": "a", "kind": "video", "options": {"start": 5, "end": 2}}]}', "'end' must be after"),
        ('{"video": [{"name": "a", "kind": "video", "options": {"widht": 2}}]}', "unknown option 'widht'"),
        ('{"image": [{"name": "a", "options": {"codec": "h264"}}]}', "unknown option 'codec'"),
        ('{"video": [{"name": "a", "kind": "video", "options": []}]}', "'options' must be an object"),
        ('{"video": [{"name": "a", "kind": "video", "extra": 1}]}', "unknown field"),
    ],
)
def test_invalid_var_is_refused_clearly(value, message):
    with pytest.raises(ValueError, match=message):
        presets_from_var(value)


def test_bounds_are_accepted_with_legacy_width_ceilings():
    presets = presets_from_var(json.dumps({
        "video": [{"name": "web", "kind": "video", "options": {"max_long": 1280, "max_short": 720, "width": 1000}}],
        "image": [{"name": "square", "kind": "image", "options": {"max_long": 500, "max_short": 500, "fit": "cover"}}],
    }))
    assert presets["video"][0].options == {"max_long": 1280, "max_short": 720, "width": 1000}
    assert presets["image"][0].options["fit"] == "cover"


def test_submission_rank_puts_the_quickest_renditions_first():
    from processor.presets import submission_rank

    plans = {
        "web": ("video", {"format": "mp4", "width": 1920, "height": 1080, "fit": "fill"}),
        "hls": ("adaptive_video", {"format": "hls", "width": 1920, "height": 1080, "fit": "fill"}),
        "mobile": ("video", {"format": "mp4", "width": 854, "height": 480, "fit": "fill"}),
        "poster": ("image", {"format": "webp", "width": 3840, "height": 2160}),
        "sound": ("audio", {"format": "mp3"}),
        "unsized": ("video", {"format": "mp4"}),
        "boxed": ("video", {"format": "mp4", "max_long": 1280, "max_short": 720}),
    }
    order = sorted(plans, key=lambda name: submission_rank(*plans[name]))
    assert order == ["poster", "sound", "mobile", "boxed", "hls", "web", "unsized"]
