"""What a run is asked to do: the judges, the rubric, which units, in which orders, within which budget."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self

from pydantic import Field, field_validator, model_validator

from judge.core.errors import InputError
from judge.core.protocols.pairwise import OrderMode
from judge.core.render import ResponseFormatStyle
from judge.core.types import Frozen
from judge.llm.client import SamplingParams
from judge.ratings.adaptive import StoppingRule
from judge.settings import get_settings

LOCAL_JUDGE = "local"
MAX_REPEATS = 100
"""Most samples one run asks per verdict key (``--repeats``)."""
DEFAULT_WAVE_SIZE = 20
"""Prompts per wave of an adaptive run (``--wave-size``)."""
DEFAULT_MIN_BATTLES = 50
"""Battles a model of an adaptive run needs before it may stop (``--min-battles``)."""


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


def default_timeout_s() -> float:
    """``JUDGE_REQUEST_TIMEOUT_S``: seconds per judge call when a run does not say."""
    return get_settings().request_timeout_s


def default_concurrency() -> int:
    """``JUDGE_CONCURRENCY``: judge calls in flight when a run does not say."""
    return get_settings().concurrency


def default_processes() -> int:
    """``JUDGE_PROCESSES``: worker processes of the in-process backend when a run does not say (the cores)."""
    return get_settings().processes


class RunOptions(Frozen):
    """How a run judges: every option the CLI flags (``judge run``) and the API body (``POST /v1/runs``) share,
    validated here once, with the defaults of the settings (``JUDGE_CONCURRENCY``, ``JUDGE_PROCESSES``,
    ``JUDGE_REQUEST_TIMEOUT_S``)."""

    rubric: str = Field(default="pairwise", description="A rubric id (GET /v1/rubrics)")
    pairs: str = Field(default="human-voted", description="human-voted, all, or baseline:MODEL")
    models: tuple[str, ...] | None = Field(default=None, description="Only these models' responses")
    turns: tuple[int, ...] = Field(default=(1,), description="Turns to judge (1-based)")
    order: OrderMode = Field(default=OrderMode.BOTH, description="both orders, or one seeded random order")
    seed: int | None = Field(default=None, description="Seed of order random")
    sampling: SamplingParams = Field(default_factory=SamplingParams)
    timeout_s: float = Field(
        default_factory=default_timeout_s, gt=0, allow_inf_nan=False, description="Seconds per judge call"
    )
    max_cost_usd: float | None = Field(default=None, ge=0, allow_inf_nan=False, description="Budget of the run")
    limit: int | None = Field(default=None, ge=1, description="Judge at most this many units")
    concurrency: int = Field(default_factory=default_concurrency, ge=1, le=1024, description="Judge calls in flight")
    processes: int = Field(
        default_factory=default_processes,
        ge=1,
        le=256,
        description="Worker processes the in-process backend spreads the calls in flight over (default: the cores)",
    )
    reask: bool = Field(default=False, description="Re-ask once with a format reminder when unparseable")
    repeats: int = Field(
        default=1, ge=1, le=MAX_REPEATS, description="Samples per verdict (majority decides; self-consistency shown)"
    )
    voters: str | None = Field(default=None, description="With pairs human-voted: only these voters' pairs")
    batch: bool = Field(
        default=False, description="Judge through the provider's batch API (about half the price, within 24 h)"
    )
    until_ci: float | None = Field(
        default=None,
        gt=0,
        allow_inf_nan=False,
        description="Adaptive: stop judging a model once its 95% CI half-width (Bradley-Terry rating points) is at "
        "most this",
    )
    until_separated: bool = Field(
        default=False, description="Adaptive: stop judging a model once its 95% CI is disjoint from its neighbours'"
    )
    wave_size: int = Field(
        default=DEFAULT_WAVE_SIZE, ge=1, description="Adaptive: prompts per wave (the fit is refitted after each)"
    )
    min_battles: int = Field(
        default=DEFAULT_MIN_BATTLES, ge=1, description="Adaptive: battles a model needs before it may stop"
    )
    prompt_seed: int | None = Field(
        default=None, description="Adaptive: seed of the random prompt order (drawn and recorded when not given)"
    )

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

    @model_validator(mode="after")
    def _seeded(self) -> Self:
        if self.order is OrderMode.RANDOM and self.seed is None:
            raise InputError("order random needs a seed", field="seed")
        if self.batch and self.reask:
            raise InputError("a batch run cannot re-ask (the re-ask would wait for a second batch)", field="reask")
        return self

    @model_validator(mode="after")
    def _adaptive(self) -> Self:
        if not self.adaptive:
            tuning = {"wave_size": DEFAULT_WAVE_SIZE, "min_battles": DEFAULT_MIN_BATTLES, "prompt_seed": None}
            for name, default in tuning.items():
                if getattr(self, name) != default:
                    raise InputError(f"{name} is for adaptive runs: add until_ci or until_separated", field=name)
            return self
        selection = PairSelection.parse(self.pairs)
        if selection.kind not in ("all", "baseline"):
            raise InputError(
                "adaptive judging (until_ci, until_separated) needs pairs all or baseline:MODEL", field="pairs"
            )
        if self.limit is not None:
            raise InputError("adaptive judging chooses its own prompts: drop limit", field="limit")
        return self

    @property
    def adaptive(self) -> bool:
        """Whether models stop once judged enough (``until_ci`` / ``until_separated``), wave by wave."""
        return self.until_ci is not None or self.until_separated

    def stopping_rule(self) -> StoppingRule:
        """The adaptive stopping rule of this request (an adaptive request only)."""
        return StoppingRule(until_ci=self.until_ci, until_separated=self.until_separated, min_battles=self.min_battles)


class RunConfig(RunOptions):
    """A run's full configuration, stored as JSON with the run (its method card): the resolved request."""

    set_name: str
    judges: tuple[JudgeSpec, ...] = Field(min_length=1)
    tenant_api_bases: bool = False
    """Set on runs created through the API: the judges' api_bases were chosen by a tenant, so calls to them
    follow no redirect and carry no operator key (:class:`judge.llm.client.CompletionRequest`)."""

    @classmethod
    def from_stored(cls, stored: Mapping[str, Any]) -> RunConfig:
        """The configuration a run was stored with (``Run.config``, which also holds its method card)."""
        return cls.model_validate({k: v for k, v in stored.items() if k in cls.model_fields})

    @property
    def pair_selection(self) -> PairSelection:
        return PairSelection.parse(self.pairs)
