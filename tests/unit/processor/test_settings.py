from types import SimpleNamespace

import pytest

from common.messages import StoreMessage, parse_message
from processor.ittybit_client import OutputRefused
from processor.presets import DEFAULT_PRESETS
from processor.settings import input_expiry, settings_from_env


def parse_store_message(body):
    """The StoreMessage common.messages.parse_message finds in a body, or None."""
    message = parse_message(body)
    return message if isinstance(message, StoreMessage) else None


def test_input_expiry_is_stable_within_a_window_and_always_at_least_one_ttl_away():
    ttl = 3600
    assert input_expiry(7200, ttl) == input_expiry(7200 + 3599, ttl) == 4 * 3600
    for now in (0, 1, 3599, 3600, 123_456_789):
        expires = input_expiry(now, ttl)
        assert ttl <= expires - now <= 2 * ttl
        assert expires % ttl == 0


def test_settings_from_env_reads_vars_and_defaults():
    env = SimpleNamespace(
        ITTYBIT_BASE_URL="http://127.0.0.1:8790", ITTYBIT_API_KEY="k", ITTYBIT_INPUT_MODE="s3",
        ITTYBIT_CONNECTION_ID="con_1", PUBLIC_PROCESSOR_URL="https://p.test/", RECONCILE_AFTER_SECONDS="2",
        RENDITION_PRESETS="",
    )
    settings = settings_from_env(env)
    assert settings.input_mode == "s3" and settings.connection_id == "con_1"
    assert settings.webhook_url == "https://p.test/webhooks/ittybit"
    assert settings.reconcile_after_seconds == 2
    assert settings.signed_url_ttl == 3600
    assert settings.presets == DEFAULT_PRESETS
    assert settings.uploads_prefix == "uploads/"
    assert (settings.retry_max_seconds, settings.give_up_after_seconds) == (300, 86_400)
    tuned = settings_from_env(SimpleNamespace(RETRY_MAX_SECONDS="0", GIVE_UP_AFTER_SECONDS="60"))
    assert (tuned.retry_max_seconds, tuned.give_up_after_seconds) == (1, 60)


@pytest.mark.parametrize("name, value", [("ITTYBIT_INPUT_MODE", "ftp"), ("RECONCILE_AFTER_SECONDS", "soon"),
                                         ("RENDITION_PRESETS", "{bad"), ("RETRY_MAX_SECONDS", "-1"),
                                         ("GIVE_UP_AFTER_SECONDS", "a day")])
def test_settings_from_env_refuses_bad_values(name, value):
    with pytest.raises(ValueError):
        settings_from_env(SimpleNamespace(**{name: value}))


def test_reconcile_max_polls_has_a_default_and_must_be_a_positive_whole_number():
    assert settings_from_env(SimpleNamespace()).reconcile_max_polls == 288
    assert settings_from_env(SimpleNamespace(RECONCILE_MAX_POLLS=" 3 ")).reconcile_max_polls == 3
    for bad in ("0", "-2", "many", "1.5"):
        with pytest.raises(ValueError, match="RECONCILE_MAX_POLLS"):
            settings_from_env(SimpleNamespace(RECONCILE_MAX_POLLS=bad))


def test_output_host_settings_have_production_defaults_and_local_overrides():
    settings = settings_from_env(SimpleNamespace(PUBLIC_API_URL="https://api.example.com"))
    policy = settings.output_policy
    policy.check("https://media.ittybitcdn.com/f/web.mp4")
    assert settings.insecure_output_hosts == () and policy.timeout_seconds == 600
    local = settings_from_env(SimpleNamespace(
        ITTYBIT_OUTPUT_HOSTS="cdn.example.com, *.files.example.net ", ITTYBIT_INSECURE_OUTPUT_HOSTS="127.0.0.1:8790",
        ITTYBIT_OUTPUT_TIMEOUT_SECONDS="30", PUBLIC_API_URL="http://127.0.0.1:8787"))
    local.output_policy.check("http://127.0.0.1:8790/files/job_1/output.mp4")
    local.output_policy.check("https://a.files.example.net/x")
    assert local.output_policy.timeout_seconds == 30
    with pytest.raises(OutputRefused):
        local.output_policy.check("https://media.ittybitcdn.com/f/web.mp4")  # the list replaces the default
    with pytest.raises(OutputRefused):
        local.output_policy.check("http://127.0.0.1:8787/files/originals/x")  # our own API, same host name


@pytest.mark.parametrize("name, value", [
    ("ITTYBIT_OUTPUT_HOSTS", "https://cdn.example.com/path"),
    ("ITTYBIT_OUTPUT_HOSTS", "user@cdn.example.com"),
    ("ITTYBIT_OUTPUT_HOSTS", "cdn.example.com:http"),
    ("ITTYBIT_OUTPUT_HOSTS", "cdn*.example.com"),
    ("ITTYBIT_INSECURE_OUTPUT_HOSTS", "127.0.0.1:99999"),
    ("ITTYBIT_INSECURE_OUTPUT_HOSTS", "bad host"),
    ("ITTYBIT_OUTPUT_TIMEOUT_SECONDS", "soon"),
])
def test_bad_output_host_settings_name_the_var_and_not_the_value(name, value):
    with pytest.raises(ValueError) as error:
        settings_from_env(SimpleNamespace(**{name: value}))
    assert name in str(error.value) and value not in str(error.value)
