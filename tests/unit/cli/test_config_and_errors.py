"""login and profiles (a file only the user can read), env overrides, errors in words, exit codes, --help."""

from __future__ import annotations

import json
import stat

import httpx
import pytest
import typer

from media_pipeline_cli import api as api_module
from media_pipeline_cli import app as app_module
from media_pipeline_cli import config
from tests.unit.cli.fake_api import BASE, KEY


def test_login_saves_a_profile_readable_only_by_the_user(cli, fake, tmp_path, monkeypatch):
    monkeypatch.delenv("MEDIA_PIPELINE_URL")
    monkeypatch.delenv("MEDIA_PIPELINE_API_KEY")
    result = cli("login", "--url", BASE + "/", "--api-key", KEY)
    assert result.exit_code == 0, result.output
    path = tmp_path / "config" / "media-pipeline" / "config.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    data = json.loads(path.read_text())
    assert data == {"default": "default", "profiles": {"default": {"url": BASE, "api_key": KEY}}}
    assert KEY not in result.output  # the key is never echoed
    assert cli("stats", "--json").exit_code == 0  # the saved profile is used


def test_login_asks_for_the_key_hidden_and_checks_it(cli, fake, monkeypatch):
    monkeypatch.delenv("MEDIA_PIPELINE_API_KEY")
    refused = cli("login", "--url", BASE, input="wrong-key\n")
    assert refused.exit_code == app_module.EXIT_AUTH and "unauthorized" in refused.stderr
    assert "wrong-key" not in refused.output
    assert not config.config_path().exists()  # nothing saved
    ok = cli("login", "--url", BASE, input=f"{KEY}\n")
    assert ok.exit_code == 0 and config.config_path().exists()


def test_profiles_by_name_and_the_environment_overrides(cli, fake, monkeypatch):
    monkeypatch.delenv("MEDIA_PIPELINE_URL")
    monkeypatch.delenv("MEDIA_PIPELINE_API_KEY")
    config.save_profile("prod", "https://prod.example", "prod-key")
    config.save_profile("local", BASE, KEY)  # the last logged in is the default
    assert config.resolve().name == "local"
    assert config.resolve("prod").url == "https://prod.example"
    monkeypatch.setenv("MEDIA_PIPELINE_PROFILE", "prod")
    assert config.resolve().api_key == "prod-key"
    monkeypatch.setenv("MEDIA_PIPELINE_API_KEY", "env-key")
    assert config.resolve().api_key == "env-key" and config.resolve().url == "https://prod.example"
    monkeypatch.delenv("MEDIA_PIPELINE_PROFILE")
    monkeypatch.delenv("MEDIA_PIPELINE_API_KEY")
    assert cli("--profile", "local", "stats").exit_code == 0
    unknown = cli("--profile", "staging", "stats")
    assert unknown.exit_code == app_module.EXIT_AUTH and "no profile named 'staging'" in unknown.stderr


def test_without_any_configuration_the_error_says_what_to_run(cli, monkeypatch):
    monkeypatch.delenv("MEDIA_PIPELINE_URL")
    monkeypatch.delenv("MEDIA_PIPELINE_API_KEY")
    result = cli("ls")
    assert result.exit_code == app_module.EXIT_AUTH
    assert "media-pipeline login" in result.stderr and "MEDIA_PIPELINE_URL" in result.stderr


def test_a_wrong_key_is_exit_3_with_the_api_code(cli, monkeypatch):
    monkeypatch.setenv("MEDIA_PIPELINE_API_KEY", "nope")
    result = cli("stats")
    assert result.exit_code == app_module.EXIT_AUTH
    assert "A valid API key is needed. (code unauthorized, HTTP 401)" in result.stderr
    assert "Traceback" not in result.output


def test_an_unreachable_api_is_exit_5_and_debug_shows_the_traceback(cli, monkeypatch):
    def refuse(request):
        raise httpx.ConnectError("connection refused")

    monkeypatch.setattr(api_module, "transport_factory", lambda: httpx.MockTransport(refuse))
    result = cli("stats")
    assert result.exit_code == app_module.EXIT_API
    assert "cannot reach http://api.test" in result.stderr and "network_error" in result.stderr
    assert "Traceback" not in result.output
    debug = cli("--debug", "stats")
    assert debug.exit_code == app_module.EXIT_API and "Traceback" in debug.stderr


def test_a_server_error_is_retried_for_reads_then_reported(cli, fake, monkeypatch):
    answers = iter([httpx.Response(503, json={"error": "Busy.", "code": "busy"}, headers={"Retry-After": "1"})] * 2
                   + [httpx.Response(200, json={"total": 0})])
    monkeypatch.setattr(api_module, "transport_factory", lambda: httpx.MockTransport(lambda r: next(answers)))
    assert cli("stats", "--json").exit_code == 0
    always = httpx.Response(500, json={"error": "Something broke.", "code": "internal_error"})
    monkeypatch.setattr(api_module, "transport_factory", lambda: httpx.MockTransport(lambda r: always))
    result = cli("stats")
    assert result.exit_code == app_module.EXIT_API and "internal_error" in result.stderr


def commands(group: typer.Typer, prefix=()):
    for command in group.registered_commands:
        yield (*prefix, command.name or command.callback.__name__)
    for sub in group.registered_groups:
        yield from commands(sub.typer_instance, (*prefix, sub.name))


@pytest.mark.parametrize("command", list(commands(app_module.app)), ids=" ".join)
def test_every_command_has_help_with_examples(cli, command):
    result = cli(*command, "--help")
    assert result.exit_code == 0
    assert "Examples" in result.stdout and "media-pipeline " in result.stdout.split("Examples", 1)[1]


def test_top_level_help_documents_exit_codes_and_completion(cli):
    result = cli("--help")
    assert "Exit codes" in result.stdout and "--install-completion" in result.stdout
    assert cli("--version").stdout.strip().startswith("media-pipeline ")


def test_a_download_that_cannot_connect_is_a_network_error_not_a_crash(cli, fake, monkeypatch):
    from tests.unit.cli.fake_api import media_record

    fake.media["01aaaaaaaaaaaaaaaaaaaaaaaa"] = media_record("01aaaaaaaaaaaaaaaaaaaaaaaa")
    real = fake.handle

    def no_files(request):
        if request.url.path.startswith("/files/"):
            raise httpx.ConnectError("connection refused")
        return real(request)

    monkeypatch.setattr(api_module, "transport_factory", lambda: httpx.MockTransport(no_files))
    result = cli("download", "01aaaaaaaaaaaaaaaaaaaaaaaa")
    assert result.exit_code == app_module.EXIT_API and "network_error" in result.stderr
    assert "unexpected" not in result.stderr


def test_logout_forgets_the_profile_and_the_next_becomes_the_default(cli, monkeypatch):
    monkeypatch.delenv("MEDIA_PIPELINE_URL")
    monkeypatch.delenv("MEDIA_PIPELINE_API_KEY")
    config.save_profile("a", BASE, KEY)
    config.save_profile("b", BASE, "other")
    assert cli("logout").exit_code == 0  # b, the default
    data = config.load_file()
    assert set(data["profiles"]) == {"a"} and data["default"] == "a"
    assert stat.S_IMODE(config.config_path().stat().st_mode) == 0o600
    assert cli("--profile", "b", "logout").exit_code == app_module.EXIT_NOT_FOUND
