"""The bootstrap's per-event call (local_runtime/host/bootstrap.py), under CPython: the Python
half of the host, without Pyodide (the SDK's converters stand in as plain functions)."""

import asyncio
from pathlib import Path

BOOTSTRAP = Path(__file__).resolve().parent.parent / "host" / "bootstrap.py"


def bootstrap():
    namespace: dict = {}
    exec(compile(BOOTSTRAP.read_text(), str(BOOTSTRAP), "exec"), namespace)
    return namespace


class Default:
    made = 0

    def __init__(self, ctx, env):
        Default.made += 1
        self.ctx, self.env = ctx, env

    async def fetch(self, request):  # one argument: called "relaxed" with (event, None, None)
        return ("answered", request, self.env)

    async def queue(self, batch, env=None, ctx=None):
        return ("queued", batch, env, ctx)


def entrypoint(ns):
    return ns["_Entrypoint"](Default, lambda value: ("from_rpc", value), lambda value: ("to_rpc", value),
                             ns["_pyodide_relaxed_call"]())


def test_each_event_gets_a_fresh_instance_and_converted_arguments_and_result():
    ns = bootstrap()
    ep = entrypoint(ns)
    before = Default.made
    first = asyncio.run(ep.fetch("request", "env", "ctx"))
    asyncio.run(ep.fetch("request", "env", "ctx"))
    assert Default.made - before == 2
    assert first == ("to_rpc", ("answered", ("from_rpc", "request"), "env"))


def test_queue_is_called_strictly_with_the_event_and_two_nones():
    ns = bootstrap()
    assert asyncio.run(entrypoint(ns).queue("batch", "env", "ctx")) == ("to_rpc", ("queued", ("from_rpc", "batch"), None, None))


def test_relaxed_call_passes_only_the_arguments_a_method_takes():
    ns = bootstrap()
    relaxed = ns["_relaxed_call"]
    assert relaxed(lambda a: a, 1, 2, 3) == 1
    assert relaxed(lambda a, b=None: (a, b), 1, 2, 3) == (1, 2)
    assert relaxed(lambda *args: args, 1, 2, 3) == (1, 2, 3)


def test_marks_are_off_until_started_then_count_events_and_time():
    ns = bootstrap()
    ep = entrypoint(ns)
    asyncio.run(ep.fetch("request", "env", "ctx"))
    assert ep.marks is None and ep.read_marks() == (0, 0.0)
    ep.start_marks()
    for _ in range(3):
        asyncio.run(ep.fetch("request", "env", "ctx"))
    events, milliseconds = ep.read_marks()
    assert events == 3 and milliseconds >= 0.0
    ep.start_marks()  # a restart counts from zero
    assert ep.read_marks() == (0, 0.0)
