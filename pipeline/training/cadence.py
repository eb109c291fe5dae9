"""When a retrain is due: the champion's age, the labelled leads it never trained on, or a person
asking (`leadscore retrain`, docs/lifecycle.md). Pure: the registry's facts come in as values.

The leads a model trained on are kept as hashes of their ids (`id_hashes`), so a later export can
be counted against them without storing the ids themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pipeline.config import LifecycleConfig

NEW_OUTCOME_SHARE = 0.10  # default min_new_outcomes: this share of the champion's training outcomes


def id_hashes(ids: pd.Index | np.ndarray | list) -> np.ndarray:
    """Sorted, distinct 64-bit hashes of lead ids (as text): deterministic across processes."""
    text = np.asarray(pd.Index(ids).astype(str), dtype=object)
    return np.unique(pd.util.hash_array(text))


def count_new(labelled: np.ndarray, trained: np.ndarray) -> int:
    """How many of the `labelled` hashes are not among the sorted `trained` ones."""
    return int((~np.isin(labelled, trained, assume_unique=True)).sum())


@dataclass(frozen=True)
class ServingVersion:
    """What the registry says about the serving version."""

    version: str
    registered_at: pd.Timestamp  # naive UTC
    trained_outcomes: int | None = None  # labelled leads it trained on (None: not recorded)
    trained_ids: np.ndarray | None = None  # their `id_hashes`


@dataclass(frozen=True)
class Decision:
    due: bool
    why: list[str] = field(default_factory=list)  # what made it due (empty when not due)
    age_days: float | None = None
    new_outcomes: int | None = None
    needed: int | None = None  # new labelled leads that make it due

    def line(self, champion: ServingVersion | None, every: float) -> str:
        """One line for the scheduler's log: `not due: ...` or `due: ...`."""
        if champion is None:
            return "due: no champion yet; training"
        age = f"champion version {champion.version} is {self.age_days:.1f} days old"
        if self.new_outcomes is None:
            new = "new labelled leads not counted (the champion recorded no trained lead ids)"
        else:
            new = f"{self.new_outcomes:,} new labelled leads (due at {self.needed:,})"
        if not self.due:
            return f"not due: {age} (due at {every:g}), {new}; --force trains now"
        return f"due: {'; '.join(self.why)}; training"


def decide(
    champion: ServingVersion | None,
    labelled: np.ndarray,
    now: pd.Timestamp,
    rules: LifecycleConfig,
    force: bool = False,
) -> Decision:
    """Due when there is no champion, when it is at least `retrain_every_days` old (since it was
    registered), when the export's labelled leads (`labelled`, id hashes) hold at least
    `min_new_outcomes` it never trained on (default 10% of its training outcomes), or `force`."""
    if champion is None:
        return Decision(True, ["no champion"])
    age = (now - champion.registered_at) / pd.Timedelta(days=1)
    why = []
    if force:
        why.append("--force")
    if age >= rules.retrain_every_days:
        why.append(
            f"by age: champion version {champion.version} is {age:.1f} days old "
            f"(retrain every {rules.retrain_every_days:g})"
        )
    new = needed = None
    if champion.trained_ids is not None:
        new = count_new(labelled, champion.trained_ids)
        base = champion.trained_outcomes or len(champion.trained_ids)
        needed = rules.min_new_outcomes or max(1, int(np.ceil(NEW_OUTCOME_SHARE * base)))
        if new >= needed:
            why.append(
                f"by new outcomes: {new:,} labelled leads it never trained on (due at {needed:,})"
            )
    return Decision(bool(why), why, age, new, needed)
