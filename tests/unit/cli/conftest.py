from __future__ import annotations

import pytest
from typer.testing import CliRunner

from media_pipeline_cli import api as api_module
from media_pipeline_cli import app as app_module
from tests.unit.cli.fake_api import BASE, KEY, FakeApi


class Cli:
    def __init__(self, fake: FakeApi) -> None:
        self.fake = fake
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None):
        return self.runner.invoke(app_module.app, list(args), input=input, catch_exceptions=False)


@pytest.fixture
def fake() -> FakeApi:
    return FakeApi()


@pytest.fixture
def cli(fake, monkeypatch, tmp_path) -> Cli:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("MEDIA_PIPELINE_URL", BASE)
    monkeypatch.setenv("MEDIA_PIPELINE_API_KEY", KEY)
    for name in ("MEDIA_PIPELINE_PROFILE", "MEDIA_PIPELINE_URL_SIGNING_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(api_module, "transport_factory", fake.transport)
    monkeypatch.setattr(app_module.out, "width", 200)
    monkeypatch.setattr(app_module.err, "width", 200)
    monkeypatch.setattr(app_module.STATE, "profile", None)
    monkeypatch.setattr(app_module.STATE, "debug", False)
    monkeypatch.setattr(app_module.time, "sleep", lambda s: None)  # wait loops poll at once
    return Cli(fake)
