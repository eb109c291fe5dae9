"""Re-checks of the config's targets against the whole export's class balance.

`init` once guessed a 5% win rate from the first rows of a time-sorted file where the whole file
had 11.3%, and drafted an SQL precision target from it; `validate` should notice a target the
class balance cannot support, and say what to set instead.
"""

from __future__ import annotations

from pipeline.config import Config
from pipeline.validation.findings import Report


def check_targets(cfg: Config, n_won: int, n_lost: int, report: Report) -> None:
    """A precision target at or below the win rate qualifies every lead: say so, with the
    target `init` would draft from these counts (halfway between the win rate and 1)."""
    precision = cfg.targets.sql.precision
    if precision is None or not n_won or not n_lost:
        return
    base = n_won / (n_won + n_lost)
    if precision <= base:
        suggest = round(min(0.9, max(0.5, base + (1 - base) / 2)), 2)
        report.add(
            "warning",
            "targets",
            f"targets.sql.precision {precision} is not above the export's win rate "
            f"{base:.1%} ({n_won:,} won of {n_won + n_lost:,} closed): every lead would be an SQL; "
            f"set it higher (e.g. {suggest}) or use capacity_per_month",
        )
