"""Where a judge's calls go: the effective api_base of a model, explicit or the provider's own."""

from __future__ import annotations

from judge.llm.endpoints import effective_api_base, provider_of


def test_an_explicit_api_base_is_normalised() -> None:
    assert effective_api_base("openai/x", "HTTP://Host:80//v1/") == "http://host/v1"
    assert effective_api_base("openai/x", "https://h:8443/v1") == "https://h:8443/v1"


def test_without_an_api_base_the_providers_endpoint_as_litellm_resolves_it() -> None:
    assert effective_api_base("openai/x", None, {}) == "https://api.openai.com/v1"
    assert effective_api_base("gpt-4o-mini", None, {}) == "https://api.openai.com/v1"
    assert effective_api_base("openai/x", None, {"OPENAI_BASE_URL": "http://proxy/v1"}) == "http://proxy/v1"
    assert effective_api_base("ollama/llama3", None, {}) == "http://localhost:11434"
    assert effective_api_base("ollama_chat/llama3", None, {"OLLAMA_API_BASE": "http://gpu:11434"}) == "http://gpu:11434"
    assert effective_api_base("anthropic/claude-x", None, {}) == "https://api.anthropic.com"
    assert effective_api_base("llamafile/x", None, {}) == "http://127.0.0.1:8080/v1"
    assert effective_api_base("bedrock/anthropic.claude-v2", None, {}) is None  # region and AWS config decide
    assert effective_api_base("no-such-provider/x", None, {}) is None


def test_provider_of() -> None:
    assert provider_of("gpt-4o") == "openai"
    assert provider_of("ollama/llama3") == "ollama"
    assert provider_of("no-such-provider/x") is None
