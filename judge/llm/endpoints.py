"""Where judge calls go: api_base URLs normalised and checked against an allowlist, and judge providers.

An api_base is compared as a normalised URL (scheme, host, port, path segments), never as a string prefix:
``http://allowed/prefix/../internal`` is not under ``http://allowed/prefix``. URLs with userinfo, ``.`` or
``..`` segments (percent-encoded too), encoded slashes or backslashes, a query, a fragment, whitespace or
control characters, or a scheme other than http(s) are refused outright, so what is checked is what is sent.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Iterable, Mapping
from urllib.parse import unquote, urlsplit

from judge.core.types import Frozen
from judge.llm.lite import litellm

DEFAULT_PORTS = {"http": 80, "https": 443}
OPENAI_COMPATIBLE = "openai"
"""The provider prefix of judges on a tenant-chosen api_base: the only one whose HTTP client judge builds itself
(no redirects followed, no operator key), see :mod:`judge.llm.client`."""
_FORBIDDEN_CHARS = re.compile(r"[\s\x00-\x1f\x7f@\\?#]")


class UrlError(ValueError):
    """An api_base that is not a plain http(s) URL."""


class BaseUrl(Frozen):
    """A normalised http(s) base URL: lower-case scheme and host, explicit port, decoded path segments."""

    scheme: str
    host: str
    port: int
    segments: tuple[str, ...]

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = "" if DEFAULT_PORTS[self.scheme] == self.port else f":{self.port}"
        path = "".join(f"/{s}" for s in self.segments)
        return f"{self.scheme}://{host}{port}{path}"

    def is_under(self, prefix: BaseUrl) -> bool:
        """Same scheme, host and port, and ``prefix``'s path segments are the first of this URL's."""
        n = len(prefix.segments)
        return (self.scheme, self.host, self.port) == (prefix.scheme, prefix.host, prefix.port) and (
            self.segments[:n] == prefix.segments
        )


def normalise_url(url: str) -> BaseUrl:
    """``url`` as a :class:`BaseUrl`; raises :class:`UrlError` saying what is wrong with it."""
    if _FORBIDDEN_CHARS.search(url):
        raise UrlError("an api_base may not contain userinfo (@), a query (?), a fragment (#), \\ or whitespace")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UrlError(f"not a valid URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise UrlError("an api_base must be an http:// or https:// URL")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UrlError("an api_base needs a host")
    try:
        host = str(ipaddress.ip_address(host))  # one spelling per address (IPv6 compressed)
    except ValueError:
        if not re.fullmatch(r"[a-z0-9.\-]+", host):
            raise UrlError("an api_base host may hold letters, digits, dots and dashes only") from None
    segments = []
    for raw in parts.path.split("/"):
        if not raw:
            continue  # "//" and a trailing "/" add nothing
        segment = unquote(raw)
        if segment in (".", "..") or "/" in segment or "\\" in segment or "%" in segment:
            raise UrlError("an api_base path may not contain '.' or '..' segments or encoded slashes")
        if _FORBIDDEN_CHARS.search(segment):
            raise UrlError("an api_base path may not contain encoded control characters, @, ? or #")
        segments.append(segment)
    return BaseUrl(scheme=scheme, host=host, port=port or DEFAULT_PORTS[scheme], segments=tuple(segments))


def allowed_base(url: str, allowlist: Iterable[BaseUrl]) -> BaseUrl | None:
    """The normalised ``url`` when it is under an entry of ``allowlist``, else None (raises :class:`UrlError`
    when ``url`` itself is refused)."""
    base = normalise_url(url)
    return base if any(base.is_under(entry) for entry in allowlist) else None


def provider_of(model: str) -> str | None:
    """LiteLLM's provider of a model string (``openai`` for ``gpt-4o`` and ``openai/x``); None when unknown."""
    try:
        return str(litellm().get_llm_provider(model)[1])
    except Exception:  # LiteLLM raises for a model it cannot place
        return None


_DEFAULT_BASES: dict[str, tuple[tuple[str, ...], str]] = {
    "openai": (("OPENAI_BASE_URL", "OPENAI_API_BASE"), "https://api.openai.com/v1"),
    "anthropic": (("ANTHROPIC_API_BASE", "ANTHROPIC_BASE_URL"), "https://api.anthropic.com"),
    "ollama": (("OLLAMA_API_BASE",), "http://localhost:11434"),
    "ollama_chat": (("OLLAMA_API_BASE",), "http://localhost:11434"),
}
"""Where LiteLLM sends a provider's calls without an api_base: the first variable set, else the default."""


def effective_api_base(model: str, api_base: str | None, environ: Mapping[str, str] | None = None) -> str | None:
    """Where calls of ``model`` go: ``api_base`` (normalised when it is a plain http(s) URL) when given, else the
    provider's endpoint as LiteLLM resolves it in ``environ`` (default: this process's environment); None when
    judge cannot tell (an unknown provider, or one whose endpoint depends on more than a URL: bedrock,
    vertex_ai, azure...). For provenance (e.g. verdict keys), not a security check: the API refuses what it
    cannot place (see the README's Security)."""
    if api_base is not None:
        try:
            return str(normalise_url(api_base))
        except UrlError:
            return api_base
    env = os.environ if environ is None else environ
    provider = provider_of(model)
    if provider in _DEFAULT_BASES:
        names, default = _DEFAULT_BASES[provider]
        return next((env[n] for n in names if env.get(n)), default)
    if provider is None:
        return None
    try:
        resolved = litellm().get_llm_provider(model)[3]
    except Exception:  # LiteLLM raises for a model it cannot place
        return None
    return str(resolved) if resolved else None
