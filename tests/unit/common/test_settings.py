"""common.settings.isolate_env: one SDK env wrapper for the isolate, whatever the event."""

from types import SimpleNamespace

import pytest

from common import settings


class Wrapper:
    """The SDK's _EnvWrapper: made afresh around the runtime's env at every event."""

    def __init__(self, env):
        self._env = env


@pytest.fixture(autouse=True)
def forget():
    settings._kept = None
    yield
    settings._kept = None


def test_later_events_get_the_first_events_wrapper_of_the_same_env():
    runtime_env = SimpleNamespace(API_KEY="k")
    first = Wrapper(runtime_env)
    assert settings.isolate_env(first) is first
    assert settings.isolate_env(Wrapper(runtime_env)) is first
    assert settings.isolate_env(Wrapper(runtime_env)) is first


def test_equal_proxies_of_the_runtime_env_count_as_the_same_env():
    class Proxy:  # each event's JsProxy of the one JS env: equal (JS ===), not identical
        def __init__(self, target):
            self.target = target

        def __eq__(self, other):
            return isinstance(other, Proxy) and other.target is self.target

        __hash__ = object.__hash__

    js_env = object()
    first = Wrapper(Proxy(js_env))
    assert settings.isolate_env(first) is first
    assert settings.isolate_env(Wrapper(Proxy(js_env))) is first
    other = Wrapper(Proxy(object()))
    assert settings.isolate_env(other) is other  # another env: its own wrapper, kept from now on


def test_an_env_that_is_not_the_sdks_wrapper_is_returned_as_it_is():
    env = SimpleNamespace(API_KEY="k")
    assert settings.isolate_env(env) is env
    assert settings._kept is None
