import pytest

from processor.queue_consumer import MAX_QUEUE_DELAY, retry_delay


@pytest.mark.parametrize(("attempts", "expected"), [(0, 2), (1, 2), (2, 4), (3, 8), (5, 32), (8, 256), (9, 300), (500, 300)])
def test_exponential_with_cap(attempts, expected):
    assert retry_delay(attempts) == expected


def test_retry_after_is_a_minimum():
    assert retry_delay(1, retry_after=30) == 30
    assert retry_delay(6, retry_after=3) == 64
    assert retry_delay(1, retry_after=0.2) == 2
    assert retry_delay(1, retry_after=7.1) == 8


def test_retry_after_may_exceed_cap_but_not_the_queue_limit():
    assert retry_delay(1, retry_after=900) == 900
    assert retry_delay(1, retry_after=10**9) == MAX_QUEUE_DELAY == 43200
    assert retry_delay(1, cap=10**6) == 2
    assert retry_delay(40, cap=10**6) == MAX_QUEUE_DELAY


def test_at_least_one_second():
    assert retry_delay(1, base=1) == 1
    assert retry_delay(3, base=0, cap=0) == 1
    assert retry_delay(1, retry_after=float("nan")) == 2
    assert retry_delay(1, retry_after=-5) == 2
