"""The A-D grade floors as the registry keeps them: a tag of the registered model, who set them
and when, so every version grades with one set of floors until someone changes them.

Like the gate's thresholds (`registry.gate_policy`), the floors are the registry's, not a
training config's: `scoring.grades` (or a draft from the first model's cutoffs) seeds them once;
after that `leadscore grades set` is the one way to change them, and a config that disagrees is
warned about at training.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from pydantic import ValidationError

from pipeline.config import Config, GradeFloors
from pipeline.errors import ConfigError, RegistryError
from pipeline.modeling.grades import draft_floors
from pipeline.tracking.registry import NOT_FOUND, actor, read_failed
from pipeline.tracking.store import MODEL_NAME

log = logging.getLogger(__name__)
FLOORS_TAG = "grade_floors"
SET_BY_TAG = "grades_set_by"


def _tags(client: MlflowClient) -> dict[str, str] | None:
    """The registered model's tags; None when no model is registered yet."""
    try:
        return client.get_registered_model(MODEL_NAME).tags or {}
    except MlflowException as e:
        if e.error_code == NOT_FOUND:
            return None
        raise read_failed("the grade floors", e) from None


def stored_floors(client: MlflowClient) -> tuple[GradeFloors | None, str | None]:
    """(floors, who set them and when) as the registry stores them; (None, None) if unset. A tag
    that does not parse fails closed: grades must not silently change their meaning."""
    tags = _tags(client) or {}
    if FLOORS_TAG not in tags:
        return None, None
    try:
        return GradeFloors.model_validate(json.loads(tags[FLOORS_TAG])), tags.get(SET_BY_TAG)
    except (ValueError, ValidationError):
        raise RegistryError(
            f"{MODEL_NAME}: the grade floors stored in the registry do not parse "
            f"({tags[FLOORS_TAG][:100]}); set them again with 'leadscore grades set'"
        ) from None


def store_floors(client: MlflowClient, floors: GradeFloors, how: str) -> str:
    """Store `floors` on the registered model (created if needed) with who, when and how."""
    if _tags(client) is None:
        client.create_registered_model(MODEL_NAME)
    at = pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds")
    set_by = f"{actor()} at {at} ({how})"
    client.set_registered_model_tag(MODEL_NAME, FLOORS_TAG, json.dumps(floors.model_dump()))
    client.set_registered_model_tag(MODEL_NAME, SET_BY_TAG, set_by)
    return set_by


def parse_assignments(pairs: list[str], current: GradeFloors | None) -> GradeFloors:
    """`A=0.4 B=0.2 C=0.08` (any of them; the others keep their stored value) as floors."""
    values = current.model_dump() if current else {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip().upper()
        if not sep or key not in ("A", "B", "C"):
            raise ConfigError(f"grades set: '{pair}': write A=0.40 B=0.20 C=0.08")
        try:
            values[key] = float(value)
        except ValueError:
            raise ConfigError(f"grades set: '{pair}': {value!r} is not a probability") from None
    try:
        return GradeFloors.model_validate(values)
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(x) for x in err["loc"]) or "floors"
        msg = err["msg"].removeprefix("Value error, ")
        raise ConfigError(f"grades set: {where}: {msg} (give A, B and C between 0 and 1)") from None


def floors_for_training(
    client: MlflowClient, cfg: Config, scorer: Any
) -> tuple[GradeFloors, str | None]:
    """The floors a new version grades with, and where they came from when the registry holds
    none yet (the caller stores them once the version is registered): the registry's; else
    `scoring.grades`;
    else a draft from this model's cutoffs and base rate (mean calibrated probability of its
    reference leads)."""
    stored, _ = stored_floors(client)
    asked = cfg.scoring.grades
    if stored is not None:
        if asked is not None and asked != stored:
            log.warning(
                "scoring.grades (%s) ignored: the registry's floors are %s; change them with "
                "'leadscore grades set'",
                asked.as_text(),
                stored.as_text(),
            )
        return stored, None
    if asked is not None:
        return asked, "scoring.grades"
    base = float(scorer.score_reference.mean())
    return draft_floors(scorer.cutoffs, base), "drafted from cutoffs and base rate"
