"""How `scripts/test` shares the suite between its two pytest-xdist workers (`-n 2`).

A worker is a test session of its own, with its own session-wide stack (tests/conftest.py
`pipeline`, started on first use, private ports and state). Work is handed out a unit at a time to
whichever worker is free:

* a module is a unit (its module-scoped stack, such as the reliability runs' or the reconcile
  tests', starts once; its tests run in order, as in one process);
* local_runtime/tests is one unit (its tests share the runtime's stack);
* each test of tests/unit is a unit of its own (milliseconds each: they fill the gaps);
* the slowest units go first (SLOW, longest first; measured in full runs, docs/benchmarks.md
  "Test suite time"), so that no long module starts last on one worker while the other idles.

Each e2e module already runs alone (`scripts/test tests/e2e/test_hls.py`) and after every other
module of a one-process run, so two stacks each taking some of the modules change no outcome.
Without `-n` (plain `.venv/bin/python -m pytest ...`) none of this applies.
"""

from __future__ import annotations

import pytest

# Units worth starting first, longest first (full-run durations, docs/benchmarks.md).
SLOW = (
    "tests/reliability/test_load.py",
    "local_runtime/tests",
    "tests/e2e/test_hls.py",
    "tests/reliability/test_crash.py",
    "tests/browser/test_dashboard.py",
    "tests/e2e/test_api_tus_uploads.py",
    "tests/e2e/test_processor_fit_to_source.py",
    "emulator/tests/test_formats.py",
    "tests/e2e/test_processor_reconcile.py",
    "tests/e2e/test_cli.py",
    "tests/e2e/test_processor_faults.py",
    "tests/e2e/test_processor_pipeline.py",
    "tests/e2e/test_webhooks.py",
)


def unit_of(nodeid: str) -> str:
    """The work unit of a test: its module, local_runtime/tests, or (tests/unit) the test itself."""
    if "[" in nodeid:  # a parameter may hold '::' or '/'
        head, _, params = nodeid.partition("[")
    else:
        head, params = nodeid, ""
    module = head.split("::", 1)[0]
    if module.startswith("tests/unit/"):
        return nodeid
    if module.startswith("local_runtime/tests/"):
        return "local_runtime/tests"
    return module


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    class SuiteScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return unit_of(nodeid)

        def schedule(self) -> None:
            # LoadScopeScheduling.schedule, with the queue in SLOW's order, then collection order.
            assert self.collection_is_completed
            if self.collection is not None:
                for node in self.nodes:
                    self._reschedule(node)
                return
            if not self._check_nodes_have_same_collection():
                self.log("**Different tests collected, aborting run**")
                return
            self.collection = list(next(iter(self.registered_collections.values())))
            if not self.collection:
                return
            units: dict[str, dict[str, bool]] = {}
            for nodeid in self.collection:
                units.setdefault(self._split_scope(nodeid), {})[nodeid] = False
            rank = {unit: index for index, unit in enumerate(SLOW)}
            for unit, nodeids in sorted(units.items(), key=lambda item: rank.get(item[0], len(SLOW))):
                self.workqueue[unit] = nodeids
            for _ in range(max(0, len(self.nodes) - len(self.workqueue))):
                unused, _assigned = self.assigned_work.popitem()
                unused.shutdown()
            for node in self.nodes:
                if self.workqueue:
                    self._assign_work_unit(node)
            if not self.workqueue:
                for node in self.nodes:
                    node.shutdown()

        def _reschedule(self, node) -> None:
            # A unit only to a worker down to its last test (which a worker holds back until it
            # knows what follows, for the teardowns): a long unit queued behind a module still
            # running would wait there while the other worker idles. (xdist's own threshold is 2.)
            if node.shutting_down:
                return
            if not self.workqueue:
                node.shutdown()
                return
            if self._pending_of(self.assigned_work.get(node, {})) > 1:
                return
            self._assign_work_unit(node)

    return SuiteScheduling(config, log)
