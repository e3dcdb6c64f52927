"""Thin helpers over the D1 binding, so SQL modules stay plain strings and parameters.

Every call retries a few times when the database reports it is busy: D1 documents
transient errors worth retrying, and locally two workerd processes share one SQLite file.
"""

import asyncio

RETRIES = 5
FIRST_DELAY_SECONDS = 0.05
TRANSIENT_MARKERS = ("SQLITE_BUSY", "database is locked", "D1_ERROR: Network connection lost")

# Statements sent through these helpers since the isolate started (a batch counts each of
# its statements; a retried statement counts once). Read by the API's optional
# X-D1-Queries header (var D1_QUERY_HEADER = "true"), which the benchmarks use.
QUERY_COUNT = 0


def _count(statements: int = 1) -> None:
    global QUERY_COUNT
    QUERY_COUNT += statements


def is_transient(error: BaseException) -> bool:
    """True for errors that a repeat of the same statement can cure."""
    text = str(error)
    return any(marker in text for marker in TRANSIENT_MARKERS)


async def _with_retries(call):
    delay = FIRST_DELAY_SECONDS
    for attempt in range(RETRIES + 1):
        try:
            return await call()
        except Exception as error:
            if attempt == RETRIES or not is_transient(error):
                raise
            await asyncio.sleep(delay)
            delay *= 2


async def all_rows(db, sql: str, *params) -> list[dict]:
    """Every row of a query, as dicts."""
    _count()
    result = await _with_retries(lambda: db.prepare(sql).bind(*params).all())
    return list(result["results"] or [])


async def first_row(db, sql: str, *params) -> dict | None:
    """The first row of a query, or None."""
    _count()
    row = await _with_retries(lambda: db.prepare(sql).bind(*params).first())
    return None if row is None else dict(row)


async def run(db, sql: str, *params) -> int:
    """Execute a statement; returns how many rows it changed."""
    _count()
    result = await _with_retries(lambda: db.prepare(sql).bind(*params).run())
    return int(result["meta"]["changes"] or 0)


async def batch(db, statements: list[tuple]) -> list[int]:
    """Run (sql, *params) statements in one transaction; returns the changes of each."""
    _count(len(statements))
    results = await _with_retries(lambda: db.batch([db.prepare(sql).bind(*params) for sql, *params in statements]))
    return [int(result["meta"]["changes"] or 0) for result in results]
