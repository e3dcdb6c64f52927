# Python half of the local runtime's host, run once by host.mjs after Pyodide boots.
# It imports the worker's main module and calls its entrypoint class the way
# Cloudflare's Python runtime does (workerd src/pyodide/internal/introspection.py):
#   - a fresh `Default(ctx, env)` for every event;
#   - arguments converted with the SDK's `python_from_rpc` (a JS Request becomes a
#     `workers.Request`), the result with `python_to_rpc` (a Response its JS object);
#   - fetch called "relaxed" (only as many arguments as it accepts: Pyodide's own
#     `pyodide.code.relaxed_call`, which introspection.py uses), queue and scheduled
#     called strictly as (event, None, None), like workerd does;
#   - `random` reseeded from real entropy before the first event.
# The SDK's converters are imported once, at load, as introspection.py imports them.
# With the bench-only LOCAL_PROFILE=1 (host.mjs) each event's Python time is summed in
# `marks`; otherwise nothing is timed.
import importlib
import inspect
import os
import random
import sys
import time
import types


def _load(app_dir, main_module, entrypoint_name):
    # The clock is frozen during top-level evaluation, so the import system's directory
    # cache would miss the files unpacked a moment ago.
    importlib.invalidate_caches()
    if app_dir not in sys.path:
        sys.path.append(app_dir)  # after site-packages, as in production
    os.chdir(app_dir)
    module = importlib.import_module(main_module)
    cls = getattr(module, entrypoint_name, None)
    if cls is None:
        raise RuntimeError(f"{main_module} defines no `{entrypoint_name}` entrypoint class")
    from workers import python_from_rpc, python_to_rpc

    return _Entrypoint(cls, python_from_rpc, python_to_rpc, _pyodide_relaxed_call())


def _pyodide_relaxed_call():
    """Pyodide's relaxed_call (what workerd's introspection.py calls); ours off Pyodide."""
    try:
        from pyodide.code import relaxed_call
    except ImportError:  # CPython (the unit tests)
        return _relaxed_call
    return relaxed_call


def _reseed():
    # os.urandom now reaches the real crypto.getRandomValues.
    random.seed(os.urandom(32))


def _relaxed_call(method, *args):
    """Call with as many positional arguments as the method accepts (workerd's relaxed_call)."""
    try:
        params = inspect.signature(method).parameters.values()
    except (TypeError, ValueError):
        return method(*args)
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return method(*args)
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return method(*args[: len(positional)])


class _Entrypoint:
    def __init__(self, cls, from_rpc, to_rpc, relaxed_call=_relaxed_call):
        self.cls = cls
        self.from_rpc = from_rpc
        self.to_rpc = to_rpc
        self.relaxed_call = relaxed_call
        self.marks = None  # [events, seconds] while the bench-only profiling is on

    async def _call(self, name, event, ctx, env, relaxed):
        marks = self.marks
        started = time.perf_counter() if marks is not None else 0.0
        instance = self.cls(ctx, env)
        method = getattr(instance, name, None)
        if method is None:
            raise TypeError(f"{self.cls.__name__} has no `{name}` handler")
        args = (self.from_rpc(event), None, None)
        result = self.relaxed_call(method, *args) if relaxed else method(*args)
        if inspect.isawaitable(result):
            result = await result
        converted = self.to_rpc(result)
        if marks is not None:
            marks[0] += 1
            marks[1] += time.perf_counter() - started
        return converted

    def start_marks(self):
        """Bench-only: sum each event's Python time from now on (host.mjs, LOCAL_PROFILE=1)."""
        self.marks = [0, 0.0]

    def read_marks(self):
        """(events, milliseconds) summed since start_marks."""
        return (self.marks[0], self.marks[1] * 1000) if self.marks is not None else (0, 0.0)

    async def fetch(self, request, env, ctx):
        return await self._call("fetch", request, ctx, env, relaxed=True)

    async def queue(self, batch, env, ctx):
        return await self._call("queue", batch, ctx, env, relaxed=False)

    async def scheduled(self, controller, env, ctx):
        return await self._call("scheduled", controller, ctx, env, relaxed=False)


local_runtime_bootstrap = types.SimpleNamespace(load=_load, reseed=_reseed)
