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


def test_the_local_state_routes_agree_with_wrangler_and_need_their_header(pipeline):
    # stack.d1_query goes through the running worker's /__local/d1/ route (milliseconds); wrangler's
    # `d1 execute --local` (about 2 s a call) reads the same database.
    import json

    sql = "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
    through_route = pipeline.workers.d1_query("DB", sql)
    assert "probe_failures" in {row["name"] for row in through_route}
    assert through_route == json.loads(pipeline.workers._d1_execute("DB", "--command", sql, "--json"))[0]["results"]
    import httpx

    for url in (f"{pipeline.api_url}/__local/d1/DB", f"{pipeline.processor_url}/__local/d1/DB"):
        refused = httpx.post(url, json={"sql": "SELECT 1"})  # no x-local-runtime: as a web page elsewhere would send
        assert refused.status_code == 403, refused.text
    bad = httpx.post(f"{pipeline.api_url}/__local/d1/DB", json={"sql": "SELECT * FROM no_such_table"},
                     headers={"x-local-runtime": "1"})
    assert bad.status_code == 400 and "no_such_table" in bad.json()["error"]
    # KV: what the route writes, wrangler reads back, and the other way round.
    pipeline.workers.kv_put("METADATA", "smoke:route", "from the route")
    assert pipeline.workers._kv_command("METADATA", "get", "smoke:route", "--text").strip() == "from the route"
    pipeline.workers._kv_command("METADATA", "put", "smoke:cli", "from wrangler")
    assert pipeline.workers.kv_get("METADATA", "smoke:cli") == "from wrangler"
    assert set(pipeline.workers.kv_keys("METADATA", "smoke:")) == {"smoke:route", "smoke:cli"}
    for key in ("smoke:route", "smoke:cli"):
        pipeline.workers.kv_delete("METADATA", key)
    assert pipeline.workers.kv_keys("METADATA", "smoke:") == [] and pipeline.workers.kv_get("METADATA", "smoke:cli") is None
