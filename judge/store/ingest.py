"""Write an ImportBundle to the store in the caller's transaction: all of it, or (on error) none of it."""

from __future__ import annotations

from pydantic import BaseModel
from sqlalchemy import Table, func
from sqlmodel import Session, col, select

from judge.core.errors import InputError
from judge.core.hashing import content_hash
from judge.importers.bundle import ImportBundle
from judge.importers.records import PromptRecord, ResponseRecord, VoteRecord
from judge.store.tables import DEFAULT_TENANT, Prompt, PromptSet, Response, Vote
from judge.store.upsert import insert_ignoring_conflicts


class ImportCounts(BaseModel):
    """How many rows an import added (0 everywhere when the same data is imported again)."""

    prompts_added: int = 0
    references_added: int = 0
    responses_added: int = 0
    votes_added: int = 0


PROMPT_SET_TABLE: Table = PromptSet.__table__  # type: ignore[attr-defined]


def get_or_create_set(session: Session, name: str, tenant: str = DEFAULT_TENANT) -> PromptSet:
    """The prompt set ``name`` of ``tenant``, created if new, in the caller's transaction. Two writers creating it
    at once both get it: the insert skips a set another transaction has just created (having waited for its
    commit), and the set is read back (no savepoint: SQLite's driver would commit the transaction at its
    release)."""
    query = select(PromptSet).where(PromptSet.tenant == tenant, PromptSet.name == name)
    found = session.exec(query).first()
    if found is not None:
        return found
    row = PromptSet(tenant=tenant, name=name).model_dump(exclude={"id"})
    insert_ignoring_conflicts(session, PROMPT_SET_TABLE, [row], ["tenant", "name"])
    return session.exec(query).one()


def response_hash(turns: list[str]) -> str:
    """Content hash of a response's turns (part of every verdict key that judges it)."""
    return content_hash(turns)


def vote_key(tenant: str, set_name: str, vote: VoteRecord, source: str) -> str:
    """Deterministic identity of an imported vote: the same vote imported twice is stored once."""
    return content_hash(
        [
            tenant,
            set_name,
            vote.prompt_id,
            vote.model_a,
            vote.model_b,
            vote.winner.value,
            vote.voter,
            vote.turn,
            source,
            vote.tstamp,
        ]
    )


def unknown_prompt(external_id: str, set_name: str, location: str) -> InputError:
    """The error for a vote on a prompt the set lacks (without ``--create-missing``)."""
    return InputError(
        f"unknown prompt {external_id!r} in set {set_name!r} (import the prompts first, or pass --create-missing)",
        location=location,
        field="prompt_id",
    )


def unknown_model(model: str, set_name: str, location: str, field: str) -> InputError:
    """The error for a vote naming a model with no responses in the set (without ``--create-missing``)."""
    return InputError(
        f"unknown model {model!r}: no responses of it in set {set_name!r} (import them first, or pass "
        "--create-missing)",
        location=location,
        field=field,
    )


class _Writer:
    """One import into one prompt set; every check happens before rows are flushed that depend on it."""

    def __init__(self, session: Session, prompt_set: PromptSet, create_missing: bool) -> None:
        self.session = session
        self.prompt_set = prompt_set
        self.create_missing = create_missing
        self.counts = ImportCounts()
        assert prompt_set.id is not None
        self.set_id: int = prompt_set.id
        self.prompts: dict[str, Prompt] = {
            p.external_id: p for p in session.exec(select(Prompt).where(Prompt.set_id == self.set_id))
        }
        self.responses: dict[tuple[int, str], Response] = {
            (r.prompt_id, r.model): r
            for r in session.exec(select(Response).join(Prompt).where(Prompt.set_id == self.set_id))
        }

    def add_prompt(self, record: PromptRecord) -> None:
        existing = self.prompts.get(record.prompt_id)
        if existing is None:
            prompt = Prompt(
                set_id=self.set_id,
                external_id=record.prompt_id,
                category=record.category,
                turns=list(record.turns),
                reference_turns=record.reference_turns,
            )
            self.session.add(prompt)
            self.prompts[record.prompt_id] = prompt
            self.counts.prompts_added += 1
            self.counts.references_added += record.reference_turns is not None
            return
        if existing.turns and existing.turns != record.turns:
            raise InputError(
                f"prompt {record.prompt_id!r} is already stored with different turns",
                location=record.location,
                field="turns",
            )
        if not existing.turns:
            existing.turns = list(record.turns)
            existing.category = existing.category or record.category
        if record.reference_turns is not None:
            if existing.reference_turns is None:
                existing.reference_turns = list(record.reference_turns)
                self.counts.references_added += 1
            elif existing.reference_turns != record.reference_turns:
                raise InputError(
                    f"prompt {record.prompt_id!r} is already stored with a different reference",
                    location=record.location,
                    field="reference_turns",
                )
        self.session.add(existing)

    def prompt_id(self, external_id: str, location: str, category: str | None) -> int:
        prompt = self.prompts.get(external_id)
        if prompt is None:
            if not self.create_missing:
                raise unknown_prompt(external_id, self.prompt_set.name, location)
            prompt = Prompt(set_id=self.set_id, external_id=external_id, category=category, turns=[])
            self.session.add(prompt)
            self.prompts[external_id] = prompt
            self.counts.prompts_added += 1
        if prompt.id is None:
            self.session.flush()
        assert prompt.id is not None
        return prompt.id

    def add_response(self, record: ResponseRecord) -> None:
        prompt_id = self.prompt_id(record.prompt_id, record.location, None)
        existing = self.responses.get((prompt_id, record.model))
        if existing is not None:
            if existing.turns != record.turns:
                raise InputError(
                    f"{record.model!r} already has a different response to prompt {record.prompt_id!r}",
                    location=record.location,
                    field="turns",
                )
            return
        response = Response(
            prompt_id=prompt_id,
            model=record.model,
            turns=list(record.turns),
            content_hash=response_hash(list(record.turns)),
        )
        self.session.add(response)
        self.responses[(prompt_id, record.model)] = response
        self.counts.responses_added += 1

    def add_votes(self, votes: list[VoteRecord], source: str) -> None:
        for vote in votes:
            if vote.prompt_turns is not None and vote.prompt_id not in self.prompts:
                self.add_prompt(
                    PromptRecord(
                        prompt_id=vote.prompt_id,
                        turns=vote.prompt_turns,
                        category=vote.category,
                        location=vote.location,
                    )
                )
            for model, answer in ((vote.model_a, vote.answer_a), (vote.model_b, vote.answer_b)):
                if answer is not None:
                    self.add_response(
                        ResponseRecord(prompt_id=vote.prompt_id, model=model, turns=answer, location=vote.location)
                    )
        known_models = {model for (_, model) in self.responses}
        rows = []
        for vote in votes:
            prompt_id = self.prompt_id(vote.prompt_id, vote.location, vote.category)
            for field, model in (("model_a", vote.model_a), ("model_b", vote.model_b)):
                if model not in known_models and not self.create_missing:
                    raise unknown_model(model, self.prompt_set.name, vote.location, field)
            rows.append(
                {
                    "vote_key": vote_key(self.prompt_set.tenant, self.prompt_set.name, vote, source),
                    "set_id": self.set_id,
                    "prompt_id": prompt_id,
                    "model_a": vote.model_a,
                    "model_b": vote.model_b,
                    "winner": vote.winner.value,
                    "voter": vote.voter,
                    "turn": vote.turn,
                    "source": source,
                    "tstamp": vote.tstamp,
                }
            )
        self.session.flush()
        before = self._vote_count()
        insert_ignoring_conflicts(self.session, Vote.__table__, rows, ["vote_key"])  # type: ignore[attr-defined]
        self.counts.votes_added = self._vote_count() - before

    def _vote_count(self) -> int:
        stmt = select(func.count()).select_from(Vote).where(col(Vote.set_id) == self.set_id)
        return int(self.session.exec(stmt).one())


def write_bundle(
    session: Session,
    *,
    set_name: str,
    bundle: ImportBundle,
    tenant: str = DEFAULT_TENANT,
    source: str = "import",
    create_missing: bool = False,
) -> ImportCounts:
    """Write ``bundle`` into set ``set_name``; raises InputError (the caller rolls back) on any conflict."""
    writer = _Writer(session, get_or_create_set(session, set_name, tenant), create_missing)
    for prompt in bundle.prompts:
        writer.add_prompt(prompt)
    for response in bundle.responses:
        writer.add_response(response)
    writer.add_votes(bundle.votes, source)
    session.flush()
    return writer.counts
