"""LightGBM's thread count is one process-wide setting: calls with different counts must never
overlap (a rare segfault when they did), calls with the same count may."""

from __future__ import annotations

import threading
import time

import numpy as np
import pandas as pd

from pipeline.modeling.candidates import LGBMConversionClassifier, ThreadCountGate


def _overlaps(gate: ThreadCountGate, counts: list[int]) -> set[tuple[int, int]]:
    """Run one call per count at once; the pairs of counts that were inside the gate together."""
    inside: dict[int, int] = {}
    seen: set[tuple[int, int]] = set()
    lock = threading.Lock()
    start = threading.Barrier(len(counts))

    def call(i: int, n: int) -> None:
        start.wait()
        with gate.use(n):
            with lock:
                seen.update(tuple(sorted((n, m))) for j, m in inside.items() if j != i)
                inside[i] = n
            time.sleep(0.05)
            with lock:
                del inside[i]

    threads = [threading.Thread(target=call, args=(i, n)) for i, n in enumerate(counts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return seen


def test_calls_with_different_thread_counts_never_overlap():
    seen = _overlaps(ThreadCountGate(), [1, 2, 1, 2, 1, 2])
    assert (1, 2) not in seen
    assert seen  # same counts did run together: the gate does not serialise everything


def test_the_classifier_fits_and_predicts_through_the_gate(monkeypatch):
    used: list[int | None] = []
    gate = ThreadCountGate()
    real = gate.use

    def spy(n):
        used.append(n)
        return real(n)

    monkeypatch.setattr(gate, "use", spy)
    monkeypatch.setattr("pipeline.modeling.candidates.LIGHTGBM_THREADS", gate)
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=200)})
    y = (X["a"] + rng.normal(size=200) > 0).astype(int)
    clf = LGBMConversionClassifier(n_estimators=5, n_jobs=1, verbose=-1).fit(X, y)
    clf.predict_proba(X)
    assert used == [1, 1]
