"""Memory figures for health checks: Pyodide's Wasm heap, which holds all of Python's memory."""

PRODUCTION_LIMIT_BYTES = 128 * 1024 * 1024  # memory of one isolate in production


def wasm_heap_bytes() -> int | None:
    """Size of Pyodide's Wasm heap (it only grows, so it reads as the peak); None off Pyodide."""
    try:
        import pyodide_js  # provided by Pyodide, absent under CPython
    except ImportError:
        return None
    try:
        return int(pyodide_js._module.HEAP8.length)
    except AttributeError:
        return None


def memory_figures() -> dict:
    """The figures /healthz reports."""
    heap = wasm_heap_bytes()
    return {
        "wasm_heap_bytes": heap,
        "wasm_heap_limit_bytes": PRODUCTION_LIMIT_BYTES,
        "wasm_heap_used_ratio": None if heap is None else round(heap / PRODUCTION_LIMIT_BYTES, 4),
    }
