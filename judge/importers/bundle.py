"""What an importer produces: validated prompts, responses and votes, not yet written anywhere."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from judge.importers.records import PromptRecord, ResponseRecord, VoteRecord


class ImportBundle(BaseModel):
    """Validated records from one import, written to the store in one transaction (all or nothing)."""

    model_config = ConfigDict(frozen=True)

    prompts: list[PromptRecord] = []
    responses: list[ResponseRecord] = []
    votes: list[VoteRecord] = []
