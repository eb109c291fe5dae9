"""What `train` would refuse about a config during fitting, asked before any fitting.

Each rule lives with the stage that needs it (`modeling.segments.segments_problem`,
`features.horizon.horizon_problem`); this module only asks them all, so `train` and `validate`
refuse a config mistake the same way, in one line, before an MLflow run exists.
"""

from __future__ import annotations

import pandas as pd

from pipeline.config import Config
from pipeline.features.horizon import export_date, horizon_problem
from pipeline.io.eventfacts import EventFacts
from pipeline.modeling.segments import segments_problem


def config_problems(
    cfg: Config, leads: pd.DataFrame, events: pd.DataFrame | EventFacts
) -> list[str]:
    """Every config problem the fitting stages would raise, as one-line messages (none: [])."""
    found = [segments_problem(cfg)]
    if cfg.targets.horizon_days:
        first_age = min(cfg.training.snapshot_days)
        when = export_date(leads, events)
        found.append(horizon_problem(leads, cfg.targets.horizon_days, first_age, when))
    return [p for p in found if p]
