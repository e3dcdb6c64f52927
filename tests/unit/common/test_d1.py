"""common.d1 retries transient D1 errors and nothing else."""

import asyncio

import pytest

from common import d1


class FlakyStatement:
    def __init__(self, failures, error_text):
        self.failures = failures
        self.error_text = error_text
        self.calls = 0

    def bind(self, *params):
        return self

    async def run(self):
        self.calls += 1
        if self.calls <= self.failures:
            raise RuntimeError(self.error_text)
        return {"meta": {"changes": 1}}


class FlakyDb:
    def __init__(self, statement):
        self.statement = statement

    def prepare(self, sql):
        return self.statement


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch):
    monkeypatch.setattr(d1, "FIRST_DELAY_SECONDS", 0)


def test_a_busy_database_is_retried_until_it_answers():
    statement = FlakyStatement(3, "Error: D1_ERROR: database is locked: SQLITE_BUSY")
    assert asyncio.run(d1.run(FlakyDb(statement), "UPDATE x")) == 1
    assert statement.calls == 4


def test_retries_are_bounded():
    statement = FlakyStatement(99, "D1_ERROR: database is locked: SQLITE_BUSY")
    with pytest.raises(RuntimeError, match="SQLITE_BUSY"):
        asyncio.run(d1.run(FlakyDb(statement), "UPDATE x"))
    assert statement.calls == d1.RETRIES + 1


def test_other_errors_are_not_retried():
    statement = FlakyStatement(1, "D1_ERROR: UNIQUE constraint failed: media.id")
    with pytest.raises(RuntimeError, match="UNIQUE"):
        asyncio.run(d1.run(FlakyDb(statement), "INSERT x"))
    assert statement.calls == 1
