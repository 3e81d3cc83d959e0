"""What a run is asked to do: the judges, the rubric, which units, in which orders, within which budget."""

from __future__ import annotations

from pydantic import Field, field_validator

from judge.errors import InputError
from judge.llm.client import SamplingParams
from judge.protocols.pairwise import OrderMode
from judge.render import ResponseFormatStyle
from judge.settings import get_settings
from judge.types import Frozen

LOCAL_JUDGE = "local"


class JudgeSpec(Frozen):
    """One judge model: a LiteLLM model string and, for OpenAI-compatible servers, its api_base.

    ``response_format_style`` is how structured output is asked for: OpenAI's ``json_schema``, or
    ``json_object`` with a schema (llama-cpp-python's server, which the local judge runs on).
    """

    model: str = Field(min_length=1)
    api_base: str | None = None
    response_format_style: ResponseFormatStyle = "json_schema"


class PairSelection(Frozen):
    """Which comparisons to judge: ``human-voted`` (the voted units), ``all`` (every model pair per prompt),
    or ``baseline:MODEL`` (every model against MODEL)."""

    kind: str
    baseline: str | None = None

    @classmethod
    def parse(cls, text: str) -> PairSelection:
        if text in ("human-voted", "all"):
            return cls(kind=text)
        if text.startswith("baseline:") and len(text) > len("baseline:"):
            return cls(kind="baseline", baseline=text.removeprefix("baseline:"))
        raise InputError(f"expected human-voted, all or baseline:MODEL, got {text!r}", field="--pairs")

    def __str__(self) -> str:
        return f"baseline:{self.baseline}" if self.kind == "baseline" else self.kind


class RunConfig(Frozen):
    """A run's full configuration, stored as JSON with the run (its method card)."""

    set_name: str
    judges: tuple[JudgeSpec, ...] = Field(min_length=1)
    rubric: str
    pairs: str = "human-voted"
    models: tuple[str, ...] | None = None
    turns: tuple[int, ...] = (1,)
    order: OrderMode = OrderMode.BOTH
    seed: int | None = None
    sampling: SamplingParams = Field(default_factory=SamplingParams)
    timeout_s: float = Field(default_factory=lambda: get_settings().request_timeout_s, gt=0, allow_inf_nan=False)
    max_cost_usd: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    limit: int | None = Field(default=None, ge=1)
    concurrency: int = Field(default_factory=lambda: get_settings().concurrency, ge=1, le=1024)
    reask: bool = False
    voters: str | None = None
    tenant_api_bases: bool = False
    """Set on runs created through the API: the judges' api_bases were chosen by a tenant, so calls to them
    follow no redirect and carry no operator key (:class:`judge.llm.client.CompletionRequest`)."""

    @field_validator("pairs")
    @classmethod
    def _pairs(cls, value: str) -> str:
        PairSelection.parse(value)
        return value

    @field_validator("turns")
    @classmethod
    def _turns(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value or any(t < 1 for t in value):
            raise ValueError("turns are 1-based and at least one is needed")
        return tuple(sorted(set(value)))

    @property
    def pair_selection(self) -> PairSelection:
        return PairSelection.parse(self.pairs)
