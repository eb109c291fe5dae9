"""Checks on a user's export before a model is trained on it (or scores it).

A model trained on a bad export fails silently: it looks fine in its metrics and is wrong in use.
The worst case is leakage: a field a salesperson fills after the sale (a "Tags" or "Lead quality"
column, a closed-deal detail) separates won from lost perfectly in history and does not exist for
new leads. These checks name such columns with their evidence so the user can drop them
(`schema.drop`); data too thin to learn from is refused with the numbers found.

`leadscore validate` prints the whole report; `train` runs the same checks first and stops on an
error; `score` runs the checks that make sense without outcomes.
"""

from __future__ import annotations

import pandas as pd

from pipeline.config import Config
from pipeline.io.eventfacts import EventFacts, event_facts
from pipeline.validation.findings import Report
from pipeline.validation.leakage import leakage_suspects
from pipeline.validation.targets import check_targets


def check_config_columns(cfg: Config, report: Report) -> None:
    """A column cannot be both a feature and the id, the outcome, a date, PII or dropped."""
    sc = cfg.schema
    feats = sc.feature_columns()
    seen: set[str] = set()
    for c in feats:
        if c in seen:
            report.add(
                "error",
                "config",
                f"config: column '{c}' is listed twice under schema.categorical/numeric/flags; keep one",
                c,
            )
        seen.add(c)
    for c in sc.engagement:
        if c not in seen:
            report.add(
                "error",
                "config",
                f"config: schema.engagement lists '{c}', which is not a feature; add it to "
                "schema.categorical/numeric/flags or remove it from schema.engagement",
                c,
            )
    roles = {
        "schema.lead_id": [sc.lead_id],
        "schema.outcome.column": [sc.outcome.column] if sc.outcome.column else [],
        "schema.outcome.closed_at": [sc.outcome.closed_at] if sc.outcome.closed_at else [],
        "schema.created_at": [sc.created_at] if sc.created_at else [],
        "schema.email": [sc.email] if sc.email else [],
        "schema.drop": list(sc.drop),
    }
    for key, cols in roles.items():
        for c in cols:
            if c in seen:
                report.add(
                    "error",
                    "config",
                    f"config: column '{c}' is {key} and also a feature; remove it from "
                    "schema.categorical/numeric/flags",
                    c,
                )


def check_training_data(
    cfg: Config,
    leads: pd.DataFrame,
    events: pd.DataFrame | EventFacts,
    now: pd.Timestamp | None = None,
    left_out: str = "",
) -> Report:
    """Every check on canonical leads + events; nothing is raised, everything is reported.
    `left_out`: the labelled leads training will leave out as too recent, in words (the rule is
    the split's: `pipeline.modeling.split.leads_left_out`), said beside the lead counts."""
    v = cfg.validation
    path = cfg.data.leads
    report = Report()
    check_config_columns(cfg, report)
    lab = leads["_label"]
    n_won, n_lost, n_open = int((lab == 1).sum()), int((lab == 0).sum()), int(lab.isna().sum())
    report.add(
        "info",
        "rows",
        f"leads: {len(leads):,} ({n_won:,} won, {n_lost:,} lost, {n_open:,} open)"
        + (f"; {left_out}" if left_out else ""),
    )
    now = now or pd.Timestamp.now()
    facts = event_facts(events, leads.index, now)  # a cluster's: summed over its partitions
    if cfg.data.activities:
        without = len(leads) - facts.leads_with_events
        report.add(
            "info",
            "rows",
            f"activities: {facts.events:,} events of {len(facts.types)} types; "
            f"{without:,} leads have none",
        )
    if n_won == 0 or n_lost == 0:
        only = "won" if n_lost == 0 else "lost"
        report.add(
            "error",
            "one_class",
            f"{cfg.data.outcomes or path}: only one outcome class: all {n_won + n_lost:,} "
            f"labelled leads are {only}; check schema.outcome.won/lost against the outcome values",
        )
    elif n_won < v.min_won or n_lost < v.min_lost:
        report.add(
            "error",
            "min_outcomes",
            f"{path}: found {n_won:,} won and {n_lost:,} lost leads; at least {v.min_won} won "
            f"and {v.min_lost} lost are needed to learn from (validation.min_won/min_lost); "
            "export more history",
        )
    check_targets(cfg, n_won, n_lost, report)
    _dates(cfg, leads, facts, report, now)
    _columns(cfg, leads, report)
    if n_won and n_lost:
        for f in leakage_suspects(leads, cfg):
            report.findings.append(f)
    return report


def _dates(
    cfg: Config, leads: pd.DataFrame, events: EventFacts, report: Report, now: pd.Timestamp
) -> None:
    sc = cfg.schema
    created = leads["_created_at"]
    if created.isna().all() and cfg.data.rows_in_time_order:
        report.add(
            "info",
            "no_dates",
            f"{cfg.data.leads}: no creation date; data.rows_in_time_order: the split is "
            "out-of-time by position (the newest rows are the test)",
        )
    elif created.isna().all():
        report.add(
            "warning",
            "no_dates",
            f"{cfg.data.leads}: no creation date (schema.created_at): the split will be "
            "stratified-random, not out-of-time; test metrics may be optimistic (if the file's "
            "rows run oldest to newest, set data.rows_in_time_order: true for a split by position)",
        )
    elif created.isna().any():
        report.add(
            "warning",
            "dates_missing",
            f"{cfg.data.leads}: column '{sc.created_at}' is empty for {int(created.isna().sum()):,} "
            "leads: the split falls back to stratified-random; fill the dates",
            sc.created_at,
        )
    future = created > now
    if future.any():
        first = leads.index[future.to_numpy()][0]
        report.add(
            "warning",
            "future_dates",
            f"{cfg.data.leads}: column '{sc.created_at}': {int(future.sum()):,} dates lie in the "
            f"future (first: lead '{first}', {created[future].iloc[0]}); check the date format",
            sc.created_at,
        )
    closed = leads["_closed_at"]
    before = (closed < created).fillna(False)
    if before.any():
        report.add(
            "warning",
            "close_before_create",
            f"column '{sc.outcome.closed_at}': {int(before.sum()):,} leads closed before they "
            "were created; check both date columns",
            sc.outcome.closed_at,
        )
    if events.future:
        report.add(
            "warning",
            "future_dates",
            f"{cfg.data.activities}: column '{sc.activity.timestamp}': "
            f"{events.future:,} events lie in the future; check the date format",
            sc.activity.timestamp,
        )


def _columns(cfg: Config, leads: pd.DataFrame, report: Report) -> None:
    v = cfg.validation
    n = len(leads)
    for c in cfg.schema.feature_columns():
        s = leads[c]
        miss = float(s.isna().mean())
        if miss == 1.0:
            report.add("warning", "missing", f"column '{c}' is empty in every row; drop it", c)
            continue
        if miss > v.max_missing_share:
            report.add(
                "warning",
                "missing",
                f"column '{c}' is {miss:.0%} missing (placeholders in data.missing_values "
                "count as missing)",
                c,
            )
        nun = s.nunique(dropna=True)
        if nun <= 1 and miss == 0:  # one value plus blanks still says filled vs not
            report.add(
                "warning",
                "constant",
                f"column '{c}' has one value ('{s.dropna().iloc[0]}') in every row: it "
                "cannot help; drop it",
                c,
            )
        elif (
            c in cfg.schema.categorical
            and nun > 50
            and nun / max(s.notna().sum(), 1) > v.id_like_share
        ):
            report.add(
                "warning",
                "id_like",
                f"column '{c}' looks like an id or free text ({nun:,} distinct values in "
                f"{n:,} rows): a model cannot generalise from it; add it to schema.drop",
                c,
            )


def check_scoring_data(leads: pd.DataFrame, columns: list[str], path: object) -> Report:
    """What can be checked without outcomes: empty feature columns and future creation dates."""
    report = Report()
    report.add("info", "rows", f"{path}: {len(leads):,} leads to score")
    for c in columns:
        if c in leads.columns and len(leads) and leads[c].isna().all():
            report.add(
                "warning",
                "missing",
                f"{path}: column '{c}' is empty in every row; scores will treat it as unknown",
                c,
            )
    future = leads["_created_at"] > pd.Timestamp.now()
    if future.any():
        report.add(
            "warning",
            "future_dates",
            f"{path}: {int(future.sum()):,} creation dates lie in the future; check the format",
        )
    return report
