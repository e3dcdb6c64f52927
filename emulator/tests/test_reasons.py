"""public_reason: error text says what went wrong, never where on a disk, nor a signed URL's query."""

from hypothesis import given
from hypothesis import strategies as st

from emulator.reasons import MAX_LENGTH, public_reason

SEGMENT = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789._-", min_size=1, max_size=12)


def test_known_paths_become_words_and_the_rest_placeholders():
    source = "/tmp/ittybit-emulator-x1/inputs/job_1/input"
    assert public_reason(f"{source}: Invalid data found when processing input", {source: "input"}) == (
        "input: Invalid data found when processing input")
    assert public_reason("[Errno 28] No space left on device: '/work/main/.local/emulator/files/job_2/output.mp4'") == (
        "[Errno 28] No space left on device: '<path>'")
    assert public_reason("cannot open /etc") == "cannot open <path>"


def test_the_data_dir_is_hidden_wherever_it_appears():
    text = "copy-/srv/data-dir/files/job/out.webp,y"  # glued to a word: only the known root finds it
    assert public_reason(text, roots=("/srv/data-dir",)) == "copy-<path>,y"


def test_urls_keep_scheme_and_host_only():
    text = "input download failed: HTTP 403 from https://media.example.com/files/originals/01J?expires=1&signature=ab12"
    assert public_reason(text) == "input download failed: HTTP 403 from https://media.example.com"
    assert public_reason("reading s3://bucket/originals/a.mp4 failed") == "reading s3://bucket failed"


def test_ordinary_slashes_addresses_and_length():
    assert public_reason("codec mp4/h264 and/or 16/9") == "codec mp4/h264 and/or 16/9"
    assert public_reason("[mov,mp4,m4a,3gp,3g2,mj2 @ 0x55a5e95131c0] moov atom not found") == (
        "[mov,mp4,m4a,3gp,3g2,mj2] moov atom not found")
    assert public_reason("a\n  b\tc") == "a b c"
    assert len(public_reason("x" * 5000)) == MAX_LENGTH


@given(st.lists(SEGMENT, min_size=1, max_size=6), st.text(max_size=40), st.text(max_size=40),
       st.sampled_from(["", "'", '"', "(", "=", ": "]))
def test_no_absolute_path_survives(segments, before, after, quote):
    path = "/" + "/".join(segments)
    for root in ("/tmp/", "/work/", "/home/", "/var/"):
        text = f"{before} {quote}{root.rstrip('/')}{path}{quote} {after}"
        cleaned = public_reason(text)
        assert root + segments[0] not in cleaned and f"{root.rstrip('/')}{path}" not in cleaned


@given(st.text(max_size=200))
def test_any_text_gives_one_short_line(text):
    cleaned = public_reason(text)
    assert "\n" not in cleaned and len(cleaned) <= MAX_LENGTH
    assert "signature=" not in public_reason(f"{text} http://h/x?signature=s3cr3t")
