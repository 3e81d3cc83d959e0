"""Ratings at Arena scale: ``judge leaderboard --votes`` on 2M votes against a bare ``json.loads`` loop, same run.

Generates N Arena-like votes (seeded): 130 models with skewed pairing frequencies (popular models fight more),
true ratings N(1000, 100), Bradley-Terry outcomes with Arena's tie share (~30% ties, both spellings), the fields of
Chatbot Arena's battle logs (question_id, model_a, model_b, winner, judge, turn, anony, language, tstamp), written
as JSONL and Parquet. Then times, in one run and alternating, each measured ``--repeat`` times (best kept):

- bare: a Python loop that only ``json.loads`` each line of the JSONL file (no validation, no ratings);
- jsonl: the CLI ``judge leaderboard --votes FILE.jsonl --method bt --bootstrap 100 --format json`` as a
  subprocess (interpreter start, imports, reading, validation, fit and bootstrap all included);
- parquet: the same command on the Parquet file;
- sandwich: the same command on the Parquet file with ``--ci sandwich`` (closed-form intervals, no bootstrap),
  when the CLI has that option.

Then, on the first ``--import-votes`` of the same votes (all by default; 0 skips it), ``bench/votes_import.py``:
``judge import votes`` into SQLite and PostgreSQL (and again: +0) against ``psql \\copy`` of the same rows.

Run: ``.venv/bin/python bench/votes_scale.py [--votes 2000000] [--repeat 2] [--import-votes N]``.
Writes the "## Votes at scale" section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.report import write_section  # noqa: E402

N_MODELS = 130
LANGUAGES = ("English", "Chinese", "Russian", "German", "Spanish", "unknown")


def generate(n: int, seed: int, directory: Path) -> tuple[Path, Path]:
    """``votes.jsonl`` and ``votes.parquet`` with the same ``n`` Arena-like votes."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    ratings = rng.normal(1000.0, 100.0, N_MODELS)
    popularity = rng.pareto(1.2, N_MODELS) + 0.2
    p = popularity / popularity.sum()
    a = rng.choice(N_MODELS, n, p=p)
    b = rng.choice(N_MODELS - 1, n, p=np.delete(p, 0) / np.delete(p, 0).sum())
    b = np.where(b >= a, b + 1, b)
    win = 1.0 / (1.0 + 10.0 ** (-(ratings[a] - ratings[b]) / 400.0))
    tie = rng.random(n) < 0.6 * np.minimum(win, 1.0 - win)
    a_wins = rng.random(n) < win
    bothbad = rng.random(n) < 0.35
    winner = np.where(tie, np.where(bothbad, "tie (bothbad)", "tie"), np.where(a_wins, "model_a", "model_b"))
    names = np.array([f"model-{k:03d}-chat" for k in range(N_MODELS)])
    qid = [f"{x:032x}" for x in rng.integers(0, 2**62, n, dtype=np.int64).tolist()]
    judge = [f"arena_user_{x}" for x in rng.integers(0, 200_000, n).tolist()]
    turn = (1 + rng.geometric(0.7, n) - 1).clip(1, 6)
    language = np.array(LANGUAGES)[rng.choice(len(LANGUAGES), n, p=[0.6, 0.12, 0.08, 0.05, 0.05, 0.1])]
    tstamp = np.round(1.69e9 + np.sort(rng.random(n)) * 3.2e7, 4)
    table = pa.table(
        {
            "question_id": qid,
            "model_a": names[a],
            "model_b": names[b],
            "winner": winner,
            "judge": judge,
            "turn": turn,
            "anony": np.ones(n, dtype=bool),
            "language": language,
            "tstamp": tstamp,
        }
    )
    jsonl, parquet = directory / "votes.jsonl", directory / "votes.parquet"
    pq.write_table(table, parquet)
    with jsonl.open("w", encoding="utf-8") as out:
        for row in zip(qid, names[a], names[b], winner, judge, turn.tolist(), language, tstamp.tolist(), strict=True):
            out.write(
                f'{{"question_id": "{row[0]}", "model_a": "{row[1]}", "model_b": "{row[2]}", "winner": "{row[3]}", '
                f'"judge": "{row[4]}", "turn": {row[5]}, "anony": true, "language": "{row[6]}", "tstamp": {row[7]}}}\n'
            )
    return jsonl, parquet


CPU: dict[str, list[float]] = {}
"""CPU seconds (user + system, all threads) of each measurement: steadier than wall time on a shared machine."""


def bare_loop(path: Path) -> float:
    start, cpu = time.perf_counter(), time.process_time()
    with path.open("rb") as handle:
        for line in handle:
            json.loads(line)
    CPU.setdefault("bare", []).append(time.process_time() - cpu)
    return time.perf_counter() - start


def cli(path: Path, env: dict[str, str], *extra: str) -> tuple[float, list[dict[str, object]]]:
    command = [str(ROOT / ".venv/bin/judge"), "leaderboard", "--votes", str(path), "--method", "bt", "--format", "json"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([*command, *extra], env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    CPU.setdefault(f"{path.suffix}{' '.join(extra)}", []).append(cpu)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return elapsed, json.loads(done.stdout)


def startup(env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of ``judge --help``: the CLI's interpreter start and imports alone."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([str(ROOT / ".venv/bin/judge"), "--help"], env=env, capture_output=True, check=True)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return elapsed, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def in_process(path: Path) -> float:
    """``build_leaderboard`` on ``path`` in this process (imports already done): reading, fit and bootstrap."""
    from judge.analysis.leaderboards import LeaderboardRequest, build_leaderboard

    start = time.perf_counter()
    build_leaderboard(None, LeaderboardRequest(votes_file=str(path), method="bt", bootstrap=100))  # type: ignore[arg-type]
    return time.perf_counter() - start


def sandwich_vs_bootstrap(path: Path) -> dict[str, float]:
    """On the same votes, in process: the sandwich fit's time, and its bounds against a 1,000-round bootstrap."""
    from judge.importers.columnar import read_vote_columns
    from judge.ratings import BootstrapSpec, fit_bradley_terry

    battles = read_vote_columns(path).battles()
    start = time.perf_counter()
    closed = fit_bradley_terry(battles, bootstrap=BootstrapSpec(rounds=1000), ci="sandwich")
    sandwich_s = time.perf_counter() - start
    start = time.perf_counter()
    boot = fit_bradley_terry(battles, bootstrap=BootstrapSpec(rounds=1000))
    bootstrap_s = time.perf_counter() - start
    closed_interval, boot_interval = closed.rating_interval(), boot.rating_interval()
    assert closed_interval is not None and boot_interval is not None
    gap = max(float(np.abs(c - b).max()) for c, b in zip(closed_interval, boot_interval, strict=True))
    return {
        "sandwich_s": sandwich_s,
        "bootstrap_s": bootstrap_s,
        "max_bound_gap": gap,
        "median_width_sandwich": float(np.median(closed_interval[1] - closed_interval[0])),
        "median_width_bootstrap": float(np.median(boot_interval[1] - boot_interval[0])),
    }


def has_sandwich() -> bool:
    done = subprocess.run(
        [str(ROOT / ".venv/bin/judge"), "leaderboard", "--help"], capture_output=True, text=True, check=False
    )
    return "sandwich" in done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--votes", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--seed", type=int, default=20240814)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--import-votes", type=int, default=None, help="votes imported (default all; 0: none)")
    args = parser.parse_args()
    load_before = os.getloadavg()
    imported: dict[str, tuple[float, float, str]] = {}
    n_import = args.votes if args.import_votes is None else min(args.import_votes, args.votes)
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        t0 = time.perf_counter()
        jsonl, parquet = generate(args.votes, args.seed, directory)
        print(f"generated {args.votes:,} votes in {time.perf_counter() - t0:.1f} s", flush=True)
        env = {**os.environ, "JUDGE_DATABASE_URL": f"sqlite:///{directory / 'bench.db'}", "COLUMNS": "200"}
        subprocess.run([str(ROOT / ".venv/bin/judge"), "db", "upgrade"], env=env, capture_output=True, check=True)
        sandwich = has_sandwich()
        times: dict[str, list[float]] = {"bare": [], "jsonl": [], "parquet": [], "sandwich": [], "inproc": []}
        import judge.analysis.leaderboards  # noqa: F401  (imports outside the in-process timing)

        boards: dict[str, list[dict[str, object]]] = {}
        for _ in range(args.repeat):
            times["bare"].append(bare_loop(jsonl))
            for key, path in (("inproc", jsonl), ("inproc_parquet", parquet)):
                cpu = time.process_time()
                times.setdefault(key, []).append(in_process(path))
                CPU.setdefault(key, []).append(time.process_time() - cpu)
            wall, cpu_startup = startup(env)
            times.setdefault("startup", []).append(wall)
            CPU.setdefault("startup", []).append(cpu_startup)
            elapsed, boards["jsonl"] = cli(jsonl, env, "--bootstrap", "100")
            times["jsonl"].append(elapsed)
            elapsed, boards["parquet"] = cli(parquet, env, "--bootstrap", "100")
            times["parquet"].append(elapsed)
            if sandwich:
                elapsed, boards["sandwich"] = cli(parquet, env, "--ci", "sandwich")
                times["sandwich"].append(elapsed)
            print({k: [round(x, 2) for x in v] for k, v in times.items()}, flush=True)
            print("cpu", {k: [round(x, 2) for x in v] for k, v in CPU.items()}, flush=True)
        closed = sandwich_vs_bootstrap(parquet)
        print(closed, flush=True)
        size_jsonl, size_parquet = jsonl.stat().st_size, parquet.stat().st_size
        if n_import:
            from bench.votes_import import measure

            source = jsonl
            if n_import < args.votes:
                source = directory / "import.jsonl"
                with jsonl.open("rb") as whole, source.open("wb") as part:
                    for _, line in zip(range(n_import), whole, strict=False):
                        part.write(line)
            imported = measure(source, n_import, directory)
            print({k: (round(v[0], 1), round(v[1], 1)) for k, v in imported.items()}, flush=True)
    load_after = os.getloadavg()
    best = {k: min(v) for k, v in times.items() if v}
    cpu_best = {k: min(v) for k, v in CPU.items()}
    cpu_of = {
        "bare": cpu_best["bare"],
        "jsonl": cpu_best[".jsonl--bootstrap 100"],
        "inproc": cpu_best["inproc"],
        "parquet": cpu_best[".parquet--bootstrap 100"],
        "sandwich": cpu_best.get(".parquet--ci sandwich", float("nan")),
        "startup": cpu_best["startup"],
        "inproc_parquet": cpu_best["inproc_parquet"],
    }
    same = [r["rating"] for r in boards["jsonl"]] == [r["rating"] for r in boards["parquet"]]
    labels = {
        "bare": "bare loop: `json.loads` of each line (in process)",
        "jsonl": "`judge leaderboard --votes votes.jsonl --method bt --bootstrap 100` (whole CLI process)",
        "inproc": "the same leaderboard in process (read, validate, fit, 100 rounds, significance; imports done)",
        "parquet": "the same CLI command on votes.parquet",
        "inproc_parquet": "the same leaderboard in process on votes.parquet",
        "sandwich": "`--ci sandwich` on votes.parquet (CLI)",
        "startup": "`judge --help` alone (CLI interpreter start and imports)",
    }
    rows = [
        "| measurement | wall s | wall ratio to bare loop | CPU s | CPU ratio to bare loop |",
        "|---|---|---|---|---|",
    ]
    for key, label in labels.items():
        if key in best:
            rows.append(
                f"| {label} | {best[key]:.2f} | {best[key] / best['bare']:.2f} | {cpu_of[key]:.2f} | "
                f"{cpu_of[key] / cpu_of['bare']:.2f} |"
            )
    body = (
        f"`bench/votes_scale.py`: {args.votes:,} Arena-like votes (seed {args.seed}; {N_MODELS} models, skewed pair "
        f"frequencies, ~30% ties; Arena's battle-log fields), JSONL {size_jsonl / 1e6:.0f} MB, Parquet "
        f"{size_parquet / 1e6:.0f} MB. Best of {args.repeat} alternating runs on {os.cpu_count()} cores. "
        f"The CLI times are whole processes (interpreter start and imports included); the bare loop runs in the "
        f"bench's own process. CPU seconds (user + system, all threads) are steadier than wall time on a "
        f"shared machine; goal: the JSONL command no slower than the bare loop, Parquet far below it.\n\n"
        + "\n".join(rows)
        + "\n\n"
        f"JSONL and Parquet boards identical: {'yes' if same else 'NO'}. How: pyarrow parses and validates the used "
        "columns as a whole (types, required fields, winner spellings, NUL bytes, finite numbers, model_a ≠ "
        "model_b, one object per line, line length, UTF-8); models, voters and categories are dictionary-encoded "
        "straight into the battle arrays, so no per-vote Python object is made. A file the column checks refuse "
        "is read again by the per-row reader, which gives the same `file:line: field` error as before."
    )
    reading = best["jsonl"] - best["startup"]
    body += (
        f"\n\nGoal status: reading, validating and rating the JSONL file takes {best['inproc']:.2f} s in process "
        f"({best['inproc'] / best['bare']:.2f}× the bare loop: "
        f"{'met' if best['inproc'] <= best['bare'] else 'missed'}); the whole CLI command takes "
        f"{best['jsonl'] / best['bare']:.2f}× in wall time ({'met' if best['jsonl'] <= best['bare'] else 'missed'}) "
        f"and {cpu_of['jsonl'] / cpu_of['bare']:.2f}× in CPU time "
        f"({'met' if cpu_of['jsonl'] <= cpu_of['bare'] else 'missed'}): starting "
        f"`judge` alone takes {best['startup']:.2f} s (interpreter, Typer, SQLAlchemy and the command modules; "
        f"LiteLLM, SciPy, Alembic, pyarrow and FastAPI are imported only by the commands that use them), "
        f"and the CLI run less that start-up took {reading:.2f} s here. Parquet in process: "
        f"{best['inproc_parquet']:.2f} s ({best['inproc_parquet'] / best['bare']:.2f}× the bare loop)."
    )
    body += (
        "\n\nClosed-form intervals on the same votes (in process, Bradley-Terry already read): the sandwich fit "
        f"(fit, covariance, intervals, 1,000 normal draws for significance) takes {closed['sandwich_s']:.2f} s "
        f"(goal < 1 s) against {closed['bootstrap_s']:.2f} s for fit + 1,000 bootstrap rounds; the largest "
        f"difference of any bound between the two is {closed['max_bound_gap']:.2f} rating points (median 95% "
        f"width {closed['median_width_sandwich']:.1f} vs {closed['median_width_bootstrap']:.1f} points)."
    )
    if imported:
        from bench.votes_import import table

        ours = n_import / imported["postgres"][0]
        same = n_import / imported["psql_same"][0]
        bare = n_import / imported["psql_vote_bare"][0]
        indexed = n_import / imported["psql_vote_indexed"][0]
        body += (
            f"\n\n### Import\n\n`judge import votes` of the first {n_import:,} of these votes (JSONL, one prompt per "
            "battle, so `--create-missing` makes as many prompts), each a whole process, against `psql \\copy` of the "
            "rows it stored (exported to CSV first, not timed), in the same run:\n\n"
            + table(imported, n_import)
            + f"\n\nPostgreSQL import: {ours:,.0f} votes/s, {ours / same:.2f}× `psql \\copy` of the same data into "
            f"the same tables (goal ≥ 0.5: {'met' if ours / same >= 0.5 else 'missed'}); {ours / indexed:.2f}× "
            f"`\\copy` of the vote rows alone into a table with the vote table's indexes and {ours / bare:.2f}× into "
            "a bare table, baselines that skip the prompts, the foreign keys (and the indexes). The same data: "
            "the import writes the prompts and the votes into a schema with two foreign keys and four indexes on "
            "the vote table (a unique key among them), and a foreign key and two indexes on the prompt table, so "
            "the goal's `\\copy` loads "
            "the same rows into a freshly migrated schema. How: the file is read and validated column-wise (the "
            "columnar reader; a bad row gives the per-row reader's `file:line: field` error, nothing written), "
            "each vote keyed (SHA-256 of the same canonical JSON as the per-row path, each distinct text's JSON "
            "written once); on PostgreSQL, under an advisory lock on the set, the missing prompts are `COPY`'d "
            "straight into the prompt table and the votes into the vote table when the set holds no vote yet "
            "(under a savepoint: a key met twice sends the rows through a staging table and `INSERT .. ON CONFLICT "
            "DO NOTHING` instead, as importing into a set that has votes does); on SQLite `executemany` in "
            "batches of 50,000 in one "
            "transaction. Importing again adds nothing (the staging path). The PostgreSQL import's client used "
            f"{imported['postgres'][1]:.1f} s of CPU in its {imported['postgres'][0]:.1f} s (reading, validating, "
            "keying, sending; the rest is the server's)."
        )
    body += (
        f"\n\nLoad average (1, 5, 15 min) at the start {tuple(round(x, 1) for x in load_before)}, at the end "
        f"{tuple(round(x, 1) for x in load_after)} on {os.cpu_count()} cores: wall times carry the machine's noise; "
        "each ratio is measured in the same run."
    )
    print(body)
    if not args.no_write:
        command = f"python bench/votes_scale.py --votes {args.votes}" + (
            f" --import-votes {args.import_votes}" if args.import_votes is not None else ""
        )
        write_section("Votes at scale", body, command=command)


if __name__ == "__main__":
    main()
