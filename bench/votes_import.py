"""``judge import votes`` at scale against ``psql \\copy`` of the same rows, measured in one run.

On a votes file (``bench/votes_scale.py`` generates it, Arena-like, one prompt per battle), each a whole process:

- ``judge import votes votes.jsonl --set arena --create-missing`` into a fresh SQLite database, then again (+0);
- the same into a fresh PostgreSQL schema, then again (+0);
- ``psql \\copy`` of the very rows the import stored (exported first, not timed), from CSV:

  - the same data into the same tables: the prompt rows and then the vote rows, into a freshly migrated schema
    (``judge init``: the same indexes, unique keys and foreign keys) holding only the set's row: what the import
    writes, loaded by PostgreSQL's own client (the goal's baseline);
  - the vote rows alone into a copy of the vote table with its indexes and unique key (``LIKE vote INCLUDING
    ALL``: no foreign keys, no prompts);
  - the vote rows alone into a bare table of the same columns (no index, no key).

rows/s is votes / wall seconds. ``judge`` reads and validates the JSONL, keys every vote, creates the prompts
(``--create-missing``) and writes; ``\\copy`` loads prepared rows. PostgreSQL's own CPU is in neither process,
so wall time is the measure; the machine is shared, so the load average is printed with the figures.

Run alone: ``.venv/bin/python bench/votes_import.py --votes 200000`` (prints the table); ``bench/votes_scale.py``
runs it on its own data and writes the figures into BENCHMARKS.md's "Votes at scale".
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
JUDGE = str(ROOT / ".venv/bin/judge")
PG_URL = os.environ.get("JUDGE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PSQL = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-v", "ON_ERROR_STOP=1", "-q", "-X"]
COLUMNS = "vote_key, set_id, prompt_id, model_a, model_b, winner, voter, turn, source, tstamp"
PROMPTS = "id, set_id, external_id, category, turns"


def _timed(command: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Wall and CPU seconds (the child's user + system) of ``command``, and its output."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime, done.stdout + done.stderr


def _psql(sql: str) -> str:
    return _timed([*PSQL, "-c", sql])[2]


def measure(votes: Path, n: int, directory: Path, sqlite: bool = True) -> dict[str, tuple[float, float, str]]:
    """Each measurement's (wall s, CPU s, output), on ``votes`` holding ``n`` votes (SQLite's too unless not
    ``sqlite``); everything made is removed."""
    results: dict[str, tuple[float, float, str]] = {}
    command = [JUDGE, "import", "votes", str(votes), "--set", "arena", "--create-missing", "--source", "arena"]
    if sqlite:
        sqlite_env = {**os.environ, "JUDGE_DATABASE_URL": f"sqlite:///{directory / 'import.db'}"}
        _timed([JUDGE, "init"], sqlite_env)
        results["sqlite"] = _timed(command, sqlite_env)
        results["sqlite_again"] = _timed(command, sqlite_env)
        for suffix in ("", "-wal", "-shm"):
            (directory / f"import.db{suffix}").unlink(missing_ok=True)
    schema, same = f"judge_bench_{os.getpid()}", f"judge_bench_{os.getpid()}_copy"
    _psql(f'CREATE SCHEMA "{schema}"; CREATE SCHEMA "{same}"')
    try:
        pg_env = {**os.environ, "JUDGE_DATABASE_URL": _schema_url(schema)}
        _timed([JUDGE, "init"], pg_env)
        results["postgres"] = _timed(command, pg_env)
        results["postgres_again"] = _timed(command, pg_env)
        rows, prompts = directory / "rows.csv", directory / "prompts.csv"
        _psql(f"\\copy (SELECT {COLUMNS} FROM \"{schema}\".vote ORDER BY id) TO '{rows}' WITH (FORMAT csv)")
        _psql(f"\\copy (SELECT {PROMPTS} FROM \"{schema}\".prompt ORDER BY id) TO '{prompts}' WITH (FORMAT csv)")
        _timed([JUDGE, "init"], {**os.environ, "JUDGE_DATABASE_URL": _schema_url(same)})
        _psql(f'INSERT INTO "{same}".prompt_set SELECT * FROM "{schema}".prompt_set')
        results["psql_same"] = _timed(
            [
                *PSQL,
                "-c",
                f"\\copy \"{same}\".prompt ({PROMPTS}) FROM '{prompts}' WITH (FORMAT csv)",
                "-c",
                f"\\copy \"{same}\".vote ({COLUMNS}) FROM '{rows}' WITH (FORMAT csv)",
            ]
        )
        same_rows = _psql(f'SELECT count(*) FROM "{same}".vote').split()
        assert str(n) in same_rows, same_rows
        _psql(
            f'CREATE TABLE "{schema}".vote_bare (vote_key varchar NOT NULL, set_id integer NOT NULL, '
            "prompt_id integer NOT NULL, model_a varchar NOT NULL, model_b varchar NOT NULL, winner varchar NOT NULL, "
            "voter varchar NOT NULL, turn integer NOT NULL, source varchar NOT NULL, tstamp double precision)"
        )
        _psql(f'CREATE TABLE "{schema}".vote_indexed (LIKE "{schema}".vote INCLUDING ALL)')
        for table in ("vote_bare", "vote_indexed"):
            sql = f"\\copy \"{schema}\".{table} ({COLUMNS}) FROM '{rows}' WITH (FORMAT csv)"
            results[f"psql_{table}"] = _timed([*PSQL, "-c", sql])
        counted = _psql(f'SELECT count(*) FROM "{schema}".vote_indexed').split()
        assert str(n) in counted, counted
        rows.unlink()
        prompts.unlink()
    finally:
        _psql(f'DROP SCHEMA "{schema}" CASCADE; DROP SCHEMA "{same}" CASCADE')
    return results


def _schema_url(schema: str) -> str:
    separator = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{separator}options=-csearch_path%3D{schema}"


LABELS = {
    "sqlite": "`judge import votes votes.jsonl --set arena --create-missing` into SQLite",
    "sqlite_again": "the same again (+0 votes: idempotent)",
    "postgres": "`judge import votes` (same command) into PostgreSQL",
    "postgres_again": "the same again (+0 votes)",
    "psql_same": "`psql \\copy` of the stored prompt and vote rows (CSV) into a fresh `judge init` schema",
    "psql_vote_indexed": "`psql \\copy` of the vote rows into a copy of the vote table with its indexes (no prompts, "
    "no foreign keys)",
    "psql_vote_bare": "`psql \\copy` of the vote rows into a bare table of the vote columns",
}


def table(results: dict[str, tuple[float, float, str]], n: int) -> str:
    """The figures as a Markdown table, with rows/s (votes per second) and each one's ratio to the three
    ``psql \\copy`` baselines."""
    baselines = [n / results[key][0] for key in ("psql_same", "psql_vote_indexed", "psql_vote_bare")]
    lines = [
        "| measurement | wall s | votes/s | CPU s (client) | ratio to psql \\copy: same tables / vote table's "
        "indexes / bare |",
        "|---|---|---|---|---|",
    ]
    for key, label in LABELS.items():
        if key not in results:
            continue
        wall, cpu, _ = results[key]
        rate = n / wall
        ratio = " / ".join(f"{rate / base:.2f}" for base in baselines)
        lines.append(f"| {label} | {wall:.1f} | {rate:,.0f} | {cpu:.1f} | {ratio} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--votes", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=20240814)
    parser.add_argument("--postgres-only", action="store_true", help="Skip the SQLite imports.")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from bench.votes_scale import generate

    with tempfile.TemporaryDirectory() as tmp:
        jsonl, _ = generate(args.votes, args.seed, Path(tmp))
        print(f"load average before: {os.getloadavg()}", flush=True)
        results = measure(jsonl, args.votes, Path(tmp), sqlite=not args.postgres_only)
        print(f"load average after: {os.getloadavg()}", flush=True)
    for key in ("sqlite", "sqlite_again", "postgres", "postgres_again"):
        if key in results:
            print(key, results[key][2].strip())
    print(table(results, args.votes))


if __name__ == "__main__":
    main()
