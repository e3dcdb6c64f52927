"""Ids look like Ittybit's and do not repeat."""

import re

from emulator.ids import new_id


def test_ids_have_the_prefix_and_are_unique():
    ids = {new_id("job") for _ in range(1000)}
    assert len(ids) == 1000
    assert all(re.fullmatch(r"job_[0-9a-z]{24}", job_id) for job_id in ids)
    assert new_id("task").startswith("task_")
