"""Votes files read column-wise (JSONL, CSV, Parquet) with pyarrow: whole columns parsed and validated at once.

The per-row reader (:func:`judge.importers.generic.read_votes`) stays the definition of what a valid votes file is
and the only place error messages are written. The columnar reader accepts a file only when every column it uses
passes checks at least as strict as the per-row validation (types, required fields, winner spellings, NUL bytes,
finite numbers, ``model_a != model_b``, one JSON object per non-blank line, the line length limit, valid UTF-8).
When any check fails (or the file uses a form the columnar checks do not cover: Arena conversations, two aliases of
one field in a JSON file, a byte-order mark), the file is read again by the per-row reader, which raises the same
``file:line: field`` error as before (or, if the file is valid after all, returns its votes). So a file is read
all-or-nothing either way, with the same messages.

Parquet has no per-row reader of its own: its rows (nulls as absent fields) go through the same record validation,
located ``file:ROW`` (1-based).

pyarrow is an optional dependency (``pip install 'judge[columnar]'``): without it JSONL and CSV are read per row
(same results, slower) and Parquet is refused with that hint.
"""

from __future__ import annotations

import csv
import fnmatch
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from judge.core.errors import InputError
from judge.core.types import PairVote, Winner
from judge.importers.generic import read_votes, vote_from
from judge.importers.lines import MAX_LINE_BYTES, Located, read_csv
from judge.importers.records import MAX_STORED_INT, WINNER_SPELLINGS, VoteRecord
from judge.metrics.categories import in_category
from judge.ratings.battles import Battles

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]

WINNERS: tuple[Winner, ...] = (Winner.MODEL_A, Winner.MODEL_B, Winner.TIE, Winner.TIE_BOTHBAD)
"""Winner codes of :class:`VoteColumns` (index into this tuple)."""

_OUTCOME_OF_CODE = np.array([1.0, 0.0, 0.5, 0.5])
_SPELLINGS = tuple(WINNER_SPELLINGS)
_CODE_OF_SPELLING = np.array([WINNERS.index(WINNER_SPELLINGS[s]) for s in _SPELLINGS], dtype=np.int64)
_ALIASES: dict[str, tuple[str, ...]] = {
    "prompt_id": ("prompt_id", "question_id"),
    "model_a": ("model_a",),
    "model_b": ("model_b",),
    "winner": ("winner",),
    "voter": ("voter", "judge"),
    "turn": ("turn",),
    "category": ("category",),
    "tstamp": ("tstamp",),
}
_PER_ROW_ONLY = ("conversation_a", "conversation_b")
PARQUET_SUFFIXES = (".parquet", ".pq")


class _NotColumnar(Exception):
    """The columnar checks did not accept the file: read it per row (which says what is wrong, if anything)."""


@dataclass(frozen=True)
class RowLocations:
    """Each row's location as the per-row reader writes it: ``file:LINE`` for JSONL (row + 1: the columnar checks
    accept no blank line), ``file:ROW`` for Parquet (row + 1), for CSV the line where the row ends (quoted newlines
    move it, so the file is read again to find it, on the error path only), or each record's own location (a file
    read per row)."""

    name: str
    csv_path: Path | None = None
    given: tuple[str, ...] | None = None

    def __call__(self, row: int) -> str:
        if self.given is not None:
            return self.given[row]
        if self.csv_path is not None:
            for k, record in enumerate(read_csv(self.csv_path)):
                if k == row:
                    return record.location
        return f"{self.name}:{row + 1}"


@dataclass(frozen=True, eq=False)
class VoteColumns:
    """Pairwise votes as columns: ``a``/``b`` index ``models``, ``winner`` indexes :data:`WINNERS`, ``turn`` is the
    turn itself. ``prompt_ids``, ``voters`` and ``categories`` hold one value per vote (pyarrow arrays, or numpy
    object arrays), turned into Python values only when a filter or PairVote objects need them."""

    models: tuple[str, ...]
    a: IntArray
    b: IntArray
    winner: IntArray
    turn: IntArray
    prompt_ids: Any
    voters: Any
    categories: Any
    tstamps: FloatArray | None = None
    """Each vote's timestamp, NaN where it has none (None: not known, e.g. columns of PairVotes)."""
    locations: RowLocations | None = None
    """Where each vote came from (None once filtered)."""

    def __len__(self) -> int:
        return len(self.a)

    def location(self, row: int) -> str:
        """``file:line`` of vote ``row``, as the per-row reader would name it."""
        return self.locations(row) if self.locations is not None else f"vote {row + 1}"

    def take(self, keep: NDArray[np.bool_]) -> VoteColumns:
        """Only the votes where ``keep`` is true."""
        return VoteColumns(
            self.models,
            self.a[keep],
            self.b[keep],
            self.winner[keep],
            self.turn[keep],
            _filtered(self.prompt_ids, keep),
            _filtered(self.voters, keep),
            _filtered(self.categories, keep),
            None if self.tstamps is None else self.tstamps[keep],
        )

    def where_voters(self, pattern: str | None) -> VoteColumns:
        """Only the votes of voters matching the glob ``pattern`` (all for None)."""
        if pattern is None:
            return self
        values, codes = _encoded(self.voters)
        matching = np.array([fnmatch.fnmatchcase(v, pattern) for v in values], dtype=bool)
        return self.take(matching[codes] if len(values) else np.zeros(len(self), dtype=bool))

    def in_category(self, name: str | None) -> VoteColumns:
        """Only the votes on prompts of category ``name`` (see :func:`judge.metrics.categories.in_category`)."""
        if name is None:
            return self
        values, codes = _encoded(self.categories)
        matching = np.array([in_category(c, name) for c in values], dtype=bool)
        return self.take(matching[codes] if len(values) else np.zeros(len(self), dtype=bool))

    def where_prompts(self, prompt_ids: set[str]) -> VoteColumns:
        """Only the votes on the prompts ``prompt_ids``."""
        values, codes = _encoded(self.prompt_ids)
        matching = np.array([v in prompt_ids for v in values], dtype=bool)
        return self.take(matching[codes] if len(values) else np.zeros(len(self), dtype=bool))

    def battles(self) -> Battles:
        """One battle per vote, models in sorted order (as :func:`judge.ratings.battles.battles_from_votes`)."""
        seen = np.zeros(len(self.models), dtype=bool)
        seen[self.a] = True
        seen[self.b] = True
        names = tuple(m for m, s in zip(self.models, seen, strict=True) if s)
        order = np.argsort(np.array(names, dtype=object)) if names else np.zeros(0, dtype=np.int64)
        names = tuple(names[k] for k in order)
        remap = np.full(len(self.models), -1, dtype=np.int64)
        remap[np.flatnonzero(seen)[order]] = np.arange(len(names))
        return Battles(names, remap[self.a], remap[self.b], _OUTCOME_OF_CODE[self.winner])

    def pair_votes(self) -> list[PairVote]:
        """The votes as :class:`PairVote` objects (for the paths that need them)."""
        return [
            PairVote.model_construct(
                prompt_id=p,
                model_a=self.models[a],
                model_b=self.models[b],
                winner=WINNERS[w],
                voter=v,
                turn=int(t),
                category=c,
            )
            for a, b, w, p, v, c, t in zip(
                self.a.tolist(),
                self.b.tolist(),
                self.winner.tolist(),
                _as_list(self.prompt_ids),
                _as_list(self.voters),
                _as_list(self.categories),
                self.turn.tolist(),
                strict=True,
            )
        ]

    def codes(self, field: str) -> tuple[Sequence[Any], IntArray]:
        """The distinct values of ``prompt_ids``, ``voters`` or ``categories`` in order of first appearance, and
        each vote's index among them."""
        return _encoded(getattr(self, field))

    @classmethod
    def from_votes(cls, votes: Sequence[VoteRecord | PairVote]) -> VoteColumns:
        """Columns of already validated votes (VoteRecords keep their timestamps and locations)."""
        index: dict[str, int] = {}
        names = [v.model_a for v in votes] + [v.model_b for v in votes]
        ab = np.fromiter((index.setdefault(m, len(index)) for m in names), dtype=np.int64, count=len(names))
        n = len(votes)
        records = [v for v in votes if isinstance(v, VoteRecord)]
        known = len(records) == n
        return cls(
            models=tuple(index),
            a=ab[:n],
            b=ab[n:],
            winner=np.fromiter((WINNERS.index(v.winner) for v in votes), dtype=np.int64, count=n),
            turn=np.fromiter((v.turn for v in votes), dtype=np.int64, count=n),
            prompt_ids=np.array([v.prompt_id for v in votes], dtype=object),
            voters=np.array([v.voter for v in votes], dtype=object),
            categories=np.array([v.category for v in votes], dtype=object),
            tstamps=np.array([np.nan if v.tstamp is None else v.tstamp for v in records], dtype=np.float64)
            if known
            else None,
            locations=RowLocations("", given=tuple(v.location for v in records)) if known else None,
        )


def _encoded(values: Any) -> tuple[Sequence[Any], IntArray]:
    """Distinct values and each element's index among them."""
    if isinstance(values, np.ndarray):
        index: dict[Any, int] = {}
        codes = np.fromiter((index.setdefault(v, len(index)) for v in values.tolist()), dtype=np.int64)
        return list(index), codes
    return _codes(values)


def _filtered(values: Any, keep: NDArray[np.bool_]) -> Any:
    if isinstance(values, np.ndarray):
        return values[keep]
    import pyarrow as pa

    return values.filter(pa.array(keep))


def _as_list(values: Any) -> list[Any]:
    return values.tolist() if isinstance(values, np.ndarray) else list(values.to_pylist())


def read_vote_columns(path: Path) -> VoteColumns:
    """Every vote of a JSONL, CSV or Parquet file as columns; the first bad row raises (``file:line: field``)."""
    votes = read_vote_file(path)
    return votes if isinstance(votes, VoteColumns) else VoteColumns.from_votes(votes)


def read_vote_file(path: Path) -> VoteColumns | list[VoteRecord]:
    """Every vote of a JSONL, CSV or Parquet file: as columns when the columnar checks accept the file, else as the
    per-row reader's records (Arena conversations, forms the checks leave to it, no pyarrow installed); the first
    bad row raises (``file:line: field``) either way."""
    if not path.is_file():
        raise InputError("no such file", location=str(path))
    suffix = path.suffix.lower()
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        if suffix in PARQUET_SUFFIXES:
            raise InputError(
                "reading Parquet needs pyarrow: pip install 'judge[columnar]'", location=str(path)
            ) from None
        return read_votes(path)
    if suffix in PARQUET_SUFFIXES:
        return _read_parquet(path)
    try:
        if suffix in (".jsonl", ".ndjson"):
            table, nul_free = _jsonl_table(path)
            return _columns(table, RowLocations(path.name), coalesce=False, text_cells=False, nul_free=nul_free)
        if suffix == ".csv":
            return _columns(_csv_table(path), RowLocations(path.name, csv_path=path), coalesce=False, text_cells=True)
    except _NotColumnar:
        pass
    return read_votes(path)


def _jsonl_table(path: Path) -> tuple[Any, bool]:
    """The file as a table, and whether it holds no NUL character at all (raw or escaped)."""
    import pyarrow as pa
    import pyarrow.json as pj

    data = path.read_bytes()
    if data.startswith(b"\xef\xbb\xbf") or b"\r" in data[:65536]:
        raise _NotColumnar
    ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)
    lengths = np.diff(ends, prepend=-1) if len(ends) else np.zeros(0, dtype=np.int64)
    tail = len(data) - (int(ends[-1]) + 1 if len(ends) else 0)
    if (len(lengths) and int(lengths.max()) > MAX_LINE_BYTES) or tail > MAX_LINE_BYTES:
        raise _NotColumnar
    try:
        table = pj.read_json(pa.BufferReader(data), read_options=pj.ReadOptions(block_size=16 << 20))
        table.validate(full=True)  # UTF-8 of every string, used or not (the per-row reader decodes every line)
    except (pa.ArrowException, ValueError, UnicodeDecodeError) as exc:
        raise _NotColumnar from exc
    if table.num_rows != len(ends) + (1 if tail and data[-tail:].strip() else 0):
        raise _NotColumnar  # blank lines, or a line that is not exactly one JSON object
    return table, b"\\u0000" not in data and b"\x00" not in data


def _csv_table(path: Path) -> Any:
    import pyarrow as pa
    import pyarrow.csv as pc_csv

    with path.open("rb") as handle:
        head = handle.read(65536)
    if head.startswith(b"\xef\xbb\xbf"):
        raise _NotColumnar
    try:
        header = next(csv.reader(io.StringIO(head.decode("utf-8").split("\n", 1)[0])))
    except (UnicodeDecodeError, StopIteration, csv.Error) as exc:
        raise _NotColumnar from exc
    if len(set(header)) != len(header) or not all(header):
        raise _NotColumnar
    try:
        table = pc_csv.read_csv(
            path,
            parse_options=pc_csv.ParseOptions(newlines_in_values=True),
            convert_options=pc_csv.ConvertOptions(
                column_types=dict.fromkeys(header, pa.string()), strings_can_be_null=True, null_values=[""]
            ),
        )
        table.validate(full=True)
    except (pa.ArrowException, ValueError, UnicodeDecodeError) as exc:
        raise _NotColumnar from exc
    if table.column_names != header:
        raise _NotColumnar
    return table


def _read_parquet(path: Path) -> VoteColumns | list[VoteRecord]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        names = pq.read_schema(path).names
        wanted = [n for n in names if n in {a for aliases in _ALIASES.values() for a in aliases} | set(_PER_ROW_ONLY)]
        table = pq.read_table(path, columns=wanted)
        table.validate(full=True)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise InputError(f"not a readable Parquet file ({exc})", location=path.name) from None
    try:
        return _columns(table, RowLocations(path.name), coalesce=True, text_cells=False)
    except _NotColumnar:
        pass
    votes = [vote_from(record) for record in _parquet_records(table, path.name)]
    for vote in votes:
        if vote.model_a == vote.model_b:
            raise InputError("model_a and model_b are the same model", location=vote.location, field="model_b")
    return votes


def _parquet_records(table: Any, name: str) -> Iterator[Located]:
    row = 0
    for batch in table.to_batches(max_chunksize=65536):
        for data in batch.to_pylist():
            row += 1
            yield Located.at({k: v for k, v in data.items() if v is not None}, f"{name}:{row}")


def _pick_column(table: Any, field: str, coalesce: bool) -> Any:
    """The column holding ``field`` (first alias present), or None; several aliases: coalesced (Parquet, where a
    null is an absent field) or not columnar (JSON, where a present null hides the next alias)."""
    import pyarrow.compute as pc

    present = [table.column(a) for a in _ALIASES[field] if a in table.column_names]
    if not present:
        return None
    if len(present) == 1:
        return present[0]
    if not coalesce:
        raise _NotColumnar
    if len({str(c.type) for c in present}) != 1:
        raise _NotColumnar
    return pc.coalesce(*present)


def _text(column: Any, *, required: bool, non_empty: bool, nul_free: bool = False) -> Any:
    """A string column checked: no nulls where required, no empty text where not allowed, no NUL byte (unless the
    whole file is known to have none: ``nul_free``)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_large_string(column.type):
        column = column.cast(pa.string())
    if not pa.types.is_string(column.type):
        if pa.types.is_null(column.type) and not required:
            return column
        raise _NotColumnar
    if required and column.null_count:
        raise _NotColumnar
    if non_empty and pc.any(pc.equal(column, "")).as_py():
        raise _NotColumnar
    if not nul_free and pc.any(pc.match_substring(column, "\x00")).as_py():
        raise _NotColumnar
    return column


def _codes(column: Any) -> tuple[tuple[Any, ...], IntArray]:
    """Distinct values (nulls as None) and each row's index among them."""
    import pyarrow as pa

    if pa.types.is_null(column.type):
        return (None,), np.zeros(len(column), dtype=np.int64)
    encoded = column.combine_chunks().dictionary_encode(null_encoding="encode")
    values = tuple(encoded.dictionary.to_pylist())
    return values, encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)


def _columns(
    table: Any, locations: RowLocations, *, coalesce: bool, text_cells: bool, nul_free: bool = False
) -> VoteColumns:
    """Validate the used columns of ``table`` as a whole and encode them; _NotColumnar when any check fails."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if any(name in table.column_names for name in _PER_ROW_ONLY):
        raise _NotColumnar
    n = table.num_rows
    col = {field: _pick_column(table, field, coalesce) for field in _ALIASES}
    if n == 0:
        return VoteColumns.from_votes([])
    prompt = col["prompt_id"]
    if prompt is None:
        raise _NotColumnar
    if pa.types.is_integer(prompt.type) and not text_cells:
        if prompt.null_count:
            raise _NotColumnar
        prompt = prompt.cast(pa.string())
    prompt = _text(prompt, required=True, non_empty=True, nul_free=nul_free)
    model_a = col["model_a"]
    model_b = col["model_b"]
    if model_a is None or model_b is None:
        raise _NotColumnar
    model_a = _text(model_a, required=True, non_empty=True, nul_free=nul_free)
    model_b = _text(model_b, required=True, non_empty=True, nul_free=nul_free)
    if pc.any(pc.equal(model_a, model_b)).as_py():
        raise _NotColumnar
    winner = col["winner"]
    if winner is None:
        raise _NotColumnar
    winner = _text(winner, required=True, non_empty=False, nul_free=nul_free)
    spelling = pc.index_in(winner, value_set=pa.array(_SPELLINGS))
    if spelling.null_count:
        raise _NotColumnar
    winner_codes = _CODE_OF_SPELLING[spelling.to_numpy(zero_copy_only=False)]
    voters = (
        np.full(n, "anonymous", dtype=object)
        if col["voter"] is None
        else _text(col["voter"], required=False, non_empty=False, nul_free=nul_free)
    )
    if not isinstance(voters, np.ndarray):
        voters = (
            np.full(n, "anonymous", dtype=object)
            if pa.types.is_null(voters.type)
            else pc.fill_null(voters, "anonymous")
        )
    category = col["category"]
    categories = (
        np.full(n, None, dtype=object)
        if category is None
        else _text(category, required=False, non_empty=False, nul_free=nul_free)
    )
    turns = _turns(col["turn"], n, text_cells)
    tstamps = _tstamps(col["tstamp"], n, text_cells)
    models, ab = _codes(pa.chunked_array(model_a.chunks + model_b.chunks, type=pa.string()))
    return VoteColumns(
        models=tuple(models),
        a=ab[:n],
        b=ab[n:],
        winner=winner_codes,
        turn=turns,
        prompt_ids=prompt,
        voters=voters,
        categories=categories,
        tstamps=tstamps,
        locations=locations,
    )


def _turns(column: Any, n: int, text_cells: bool) -> IntArray:
    """Turn numbers (default 1): integers 1..2**31-1, or digit strings (as the per-row reader accepts them)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if column is None or pa.types.is_null(column.type):
        return np.ones(n, dtype=np.int64)
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        if not pc.all(pc.match_substring_regex(column, r"^\s*[0-9]+\s*$")).as_py():
            raise _NotColumnar  # (nulls are skipped by all(); they are absent fields)
        column = pc.cast(pc.utf8_trim_whitespace(column), pa.int64())
    elif not pa.types.is_integer(column.type) or text_cells:
        raise _NotColumnar
    values = column.to_numpy(zero_copy_only=False)
    values = np.where(np.isnan(values), 1, values) if values.dtype.kind == "f" else values
    values = values.astype(np.int64)
    if len(values) and (values.min() < 1 or values.max() > MAX_STORED_INT):
        raise _NotColumnar
    return np.asarray(values, dtype=np.int64)


def _tstamps(column: Any, n: int, text_cells: bool) -> FloatArray:
    """Timestamps (NaN where absent): finite numbers, or text that is one; any other value refuses the file."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if column is None or pa.types.is_null(column.type):
        return np.full(n, np.nan)
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        try:
            column = pc.cast(column, pa.float64())
        except pa.ArrowException as exc:
            raise _NotColumnar from exc
    elif not (pa.types.is_integer(column.type) or pa.types.is_floating(column.type)) or text_cells:
        raise _NotColumnar
    try:
        column = pc.cast(column, pa.float64())  # an integer beyond 2**53 is refused here (not exactly a float)
    except pa.ArrowException as exc:
        raise _NotColumnar from exc
    if not pc.all(pc.is_finite(column)).as_py():  # nulls (absent fields) are skipped
        raise _NotColumnar
    return np.asarray(pc.fill_null(column, np.nan).to_numpy(zero_copy_only=False), dtype=np.float64)
