"""Direct uploads keep their identity per object: a second file put at a used uploads/ key is a
media item of its own, with its own renditions, and is never deleted unprocessed."""

from __future__ import annotations

import pytest

from common.ids import media_id_for_object
from tests.e2e.conftest import eventually, put_into_bucket
from tests.e2e.processor_helpers import ffmpeg, make_image, wait_final

pytestmark = pytest.mark.stack

BUCKET = "media-pipeline"


def put_direct(pipeline, key: str, data: bytes) -> str:
    """PUT the file into R2 as an S3 client would (R2 then notifies the queue); its media id."""
    response = put_into_bucket(pipeline.processor_url, key, data)
    assert response.status_code == 201 and response.json()["notified"] == ["media-pipeline-jobs"], response.text
    return media_id_for_object(BUCKET, key, response.json()["etag"])


def completed(api, media_id: str) -> dict:
    eventually(lambda: api.get(f"/api/media/{media_id}").status_code == 200, timeout=60)
    item = wait_final(api, media_id, timeout=120)
    assert item["status"] == "completed", (item.get("error"), [(r["name"], r.get("error")) for r in item["renditions"]])
    return item


def test_a_second_file_at_a_processed_uploads_key_becomes_its_own_completed_item(api, pipeline, tmp_path):
    key = "uploads/same-name.png"
    first = make_image(tmp_path / "landscape.png").read_bytes()  # 320x240
    portrait = tmp_path / "portrait.png"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=180x320:rate=1:duration=1", "-frames:v", "1", str(portrait))
    second = portrait.read_bytes()
    assert first != second

    first_id = put_direct(pipeline, key, first)
    first_item = completed(api, first_id)
    second_id = put_direct(pipeline, key, second)
    assert second_id != first_id
    second_item = completed(api, second_id)

    # Two items, each with its own original: the second file was processed, not deleted as a leftover.
    for media_id, data in ((first_id, first), (second_id, second)):
        original = api.get(f"/files/originals/{media_id}")
        assert original.status_code == 200 and original.content == data, media_id
    assert first_item["name"] == second_item["name"] == "same-name.png"
    assert (first_item["size"], second_item["size"]) == (len(first), len(second))
    # Each item's renditions are of its own file (the thumbnail keeps the source's aspect).
    thumbs = {m["id"]: next(r for r in m["renditions"] if r["name"] == "thumbnail")
              for m in (completed(api, first_id), second_item)}
    assert thumbs[first_id]["width"] > thumbs[first_id]["height"]
    assert thumbs[second_id]["width"] < thumbs[second_id]["height"]
    files = {media_id: api.get(r["url"]) for media_id, r in thumbs.items()}
    assert all(f.status_code == 200 for f in files.values())
    assert files[first_id].content != files[second_id].content
    # One row each, both pointing at their own copy under originals/.
    rows = pipeline.workers.d1_query(
        "DB", f"SELECT id, r2_key FROM media WHERE id IN ('{first_id}', '{second_id}') ORDER BY id")
    assert {r["id"]: r["r2_key"] for r in rows} == {first_id: f"originals/{first_id}", second_id: f"originals/{second_id}"}
