"""The derived config keeps the Python worker's bindings and changes only the entry point."""

from pathlib import Path

import pytest

from local_runtime.derive import (
    ConfigError,
    Notification,
    compat_flags_module,
    derived_config,
    host_config,
    load_notifications,
    load_worker,
    main_module_name,
)

ROOT = Path(__file__).resolve().parents[2]
PROBE = Path(__file__).parent / "workers" / "probe" / "wrangler.toml"


def test_bindings_vars_queues_and_triggers_are_copied_verbatim():
    worker = load_worker(PROBE)
    derived = derived_config(worker, [])
    for section in ("vars", "kv_namespaces", "r2_buckets", "queues", "triggers"):
        assert derived[section] == worker.raw[section]
    assert derived["main"] == "modules/host.mjs"
    assert "python_workers" not in derived["compatibility_flags"]
    assert derived["compatibility_date"] == worker.raw["compatibility_date"]


def test_main_module_is_imported_by_its_base_name_like_production():
    worker = load_worker(ROOT / "wrangler.api.toml")
    assert main_module_name(worker) == "entry"
    assert worker.source_dir == ROOT / "src"


def test_notification_rules_add_a_producer_binding_for_their_queue():
    worker = load_worker(PROBE)
    rule = Notification(bucket="lr-probe-bucket", queue="lr-probe-notifications", prefix="uploads/")
    derived = derived_config(worker, [rule])
    producers = derived["queues"]["producers"]
    assert {"binding": "__LOCAL_R2_NOTIFY_0", "queue": "lr-probe-notifications"} in producers
    assert host_config(worker, [rule])["notifications"][0]["prefix"] == "uploads/"
    other = Notification(bucket="someone-elses-bucket", queue="q")
    assert derived_config(worker, [other])["queues"] == worker.raw["queues"]


def test_compat_flags_follow_the_compatibility_date():
    worker = load_worker(PROBE)
    flags = compat_flags_module(worker)
    assert flags["python_workers"] is True
    assert flags["python_no_global_handlers"] is True  # on since 2025-08-14
    assert flags["python_workflows_implicit_dependencies"] is False


def test_a_javascript_worker_is_refused(tmp_path):
    config = tmp_path / "wrangler.toml"
    config.write_text('name = "js"\nmain = "index.js"\ncompatibility_date = "2025-11-01"\n')
    with pytest.raises(ConfigError, match="not a Python worker"):
        load_worker(config)


def test_project_notification_rules_are_read_from_pyproject():
    rules = load_notifications(ROOT / "pyproject.toml")
    assert rules, "pyproject.toml declares the uploads/ notification"
    assert rules[0].prefix == "uploads/"


def test_static_assets_keep_their_options_with_the_folder_made_absolute():
    worker = load_worker(ROOT / "wrangler.api.toml")
    assets = derived_config(worker, [])["assets"]
    assert assets["directory"] == str(ROOT / "dashboard" / "dist")
    assert assets["binding"] == worker.raw["assets"]["binding"]
    assert "/api/*" in assets["run_worker_first"]
