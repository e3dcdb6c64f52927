"""Properties of api.files.parse_range: whatever the header, the answer is a range
inside the file, the whole file (None), or RangeNotSatisfiable, and nothing else."""

import re

from hypothesis import assume, example, given
from hypothesis import strategies as st

from api.files import (
    ByteRange,
    RangeNotSatisfiable,
    parse_range,
    unsatisfied_content_range,
)

sizes = st.integers(min_value=0, max_value=2**53)
positions = st.integers(min_value=0, max_value=2**64)
# Text built from the characters Range headers are made of, plus anything at all.
range_text = st.one_of(
    st.text(alphabet="bytes=-0123456789 ,\t*BYTES", max_size=40),
    st.text(max_size=40),
    st.builds(lambda a, b: f"bytes={a}-{b}", st.one_of(st.none(), positions), st.one_of(st.none(), positions)).map(
        lambda text: text.replace("None", "")
    ),
)


@given(range_text, sizes)
@example("bytes=0-0", 0)
@example("bytes=-0", 5)
@example("bytes=5-", 5)
@example("bytes=٣-٤", 10)  # non-ASCII digits are not digits here
@example("bytes=0-1,3-4", 10)
@example("bytes=" + "9" * 5000 + "-", 10)  # was a ValueError (a 500) before positions were capped
@example("bytes=-" + "9" * 5000, 10)
@example("bytes=" + "0" * 5000 + "1-2", 10)
def test_the_answer_is_inside_the_file_or_none_or_416(header, size):
    try:
        found = parse_range(header, size)
    except RangeNotSatisfiable:
        return
    if found is None:
        return
    assert isinstance(found, ByteRange)
    assert 0 <= found.offset < size
    assert found.length >= 1
    assert found.end <= size - 1
    assert re.fullmatch(r"bytes [0-9]+-[0-9]+/[0-9]+", found.content_range(size))


@given(positions, positions, sizes)
def test_a_first_last_range_is_served_exactly_clipped_to_the_end(first, last, size):
    assume(first <= last)
    header = f"bytes={first}-{last}"
    if first >= size:
        try:
            parse_range(header, size)
        except RangeNotSatisfiable:
            return
        raise AssertionError("a range starting past the end must be 416")
    found = parse_range(header, size)
    assert found == ByteRange(first, min(last, size - 1) - first + 1)


@given(positions, positions, sizes)
def test_a_backwards_range_is_ignored(first, last, size):
    assume(last < first)
    assert parse_range(f"bytes={first}-{last}", size) is None


@given(st.text(alphabet="0123456789", min_size=1, max_size=5000), st.text(alphabet="0123456789", min_size=1, max_size=5000), sizes)
def test_long_digit_strings_compare_like_numbers(first, last, size):
    # The positions are compared without int() (over 4300 digits it raises); the answer
    # must be what exact integer arithmetic says.
    import sys

    old = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)
    try:
        a, b = int(first), int(last)
    finally:
        sys.set_int_max_str_digits(old)
    header = f"bytes={first}-{last}"
    if b < a:
        assert parse_range(header, size) is None
    elif a >= size:
        try:
            parse_range(header, size)
        except RangeNotSatisfiable:
            return
        raise AssertionError("416 expected")
    else:
        assert parse_range(header, size) == ByteRange(a, min(b, size - 1) - a + 1)


@given(st.integers(min_value=1, max_value=2**64), st.integers(min_value=1, max_value=2**53))
def test_a_suffix_range_is_the_last_bytes(suffix, size):
    found = parse_range(f"bytes=-{suffix}", size)
    length = min(suffix, size)
    assert found == ByteRange(size - length, length)
    assert found.end == size - 1


@given(positions, st.sampled_from(["bytes", "BYTES", "Bytes"]), st.sampled_from(["", " ", "\t", " \t "]), sizes)
def test_case_and_optional_whitespace_do_not_matter(first, unit, space, size):
    plain = f"bytes={first}-"
    spaced = f"{space}{unit}{space}={space}{first}-{space}"

    def outcome(header):
        try:
            return parse_range(header, size)
        except RangeNotSatisfiable:
            return "416"

    assert outcome(spaced) == outcome(plain)


@given(sizes)
def test_no_header_is_the_whole_file_and_416_names_the_size(size):
    assert parse_range(None, size) is None
    assert unsatisfied_content_range(size) == f"bytes */{size}"
