"""api.settings: the settings are parsed once per env, not once per event."""

from types import SimpleNamespace

import pytest

from api import settings


class CountingEnv:
    """An env whose every variable read is counted."""

    def __init__(self, **values):
        self._values, self.reads = values, 0

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        self.reads += 1
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None


class Wrapper:
    """What the SDK makes around the runtime's env at every event (workers' _EnvWrapper)."""

    def __init__(self, env):
        self._env = env

    def __getattr__(self, name):
        return getattr(self._env, name)


@pytest.fixture(autouse=True)
def forget():
    settings._last = None
    yield
    settings._last = None


def test_a_fresh_wrapper_around_the_same_env_is_not_parsed_again():
    env = CountingEnv(API_KEY="k", PUBLIC_API_URL="https://api.test/")
    first = settings.settings_from_env(Wrapper(env))
    reads = env.reads
    assert reads > 0 and first.public_api_url == "https://api.test"
    assert settings.settings_from_env(Wrapper(env)) is first
    assert settings.settings_from_env(env) is first  # the env itself, unwrapped
    assert env.reads == reads


def test_another_env_is_parsed_for_itself():
    first = settings.settings_from_env(Wrapper(SimpleNamespace(API_KEY="one")))
    second = settings.settings_from_env(Wrapper(SimpleNamespace(API_KEY="two")))
    assert first.api_keys == ("one",) and second.api_keys == ("two",)


def test_equal_proxies_of_one_js_env_count_as_the_same_env(monkeypatch):
    # In Pyodide each event gets a new JsProxy of the isolate's one env; == is JS ===.
    class FakeJsProxy:
        def __init__(self, target):
            self.target = target

        def __eq__(self, other):
            return isinstance(other, FakeJsProxy) and other.target is self.target

        __hash__ = object.__hash__

        def __getattr__(self, name):
            return getattr(self.target, name)

    monkeypatch.setattr(settings, "_JsProxy", FakeJsProxy)
    js_env = CountingEnv(API_KEY="k")
    first = settings.settings_from_env(Wrapper(FakeJsProxy(js_env)))
    reads = js_env.reads
    assert settings.settings_from_env(Wrapper(FakeJsProxy(js_env))) is first
    assert js_env.reads == reads
    other = CountingEnv(API_KEY="other")
    assert settings.settings_from_env(Wrapper(FakeJsProxy(other))).api_keys == ("other",)


def test_without_js_proxies_only_the_same_object_counts():
    # Under CPython two equal plain envs are still two envs (a test may change one of them).
    assert settings._JsProxy is None
    assert not settings._same_env(SimpleNamespace(a=1), SimpleNamespace(a=1))
