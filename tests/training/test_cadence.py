"""When a retrain is due (pipeline.training.cadence): by age, by new labelled leads, forced, or
with no champion; and the one line a scheduler logs."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.config import LifecycleConfig
from pipeline.training.cadence import ServingVersion, count_new, decide, id_hashes

REGISTERED = pd.Timestamp("2026-01-01")
TRAINED = id_hashes([f"L{i}" for i in range(1000)])
CHAMP = ServingVersion("3", REGISTERED, 1000, TRAINED)
RULES = LifecycleConfig()


def labelled(n_new: int) -> np.ndarray:
    return id_hashes([f"L{i}" for i in range(500)] + [f"N{i}" for i in range(n_new)])


def test_fresh_champion_is_not_due():
    d = decide(CHAMP, labelled(99), REGISTERED + pd.Timedelta(days=2), RULES)
    assert not d.due and d.new_outcomes == 99 and d.needed == 100
    line = d.line(CHAMP, RULES.retrain_every_days)
    assert line.startswith("not due: champion version 3 is 2.0 days old")
    assert "99 new labelled leads (due at 100)" in line


def test_due_by_age_at_exactly_the_interval():
    d = decide(CHAMP, labelled(0), REGISTERED + pd.Timedelta(days=14), RULES)
    assert d.due and d.why[0].startswith("by age: champion version 3 is 14.0 days old")
    assert not decide(CHAMP, labelled(0), REGISTERED + pd.Timedelta(days=13.9), RULES).due


def test_due_by_new_outcomes_default_ten_percent():
    d = decide(CHAMP, labelled(100), REGISTERED + pd.Timedelta(days=1), RULES)
    assert d.due and d.why == [
        "by new outcomes: 100 labelled leads it never trained on (due at 100)"
    ]


def test_min_new_outcomes_from_config():
    rules = LifecycleConfig(min_new_outcomes=5)
    assert decide(CHAMP, labelled(5), REGISTERED, rules).due
    assert not decide(CHAMP, labelled(4), REGISTERED, rules).due


def test_force_and_no_champion():
    assert decide(CHAMP, labelled(0), REGISTERED, RULES, force=True).why == ["--force"]
    d = decide(None, labelled(0), REGISTERED, RULES)
    assert d.due and d.line(None, 14).startswith("due: no champion")


def test_champion_without_recorded_ids_is_judged_by_age_only():
    old = ServingVersion("1", REGISTERED)
    d = decide(old, labelled(10_000), REGISTERED + pd.Timedelta(days=1), RULES)
    assert not d.due and d.new_outcomes is None
    assert "not counted" in d.line(old, 14)


def test_hashes_are_stable_and_count_only_new_ids():
    assert np.array_equal(id_hashes(["b", "a", "a"]), id_hashes(["a", "b"]))
    assert count_new(id_hashes(["a", "x", "y"]), id_hashes(["a", "b"])) == 2
    # numbers and their text are the same lead id
    assert np.array_equal(id_hashes(pd.Index([1, 2])), id_hashes(["1", "2"]))
