"""API keys never reach a log line or an error reason, even with LiteLLM debug logging on."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from judge.core.errors import FatalProviderError
from judge.core.redaction import install_redaction, redact, secret_values
from judge.core.types import ChatMessage
from judge.llm.client import CompletionRequest, LiteLLMClient
from judge.llm.retry import RetryPolicy
from judge.testing.fake_provider import FakeProvider

pytest_plugins = ["tests.fixtures_llm"]

SECRET = "sk-test-SECRET-7f3a9c2e5b1d"
LITELLM_LOGGERS = ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy")


@pytest.fixture
def secret_env(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.setenv("JUDGE_TEST_TOKEN", "tok-9f8e7d6c5b")
    return SECRET


@pytest.fixture
def litellm_debug() -> Iterator[None]:
    import litellm  # after judge.llm, which pins the bundled price map

    levels = {name: logging.getLogger(name).level for name in LITELLM_LOGGERS}
    litellm._turn_on_debug()
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def test_redact_replaces_env_secrets_key_shapes_bearer_tokens_and_url_passwords(secret_env: str) -> None:
    text = (
        f"key={secret_env} token=tok-9f8e7d6c5b other=sk-live-abcdefghij "
        "Authorization: Bearer abc.def-123456 redis://:hunter22@host:6379/0"
    )
    cleaned = redact(text)
    for leaked in (secret_env, "tok-9f8e7d6c5b", "sk-live-abcdefghij", "abc.def-123456", "hunter22"):
        assert leaked not in cleaned
    assert "redis://:***@host:6379/0" in cleaned
    assert redact("plain text about sk- and tokens") == "plain text about sk- and tokens"


def test_secret_values_ignore_short_and_unrelated_variables() -> None:
    env = {"A_API_KEY": "abcdefgh", "B_TOKEN": "x", "HOME": "/root/secret-home", "C_SECRET": "abcdefghijkl"}
    assert secret_values(env) == ["abcdefghijkl", "abcdefgh"]


def test_filter_redacts_args_exceptions_and_unlisted_loggers(secret_env: str, caplog: pytest.LogCaptureFixture) -> None:
    install_redaction()
    caplog.set_level(logging.DEBUG)
    logging.getLogger("some.library").info("connecting with %s", secret_env)
    try:
        raise RuntimeError(f"bad key {secret_env}")
    except RuntimeError:
        logging.getLogger("judge.test").exception("call failed")
    assert secret_env not in caplog.text
    assert "connecting with ***" in caplog.messages
    assert "RuntimeError: bad key ***" in caplog.text


async def test_secret_is_absent_from_logs_and_errors_of_a_real_call(
    fake_provider: FakeProvider,
    secret_env: str,
    litellm_debug: None,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    install_redaction()
    caplog.set_level(logging.DEBUG)
    # A provider that echoes the key in its 401 message, then one successful call.
    echo = f"Incorrect API key provided: {secret_env}"
    fake_provider.script([{"times": 1, "behaviour": {"kind": "error", "status": 401, "message": echo}}])
    client = LiteLLMClient(RetryPolicy(max_attempts=2, base_s=0.01))
    req = CompletionRequest(
        model="openai/fake-judge",
        api_base=fake_provider.url,
        messages=(ChatMessage(role="user", content="judge this"),),
    )
    with pytest.raises(FatalProviderError) as caught:
        await client.complete(req)
    logging.getLogger("judge.test").error("verdict failed: %s", caught.value)
    done = await client.complete(req)
    out, err = capfd.readouterr()
    assert secret_env not in str(caught.value)
    assert str(caught.value).endswith("Incorrect API key provided: ***")
    assert done.attempts == 1
    assert any(r.name == "LiteLLM" for r in caplog.records)  # debug logging really was on
    assert secret_env not in caplog.text
    assert secret_env not in out + err
