# Python half of the local runtime's host, run once by host.mjs after Pyodide boots.
# It imports the worker's main module and calls its entrypoint class the way
# Cloudflare's Python runtime does (workerd src/pyodide/internal/introspection.py):
#   - a fresh `Default(ctx, env)` for every event;
#   - arguments converted with the SDK's `python_from_rpc` (a JS Request becomes a
#     `workers.Request`), the result with `python_to_rpc` (a Response its JS object);
#   - fetch called "relaxed" (only as many arguments as it accepts), queue and
#     scheduled called strictly as (event, None, None), like workerd does;
#   - `random` reseeded from real entropy before the first event.
import importlib
import inspect
import os
import random
import sys
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
    return _Entrypoint(cls)


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
    def __init__(self, cls):
        self.cls = cls

    async def _call(self, name, event, ctx, env, relaxed):
        from workers import python_from_rpc, python_to_rpc

        instance = self.cls(ctx, env)
        method = getattr(instance, name, None)
        if method is None:
            raise TypeError(f"{self.cls.__name__} has no `{name}` handler")
        args = (python_from_rpc(event), None, None)
        result = _relaxed_call(method, *args) if relaxed else method(*args)
        if inspect.isawaitable(result):
            result = await result
        return python_to_rpc(result)

    async def fetch(self, request, env, ctx):
        return await self._call("fetch", request, ctx, env, relaxed=True)

    async def queue(self, batch, env, ctx):
        return await self._call("queue", batch, ctx, env, relaxed=False)

    async def scheduled(self, controller, env, ctx):
        return await self._call("scheduled", controller, ctx, env, relaxed=False)


local_runtime_bootstrap = types.SimpleNamespace(load=_load, reseed=_reseed)
