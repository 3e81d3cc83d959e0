"""Verdict leases on SQLite and PostgreSQL: one owner per key under a race of processes, expiry and retake,
renewal, dead owners of this host, and keys that already have a final verdict."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time

from sqlalchemy import insert, text
from sqlalchemy.engine import Engine

from judge.store.engine import session_scope
from judge.store.ingest import write_bundle
from judge.store.leases import claim_keys, lease_holders, new_owner, owner_is_dead, release_leases, renew_leases
from judge.store.verdicts import VERDICT_TABLE
from judge.testing.toy import toy_bundle

KEYS = [f"key-{i:04d}" for i in range(300)]


RACER = """
import json, random, sys, time
from judge.store.engine import make_engine, session_scope
from judge.store.leases import claim_keys
url, owner, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
keys = [f"key-{i:04d}" for i in range(300)]
engine = make_engine(url)
chunks = [keys[i : i + 25] for i in range(0, len(keys), 25)]
random.Random(seed).shuffle(chunks)
with engine.connect():
    pass
print("READY", flush=True)
sys.stdin.readline()  # GO, once every racer is ready
granted = []
for chunk in chunks:
    for attempt in range(20):  # PostgreSQL may pick a claim as a deadlock victim: the caller retries
        try:
            with session_scope(engine) as session:
                now = time.time()
                granted += claim_keys(session, keys=chunk, owner=owner, run_id=None, ttl_s=60, now=now).granted
            break
        except Exception:
            if attempt == 19:
                raise
            time.sleep(0.05)
    time.sleep(0.05)  # let the other racers interleave even on a loaded machine
print(json.dumps(granted))
"""


def test_racing_processes_get_each_key_exactly_once(engine: Engine) -> None:
    url = engine.url.render_as_string(hide_password=False)
    owners = [new_owner() for _ in range(4)]
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, url, owner, str(seed)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for seed, owner in enumerate(owners)
    ]
    for racer in racers:
        assert racer.stdout is not None and racer.stdout.readline().strip() == "READY"
    for racer in racers:
        assert racer.stdin is not None
        racer.stdin.write("GO\n")
        racer.stdin.flush()
    results = {}
    for owner, racer in zip(owners, racers, strict=True):
        out, _ = racer.communicate(timeout=60)
        assert racer.returncode == 0
        results[owner] = json.loads(out)
    granted = [key for keys in results.values() for key in keys]
    assert sorted(granted) == KEYS  # every key to exactly one racer, none twice
    assert sum(1 for keys in results.values() if keys) >= 2  # it was a race, not one racer after another
    with session_scope(engine) as session:
        holders = lease_holders(session, KEYS)
    assert all(holders[key] == owner for owner, keys in results.items() for key in keys)


def test_expired_lease_is_retaken_and_renewed_one_is_not(engine: Engine) -> None:
    first, second = new_owner(), new_owner()
    t0 = time.time()
    with session_scope(engine) as session:
        assert claim_keys(session, keys=KEYS[:3], owner=first, run_id=None, ttl_s=10, now=t0).granted == tuple(KEYS[:3])
    with session_scope(engine) as session:
        claim = claim_keys(session, keys=KEYS[:4], owner=second, run_id=None, ttl_s=10, now=t0 + 5)
    assert (claim.granted, claim.held) == ((KEYS[3],), tuple(KEYS[:3]))
    with session_scope(engine) as session:  # the owner's heartbeat at t0+8 keeps them past t0+10
        assert renew_leases(session, owner=first, ttl_s=10, now=t0 + 8) == 3
    with session_scope(engine) as session:
        assert claim_keys(session, keys=KEYS[:3], owner=second, run_id=None, ttl_s=10, now=t0 + 12).held == tuple(
            KEYS[:3]
        )
    with session_scope(engine) as session:  # the owner stopped beating (died elsewhere): retaken after expiry
        claim = claim_keys(session, keys=KEYS[:3], owner=second, run_id=None, ttl_s=10, now=t0 + 19)
    assert claim.granted == tuple(KEYS[:3])
    with session_scope(engine) as session:
        assert set(lease_holders(session, KEYS[:4]).values()) == {second}
        release_leases(session, owner=second, keys=KEYS[:2])
        assert sorted(lease_holders(session, KEYS[:4])) == KEYS[2:4]


def test_a_dead_owner_of_this_host_is_taken_over_at_once_another_hosts_is_not(engine: Engine) -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    dead = f"{socket.gethostname()}:{child.pid}:0123456789ab"
    remote = f"elsewhere.example:{child.pid}:0123456789ab"
    assert owner_is_dead(dead) and not owner_is_dead(remote) and not owner_is_dead(new_owner())
    far = time.time() + 3600
    with session_scope(engine) as session:
        session.execute(
            text("INSERT INTO verdict_lease (verdict_key, owner, expires_at) VALUES (:k, :o, :e)"),
            [{"k": KEYS[0], "o": dead, "e": far}, {"k": KEYS[1], "o": remote, "e": far}],
        )
    me = new_owner()
    with session_scope(engine) as session:
        claim = claim_keys(session, keys=KEYS[:2], owner=me, run_id=None, ttl_s=60, now=time.time())
    assert (claim.granted, claim.held) == ((KEYS[0],), (KEYS[1],))


def test_a_key_with_a_final_verdict_is_never_granted(engine: Engine) -> None:
    with session_scope(engine) as session:
        write_bundle(session, set_name="toy", bundle=toy_bundle(1))
        prompt_id = session.execute(text("SELECT id FROM prompt")).scalar_one()
        base = {
            "judge_model": "m",
            "rubric_id": "pairwise",
            "rubric_version": "1",
            "rubric_hash": "h",
            "mode": "pairwise",
            "prompt_id": prompt_id,
            "model_a": "bad",
            "model_b": "good",
            "order": "ab",
            "request_hash": "r",
            "sampling": {},
        }
        session.execute(
            insert(VERDICT_TABLE),
            [{**base, "verdict_key": KEYS[0], "status": "ok"}, {**base, "verdict_key": KEYS[1], "status": "error"}],
        )
    me = new_owner()
    with session_scope(engine) as session:
        claim = claim_keys(session, keys=KEYS[:3], owner=me, run_id=None, ttl_s=60, now=time.time())
    assert claim.final == (KEYS[0],) and claim.granted == (KEYS[1], KEYS[2])  # an error verdict is retried
    with session_scope(engine) as session:
        assert sorted(lease_holders(session, KEYS[:3])) == KEYS[1:3]  # no lease is left on the final key
