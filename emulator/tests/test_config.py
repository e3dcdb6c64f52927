"""Options beat env vars, which beat defaults."""

import pytest

from emulator.config import DEFAULT_WEBHOOK_SECRET, parse_config, webhook_secret_bytes


def test_defaults():
    config = parse_config([], {})
    assert (config.host, config.port, config.workers) == ("127.0.0.1", 8790, 2)
    assert config.webhook_secret == DEFAULT_WEBHOOK_SECRET and len(config.secret_bytes()) == 32
    assert config.switches.error_rate == 0


def test_env_then_options():
    env = {"ITTYBIT_EMULATOR_PORT": "9000", "ITTYBIT_API_KEY": "env-key", "ITTYBIT_EMULATOR_ERROR_RATE": "0.2",
           "ITTYBIT_EMULATOR_FAULTS": '{"slow_ms": 5, "error_rate": 0.1}', "ITTYBIT_EMULATOR_WORKERS": "3"}
    config = parse_config(["--port", "9100", "--reorder-webhooks", "true"], env)
    assert (config.port, config.api_key, config.workers) == (9100, "env-key", 3)
    assert config.switches.error_rate == 0.2 and config.switches.slow_ms == 5 and config.switches.reorder_webhooks


def test_bad_values_are_rejected():
    with pytest.raises(ValueError):
        parse_config(["--error-rate", "3"], {})
    with pytest.raises(ValueError):
        webhook_secret_bytes("whsec_not base64!")
