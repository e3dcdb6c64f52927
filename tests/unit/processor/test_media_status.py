import pytest

from processor.media_status import aggregate_status, can_transition, failure_reason


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([], "pending"),
        (["pending", "pending"], "pending"),
        (["pending", "processing"], "processing"),
        (["completed", "pending"], "processing"),
        (["completed", "failed", "processing"], "processing"),
        (["completed", "completed", "completed"], "completed"),
        (["completed", "failed"], "failed"),
        (["failed"], "failed"),
    ],
)
def test_aggregate_status(statuses, expected):
    assert aggregate_status(statuses) == expected


def test_failure_reason_lists_failed_renditions_in_order():
    renditions = [
        {"name": "web", "status": "completed", "error": None},
        {"name": "thumbnail", "status": "failed", "error": "no video\n stream"},
        {"name": "mobile", "status": "failed", "error": None},
    ]
    assert failure_reason(renditions) == "thumbnail: no video stream; mobile: failed"
    assert failure_reason(renditions[:1]) is None
    assert failure_reason([]) is None


def test_failure_reason_truncates_long_errors():
    reason = failure_reason([{"name": "web", "status": "failed", "error": "x" * 5000}])
    assert reason is not None and len(reason) < 400


@pytest.mark.parametrize(
    ("old", "new", "allowed"),
    [
        ("pending", "processing", True),
        ("pending", "completed", True),
        ("pending", "failed", True),
        ("processing", "completed", True),
        ("processing", "processing", True),
        ("processing", "pending", False),
        ("completed", "completed", True),
        ("completed", "failed", False),
        ("completed", "processing", False),
        ("failed", "completed", False),
        ("failed", "pending", False),
        ("pending", "bogus", False),
    ],
)
def test_can_transition(old, new, allowed):
    assert can_transition(old, new) is allowed
