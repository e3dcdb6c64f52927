"""The real stack starts from the README's configs: both workers, schema, emulator, deploys."""

import pytest

from local_runtime.stack import run_group, wrangler_command, wrangler_env
from scripts.pipeline_stack import ROOT


def test_both_workers_answer_health_with_memory_figures(anonymous, processor):
    for client, name in ((anonymous, "api"), (processor, "processor")):
        response = client.get("/healthz")
        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "ok" and body["worker"] == name
        assert body["memory"]["wasm_heap_bytes"] > 0
        assert body["memory"]["wasm_heap_limit_bytes"] == 128 * 1024 * 1024


def test_the_schema_is_applied_to_the_local_d1(pipeline):
    rows = pipeline.workers.d1_query("DB", "SELECT name FROM sqlite_master WHERE type = 'table'")
    assert {"media", "renditions", "webhook_deliveries"} <= {row["name"] for row in rows}


def test_applying_the_schema_twice_changes_nothing(pipeline):
    before = pipeline.workers.d1_query("DB", "SELECT COUNT(*) AS n FROM sqlite_master")
    pipeline.workers.execute_d1_file("DB", ROOT / "schema.sql")
    after = pipeline.workers.d1_query("DB", "SELECT COUNT(*) AS n FROM sqlite_master")
    assert before == after


def test_the_ittybit_emulator_is_up(pipeline):
    import httpx

    assert httpx.get(f"{pipeline.emulator_url}/healthz").status_code == 200


@pytest.mark.parametrize("config", ["wrangler.api.toml", "wrangler.processor.toml"])
def test_dry_run_deploy_bundles_the_shared_package(config, tmp_path):
    returncode, output = run_group(
        wrangler_command("deploy", "--dry-run", "--outdir", str(tmp_path), "-c", config),
        cwd=ROOT,
        env=wrangler_env(),
        timeout=180,
    )
    assert returncode == 0, output
    assert "--dry-run: exiting now." in output
    attached = {path.relative_to(tmp_path).as_posix() for path in tmp_path.rglob("*.py")}
    # `main` goes up under its base name; the shared package beside it.
    assert "entry.py" in attached
    assert "common/responses.py" in attached
    assert any(path.startswith("common/") for path in attached)
    if config == "wrangler.api.toml":  # the dashboard goes up with it, as its static assets
        assert "from the assets directory" in output and "env.ASSETS" in output
