"""common.rendition_sizing: presets are bounds; no rendition exceeds its source or its box."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from common.rendition_sizing import (
    Bounds,
    Planned,
    Size,
    TooSmallForVideo,
    bounds_from_options,
    display_size,
    duplicate_of,
    fit_size,
    job_options,
    rendition_size,
)

# The bounds issue 17 names for the defaults.
WEB = {"format": "mp4", "max_long": 1920, "max_short": 1080, "quality": "high"}
MOBILE = {"format": "mp4", "max_long": 854, "max_short": 480, "quality": "medium"}
VIDEO_THUMBNAIL = {"format": "webp", "max_long": 640, "start": 2}
LARGE = {"format": "webp", "max_long": 2048}
THUMBNAIL = {"format": "webp", "max_long": 640}


def size(kind, options, width, height, rotation=0):
    found = rendition_size(kind, options, width, height, rotation)
    return (found.width, found.height)


@pytest.mark.parametrize(
    ("kind", "options", "source", "expected"),
    [
        ("video", WEB, (3840, 2160), (1920, 1080)),
        ("video", WEB, (1920, 1080), (1920, 1080)),
        ("video", MOBILE, (1920, 1080), (854, 480)),
        ("image", VIDEO_THUMBNAIL, (1920, 1080), (640, 360)),
        ("image", LARGE, (4032, 3024), (2048, 1536)),
        ("image", THUMBNAIL, (4032, 3024), (640, 480)),
        # Wider than 16:9: the long side binds, not the short one.
        ("video", WEB, (2560, 1080), (1920, 810)),
        # Narrower than 16:9 (4:3): the short side binds.
        ("video", WEB, (2880, 2160), (1440, 1080)),
    ],
)
def test_landscape(kind, options, source, expected):
    assert size(kind, options, *source) == expected


@pytest.mark.parametrize(
    ("kind", "options", "expected"),
    [
        # Not 1920x3414 (a width of 1920 applied to a portrait frame).
        ("video", WEB, (1080, 1920)),
        ("video", MOBILE, (480, 854)),  # 853.3 rounded to the nearest even
        ("image", VIDEO_THUMBNAIL, (360, 640)),
    ],
)
def test_portrait_keeps_its_orientation_and_never_grows(kind, options, expected):
    assert size(kind, options, 1080, 1920) == expected


def test_portrait_image():
    assert size("image", LARGE, 3024, 4032) == (1536, 2048)
    assert size("image", THUMBNAIL, 3024, 4032) == (480, 640)


@pytest.mark.parametrize(
    ("kind", "options", "source", "expected"),
    [
        ("video", WEB, (2000, 2000), (1080, 1080)),  # a square fits the short side too
        ("video", MOBILE, (1080, 1080), (480, 480)),
        ("image", THUMBNAIL, (1000, 1000), (640, 640)),
        ("image", LARGE, (500, 500), (500, 500)),
    ],
)
def test_square(kind, options, source, expected):
    assert size(kind, options, *source) == expected


@pytest.mark.parametrize(
    ("kind", "options", "source", "expected"),
    [
        ("image", LARGE, (640, 480), (640, 480)),  # not 1920x1440 (or 2048x1536)
        ("video", WEB, (640, 360), (640, 360)),  # not 1920x1080
        ("video", MOBILE, (640, 360), (640, 360)),
        ("image", THUMBNAIL, (300, 200), (300, 200)),
        ("video", WEB, (641, 361), (640, 360)),  # its own size, rounded down to even
    ],
)
def test_smaller_than_the_box_keeps_its_own_size(kind, options, source, expected):
    assert size(kind, options, *source) == expected


@pytest.mark.parametrize(
    ("options", "source", "expected"),
    [
        (WEB, (1279, 719), (1278, 718)),
        (MOBILE, (1279, 719), (854, 480)),
        (WEB, (1081, 1921), (1080, 1920)),
        (WEB, (3, 3), (2, 2)),
        (MOBILE, (999, 561), (854, 480)),
    ],
)
def test_odd_source_dimensions_give_even_video(options, source, expected):
    width, height = size("video", options, *source)
    assert (width, height) == expected
    assert width % 2 == 0 and height % 2 == 0


def test_odd_dimensions_are_fine_for_images():
    assert size("image", LARGE, 1279, 719) == (1279, 719)
    assert size("image", THUMBNAIL, 1279, 719) == (640, 360)


@pytest.mark.parametrize("rotation", [90, -90, 270, 90.0, -270, 450])
def test_a_rotated_phone_video_is_portrait(rotation):
    assert display_size(1920, 1080, rotation) == Size(1080, 1920)
    assert size("video", WEB, 1920, 1080, rotation) == (1080, 1920)
    assert size("video", MOBILE, 1920, 1080, rotation) == (480, 854)


@pytest.mark.parametrize("rotation", [0, 180, -180, 360, None, 0.0])
def test_half_turns_keep_the_stored_orientation(rotation):
    assert display_size(1920, 1080, rotation) == Size(1920, 1080)


@pytest.mark.parametrize("rotation", [45, 1, "90", True, float("nan"), float("inf")])
def test_rotation_that_is_not_a_quarter_turn_is_refused(rotation):
    with pytest.raises(ValueError, match="rotation"):
        display_size(1920, 1080, rotation)


def test_tiny_images():
    assert size("image", LARGE, 1, 1) == (1, 1)
    assert size("image", THUMBNAIL, 2, 2) == (2, 2)
    assert size("image", THUMBNAIL, 1, 5000) == (1, 640)
    assert size("image", THUMBNAIL, 5000, 1) == (640, 1)  # 0.128 px still gets one row


def test_tiny_videos():
    assert size("video", WEB, 2, 2) == (2, 2)
    assert size("video", WEB, 2, 5000) == (2, 1920)
    for source in [(1, 1), (1, 1000), (1000, 1)]:
        with pytest.raises(TooSmallForVideo, match="too small for a 4:2:0 video"):
            rendition_size("video", WEB, *source)


@pytest.mark.parametrize(
    ("width", "height"),
    [(0, 1080), (1920, 0), (-1920, 1080), (1920, -1), (None, 1080), (1920, None), (True, 1080),
     (1920.5, 1080), (1920.0, 1080), ("1920", 1080), (1 << 21, 1080), (1920, 10**12)],
)
def test_absurd_source_sizes_are_a_clear_error(width, height):
    with pytest.raises(ValueError, match=r"source (width|height) must be a whole number of pixels"):
        rendition_size("video", WEB, width, height)


def test_unknown_size_falls_back_to_the_box():
    assert rendition_size("video", WEB, None, None) is None
    assert job_options(WEB, None) == {"format": "mp4", "quality": "high", "width": 1920, "height": 1080, "fit": "contain"}
    # 640 on the long side, whichever it is.
    assert job_options(VIDEO_THUMBNAIL, None) == {"format": "webp", "start": 2, "width": 640, "height": 640, "fit": "contain"}
    assert job_options({"format": "mp4"}, None) == {"format": "mp4"}


def test_audio_has_no_size():
    assert rendition_size("audio", {"format": "mp3"}, 1920, 1080) is None
    assert job_options({"format": "mp3"}, None) == {"format": "mp3"}


def test_job_options_name_width_and_height_from_the_source():
    portrait = rendition_size("video", WEB, 1080, 1920)
    assert job_options(WEB, portrait) == {
        "format": "mp4",
        "quality": "high",
        "width": 1080,
        "height": 1920,
        "fit": "fill",
    }
    thumb = rendition_size("image", VIDEO_THUMBNAIL, 640, 360)
    assert job_options(VIDEO_THUMBNAIL, thumb) == {"format": "webp", "start": 2, "width": 640, "height": 360, "fit": "fill"}


def test_job_options_do_not_change_the_preset():
    options = dict(WEB)
    job_options(options, Size(640, 360))
    assert options == WEB


def test_legacy_width_is_a_ceiling_not_a_target():
    legacy_web = {"format": "mp4", "width": 1920, "quality": "high"}
    assert size("video", legacy_web, 640, 360) == (640, 360)
    assert size("video", legacy_web, 1080, 1920) == (1080, 1920)
    assert size("video", legacy_web, 3840, 2160) == (1920, 1080)
    legacy_mobile = {"format": "mp4", "width": 480}
    assert size("video", legacy_mobile, 1920, 1080) == (480, 270)
    assert size("video", {"height": 720}, 1080, 1920) == (406, 720)  # 405 to the nearest even, half up
    assert job_options(legacy_web, Size(640, 360))["width"] == 640


def test_cover_and_fill_take_the_box_shape_without_growing():
    square_cover = {"format": "webp", "width": 640, "height": 640, "fit": "cover"}
    assert size("image", square_cover, 1920, 1080) == (640, 640)
    assert size("image", square_cover, 300, 200) == (200, 200)
    assert job_options(square_cover, Size(200, 200))["fit"] == "cover"
    fill = {"max_long": 1280, "max_short": 720, "fit": "fill"}
    assert size("video", fill, 1080, 1920) == (720, 1280)
    assert size("video", fill, 1000, 1000) == (1000, 562)
    # A box with one side only cannot give a shape: contain.
    assert size("image", {"max_long": 640, "fit": "cover"}, 1920, 1080) == (640, 360)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_long": 0}, "max_long"),
        ({"max_short": 16385}, "max_short"),
        ({"max_long": True}, "max_long"),
        ({"max_long": "1920"}, "max_long"),
        ({"width": 1920.0}, "width"),
        ({"max_long": 480, "max_short": 854}, "must not exceed"),
        ({"fit": "stretch"}, "fit"),
    ],
)
def test_bad_bounds_are_refused(options, message):
    with pytest.raises(ValueError, match=message):
        bounds_from_options(options)


def plans(width, height, rotation=0, video=(("web", WEB), ("mobile", MOBILE)), image=(("thumbnail", VIDEO_THUMBNAIL),)):
    out = []
    for kind, entries in (("video", video), ("image", image)):
        for name, options in entries:
            out.append(Planned(name, kind, options["format"], options, rendition_size(kind, options, width, height, rotation)))
    return out


def test_a_small_source_makes_mobile_a_duplicate_of_web():
    assert duplicate_of(plans(640, 360)) == {"mobile": "web"}
    assert duplicate_of(plans(480, 270)) == {"mobile": "web"}


def test_a_large_source_has_no_duplicates():
    assert duplicate_of(plans(1920, 1080)) == {}
    assert duplicate_of(plans(1080, 1920)) == {}


def test_the_larger_box_is_kept_whatever_the_order():
    reversed_video = (("mobile", MOBILE), ("web", WEB))
    assert duplicate_of(plans(640, 360, video=reversed_video)) == {"mobile": "web"}


def test_image_presets_duplicate_when_the_source_is_small():
    def image_plans(width, height):
        return [
            Planned(name, "image", "webp", options, rendition_size("image", options, width, height))
            for name, options in (("large", LARGE), ("thumbnail", THUMBNAIL))
        ]

    assert duplicate_of(image_plans(300, 200)) == {"thumbnail": "large"}
    assert duplicate_of(image_plans(1000, 800)) == {}


def test_different_format_kind_or_content_is_not_a_duplicate():
    small = Size(640, 360)
    assert duplicate_of([Planned("a", "video", "mp4", WEB, small), Planned("b", "video", "webm", MOBILE, small)]) == {}
    assert duplicate_of([Planned("a", "video", "mp4", WEB, small), Planned("b", "image", "mp4", MOBILE, small)]) == {}
    late = {**THUMBNAIL, "start": 5}
    assert duplicate_of([Planned("a", "image", "webp", THUMBNAIL, small), Planned("b", "image", "webp", late, small)]) == {}
    assert duplicate_of([Planned("a", "video", "mp4", WEB, None), Planned("b", "video", "mp4", MOBILE, None)]) == {}


# ---- properties ----

SIDES = st.integers(min_value=1, max_value=20000)
BOUND = st.one_of(st.none(), st.integers(min_value=1, max_value=16384))


@st.composite
def presets(draw):
    options = {}
    for key in ("max_long", "max_short", "width", "height"):
        value = draw(BOUND)
        if value is not None:
            options[key] = value
    if "max_long" in options and "max_short" in options and options["max_short"] > options["max_long"]:
        options["max_long"], options["max_short"] = options["max_short"], options["max_long"]
    options["fit"] = draw(st.sampled_from(["contain", "contain", "cover", "fill"]))
    return options


def _box(options, shown):
    return bounds_from_options(options).box_for(shown)


@given(st.sampled_from(["video", "image"]), presets(), SIDES, SIDES, st.sampled_from([0, 90, 180, 270, -90]))
def test_never_larger_than_the_source_or_the_box(kind, options, width, height, rotation):
    shown = display_size(width, height, rotation)
    try:
        found = rendition_size(kind, options, width, height, rotation)
    except TooSmallForVideo:
        box_sides = [side for side in _box(options, shown) if side is not None]
        assert kind == "video" and min(width, height, *box_sides) < 2
        return
    assert 1 <= found.width <= shown.width and 1 <= found.height <= shown.height
    box_w, box_h = _box(options, shown)
    assert box_w is None or found.width <= box_w
    assert box_h is None or found.height <= box_h
    long_side, short_side = max(found.width, found.height), min(found.width, found.height)
    assert "max_long" not in options or long_side <= options["max_long"]
    assert "max_short" not in options or short_side <= options["max_short"]
    if kind == "video":
        assert found.width % 2 == 0 and found.height % 2 == 0


@given(st.sampled_from(["video", "image"]), presets(), SIDES, SIDES)
def test_aspect_ratio_is_kept_within_rounding(kind, options, width, height):
    try:
        found = rendition_size(kind, options, width, height)
    except TooSmallForVideo:
        return
    shape = bounds_from_options(options).shape_for(Size(width, height))
    if options["fit"] != "contain" and shape is not None:
        aim_w, aim_h = shape
    else:
        aim_w, aim_h = width, height
    # One side is exact; the other is the ideal one rounded (to even for video: 1 px, 2 at the minimum).
    slack = 2 if kind == "video" else 1
    assert abs(found.width * aim_h - found.height * aim_w) <= slack * max(aim_w, aim_h)


@given(st.sampled_from(["video", "image"]), presets(), SIDES, SIDES)
def test_orientation_is_kept_for_contain(kind, options, width, height):
    options = {**options, "fit": "contain"}
    try:
        found = rendition_size(kind, options, width, height)
    except TooSmallForVideo:
        return
    if width > height + 2:
        assert found.width >= found.height
    elif height > width + 2:
        assert found.height >= found.width


@given(st.sampled_from(["video", "image"]), presets(), SIDES, SIDES)
def test_fitting_twice_changes_nothing(kind, options, width, height):
    try:
        once = rendition_size(kind, options, width, height)
    except TooSmallForVideo:
        return
    if options["fit"] == "contain":
        assert rendition_size(kind, options, once.width, once.height) == once


@given(presets(), SIDES, SIDES)
def test_job_options_always_carry_both_sides_no_larger_than_the_source(options, width, height):
    found = rendition_size("image", options, width, height)
    sent = job_options({"format": "webp", **options}, found)
    assert (sent["width"], sent["height"]) == (found.width, found.height)
    assert sent["width"] <= width and sent["height"] <= height
    assert not {"max_long", "max_short"} & set(sent)
    assert sent["fit"] in ("fill", "cover")


def test_bounds_default_is_contain():
    assert Bounds().fit == "contain"
    assert fit_size(Size(10, 20), Bounds()) == Size(10, 20)
