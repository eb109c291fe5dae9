"""The registry's side of the gate without training a model: the policy a config cannot loosen,
the lock that holds across processes, and what a kill -9 leaves behind, repaired."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from pipeline.config import GateConfig
from pipeline.errors import RegistryError
from pipeline.evaluation.gate import baseline_failures, effective_gate
from tests.conftest import run

pytestmark = pytest.mark.slow  # each test migrates a fresh MLflow store and registers models


@pytest.fixture()
def client(mlflow_uri: str):
    from pipeline.tracking import store

    return store.setup()


def register(client, n: int) -> list[str]:
    """`n` registered versions with no model behind them (the registry does not look inside)."""
    from pipeline.tracking.store import MODEL_NAME

    if not client.search_registered_models():
        client.create_registered_model(MODEL_NAME)
    return [
        str(client.create_model_version(MODEL_NAME, f"file:///nowhere/{i}").version)
        for i in range(n)
    ]


def test_a_config_may_tighten_the_gate_but_not_loosen_it():
    policy = GateConfig()
    loose = GateConfig(max_auc_drop=1, max_ece=1, min_won=0, min_lost=0, max_baseline_drop=1)
    applied, notes = effective_gate(policy, loose)
    assert applied == policy
    assert len(notes) == 5 and "gate.max_auc_drop 1.0 (registry: 0.01)" in notes
    tight = GateConfig(max_auc_drop=0.0, min_won=50)
    applied, notes = effective_gate(policy, tight)
    assert (applied.max_auc_drop, applied.min_won, applied.min_lost) == (0.0, 50, 100)
    assert notes == []
    # keys the config does not set are neither tightening nor a complaint
    assert effective_gate(policy, GateConfig.model_validate({})) == (policy, [])


def test_baselines_must_be_beaten_and_nan_is_no_evidence():
    m = {"test_roc_auc": 0.80, "baseline_logreg_roc_auc": 0.93, "baseline_points_roc_auc": 0.7}
    assert len(baseline_failures(m, False, 0.0)) == 1
    assert "logistic-regression baseline (0.9300)" in baseline_failures(m, True, 0.0)[0]
    assert baseline_failures({**m, "test_roc_auc": 0.95}, True, 0.0) == []
    assert len(baseline_failures({**m, "test_roc_auc": 0.95}, True, 0.0)) == 0
    assert len(baseline_failures({**m, "baseline_points_roc_auc": 0.99, "test_roc_auc": 0.95},
                                 True, 0.0)) == 1  # fmt: skip
    assert len(baseline_failures({**m, "baseline_logreg_roc_auc": float("nan")}, False, 0)) == 1
    assert baseline_failures({**m, "test_roc_auc": 0.92}, False, 0.02) == []


def test_gate_set_and_show_store_the_policy_on_the_registered_model(client):
    from pipeline.tracking.store import MODEL_NAME

    r = run("gate", "show")
    assert r.exit_code == 0 and "max_auc_drop 0.01" in r.output and "min_lost 100" in r.output
    r = run("gate", "set", "--max-auc-drop", "0.005", "--min-won", "50")
    assert r.exit_code == 0, r.output
    tags = client.get_registered_model(MODEL_NAME).tags
    assert tags["gate_max_auc_drop"] == "0.005" and tags["gate_min_won"] == "50"
    assert tags["gate_max_ece"] == "0.05" and "gate_set_by" in tags
    r = run("gate", "show")
    assert "max_auc_drop 0.005" in r.output and "min_won 50" in r.output
    r = run("gate", "set", "--max-ece", "0")
    assert r.exit_code == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "gate set: --max-ece 0" in r.stderr and "greater than 0" in r.stderr
    assert run("gate", "set").exit_code == 2
    for bad in (["--max-auc-drop", "inf"], ["--max-auc-drop", "nan"], ["--min-won", "-1"]):
        r = run("gate", "set", *bad)
        assert r.exit_code == 2 and f"gate set: {bad[0]}" in r.stderr, r.stderr
    assert "max_auc_drop 0.005" in run("gate", "show").output  # nothing half-applied
    # a corrupt stored threshold fails closed instead of turning into a lax one
    client.set_registered_model_tag(MODEL_NAME, "gate_min_won", "lots")
    r = run("gate", "show")
    assert r.exit_code == 2 and "do not parse" in r.stderr


def _try_flock(path: str) -> str:
    """Another process tries the champion lock's file without waiting: "got" or "blocked"."""
    probe = textwrap.dedent(
        f"""
        import fcntl
        f = open({path!r}, "a+")
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            print("got")
        except BlockingIOError:
            print("blocked")
        """
    )
    return subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()


def _in_thread(fn):
    """Run `fn` in a second thread (its own open file, so its own flock) and return its outcome:
    "got", or the RegistryError it raised."""
    out: list = []

    def target():
        try:
            fn()
            out.append("got")
        except RegistryError as e:
            out.append(e)

    t = threading.Thread(target=target)
    t.start()
    t.join(timeout=30)
    assert out, "the second holder neither got the lock nor gave up"
    return out[0]


def test_the_champion_lock_excludes_a_second_holder_until_released(client, mlflow_uri: str):
    from pipeline.tracking import registry

    path = mlflow_uri.removeprefix("sqlite:///") + ".champion.lock"

    def second_holder(wait_s: float):
        with registry.champion_lock(client, wait_s=wait_s):
            pass

    with registry.champion_lock(client):
        assert _try_flock(path) == "blocked"  # another process
        got = _in_thread(lambda: second_holder(0.3))  # another holder in this process
        assert isinstance(got, RegistryError) and "champion lock" in str(got)
    assert _try_flock(path) == "got"
    assert _in_thread(lambda: second_holder(0.3)) == "got"

    # a holder that waits gets the lock once the first lets go, not before
    released_at: list[float] = []
    acquired_at: list[float] = []

    def waiter():
        with registry.champion_lock(client, wait_s=10):
            acquired_at.append(time.monotonic())

    with registry.champion_lock(client):
        t = threading.Thread(target=waiter)
        t.start()
        time.sleep(0.6)
        assert not acquired_at
        released_at.append(time.monotonic())
    t.join(timeout=15)
    assert acquired_at and acquired_at[0] >= released_at[0]


def test_the_champion_lock_waits_for_another_process(client, mlflow_uri: str):
    from pipeline.tracking import registry

    db = mlflow_uri.removeprefix("sqlite:///")
    holder = textwrap.dedent(
        f"""
        import fcntl, sys, time
        f = open({db + ".champion.lock"!r}, "a+")
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        print("held", flush=True)
        sys.stdin.read()
        """
    )
    p = subprocess.Popen(
        [sys.executable, "-c", holder], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert p.stdout.readline().strip() == "held"
        with (
            pytest.raises(RegistryError, match="champion lock"),
            registry.champion_lock(client, wait_s=0.3),
        ):
            pass
    finally:
        p.stdin.close()
        p.wait()
    # released with its holder: now this process holds it, and another process cannot
    with registry.champion_lock(client, wait_s=5):
        assert _try_flock(db + ".champion.lock") == "blocked"


def test_a_kill_between_history_and_alias_leaves_no_silent_move(client):
    """History first, then the alias: a kill in between leaves a marked entry, never a move
    without a record, and rollback never goes from a version to itself."""
    from pipeline.jobs import promote
    from pipeline.tracking import recovery, registry
    from pipeline.tracking.store import MODEL_NAME

    register(client, 2)
    assert promote("1") is None

    class Killed(BaseException):
        pass

    real = client.set_registered_model_alias

    def die(*a, **k):
        raise Killed

    client.set_registered_model_alias = die
    with pytest.raises(Killed):
        registry.move_champion(client, MODEL_NAME, "2", "test")
    client.set_registered_model_alias = real
    assert registry.get_alias_version(client, "champion") == "1"
    hist = registry.champion_history(client, MODEL_NAME)
    assert [(h["from"], h["to"]) for h in hist] == [(None, "1"), ("1", "2")]
    notes = recovery.repair_interrupted(client)
    assert any("never happened" in n for n in notes)
    assert registry.champion_history(client, MODEL_NAME)[-1]["interrupted"] is True
    r = run("rollback")  # champion 1 came from nowhere: nothing to roll back to, in one line
    assert r.exit_code == 2 and "no previous champion" in r.stderr


def test_previous_equal_to_champion_is_repaired_and_rollback_is_sane(client):
    from pipeline.jobs import promote
    from pipeline.tracking import registry
    from pipeline.tracking.store import MODEL_NAME

    register(client, 2)
    promote("1")
    promote("2")
    # what a kill between the two alias writes of an older release could leave
    client.set_registered_model_alias(MODEL_NAME, registry.PREVIOUS, "2")
    r = run("rollback")
    assert r.exit_code == 0, r.output
    assert "champion: version 2 -> 1" in r.output
    assert registry.get_alias_version(client, "champion") == "1"
    assert registry.get_alias_version(client, registry.PREVIOUS) == "2"
    hist = json.loads(client.get_registered_model(MODEL_NAME).tags["champion_history"])
    assert [(h["from"], h["to"]) for h in hist][-1] == ("2", "1")


def test_dead_running_runs_are_failed_and_live_ones_left_alone(client, tmp_path: Path):
    from pipeline.tracking import recovery
    from pipeline.tracking.store import EXPERIMENT, MODEL_NAME

    exp = client.get_experiment_by_name(EXPERIMENT).experiment_id
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    tags = recovery.process_tags()
    dead = client.create_run(exp, run_name="train", tags={**tags, recovery.PID_TAG: gone})
    live = client.create_run(exp, run_name="train", tags=tags)  # this very process: alive
    (v_dead, v_live, v_done) = register(client, 3)
    for v, run_id, reason in [
        (v_dead, dead.info.run_id, "pending: the gate has not decided yet"),
        (v_live, live.info.run_id, "pending: the gate has not decided yet"),
        (v_done, dead.info.run_id, "gate passed (no champion yet)"),
    ]:
        client.set_model_version_tag(MODEL_NAME, v, "gate_reason", reason)
        client.set_model_version_tag(MODEL_NAME, v, "run_id", run_id)
    notes = recovery.repair_interrupted(client)
    assert client.get_run(dead.info.run_id).info.status == "FAILED"
    assert client.get_run(dead.info.run_id).data.tags["failed_reason"].startswith("interrupted")
    assert client.get_run(live.info.run_id).info.status == "RUNNING"
    found = client.search_model_versions(f"name='{MODEL_NAME}'")
    reasons = {str(v.version): v.tags["gate_reason"] for v in found}
    assert reasons[v_done] == "gate passed (no champion yet)", reasons
    assert reasons[v_dead].startswith("interrupted")
    assert reasons[v_live].startswith("pending")  # a live training is deciding right now
    assert len([n for n in notes if "marked FAILED" in n]) == 1


def test_rollback_walks_back_along_the_champion_history(client):
    """3 -> 2 -> 1, then one line: rollback never toggles back to the version it left."""
    from pipeline.jobs import promote
    from pipeline.tracking import registry

    register(client, 3)
    for v in ("1", "2", "3"):
        promote(v)
    for cur, prev in (("3", "2"), ("2", "1")):
        r = run("rollback")
        assert r.exit_code == 0, r.output
        assert f"champion: version {cur} -> {prev}" in r.output
        assert registry.get_alias_version(client, "champion") == prev
    r = run("rollback")
    assert r.exit_code == 2 and "no previous champion" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert registry.get_alias_version(client, "champion") == "1"
    promote("3")  # a promotion after rollbacks goes on top: rolling back returns to 1
    assert run("rollback").exit_code == 0
    assert registry.get_alias_version(client, "champion") == "1"


def test_champion_stack_pops_rollbacks_and_skips_interrupted_moves():
    from pipeline.tracking.registry import champion_stack

    moves = [(None, "1", {}), ("1", "2", {}), ("2", "3", {}), ("3", "4", {"interrupted": True})]
    hist = [{"from": a, "to": b, **x} for a, b, x in moves]
    assert champion_stack(hist) == ["1", "2", "3"]
    hist.append({"from": "3", "to": "2", "reason": "leadscore rollback from version 3"})
    assert champion_stack(hist) == ["1", "2"]
    hist.append({"from": "2", "to": "1", "rollback": True, "reason": "x"})
    assert champion_stack(hist) == ["1"]
