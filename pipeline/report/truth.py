"""What the training report may claim, decided from what the run did: never more than true.

Each function turns one fact of the run (the split kind, the points rules, the champion, the
cutoffs, the leakage checks) into the words the page shows, so a sentence about a points rule
exists only when points rules were configured, "recent leads" only on an out-of-time split, and
"the champion keeps serving" only when there is a champion. Pure: strings and small dicts.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pipeline.config import Config
from pipeline.report.fmt import pct
from pipeline.report.glossary import (
    EXPORT_BACKTEST,
    FOLD_BACKTEST,
    GLOSSARY,
    POSITION_BACKTEST,
    POSITION_TEST,
    RANDOM_TEST,
)
from pipeline.validation.vocabulary import PII_NAME_RE, after_fact_role, is_snapshot

MIN_SQL_LEADS = 20  # a precision over fewer test leads than this is noise, not a reachable target


def held_out_words(info: dict) -> str:
    """Who the test leads are: later ones on an out-of-time split, a random slice otherwise."""
    n = f"{info.get('rows_test_leads', 0):,}"
    if info.get("split") == "time":
        return f"{n} recent leads it never saw"
    if info.get("split") == "position":
        return (
            f"the newest {n} labelled rows of the file, which it never saw (no creation dates; the rows "
            "are in time order: data.rows_in_time_order)"
        )
    return f"{n} leads held out at random (no creation dates, so not later leads)"


def is_time_split(info: dict) -> bool:
    return info.get("split") == "time"


def period_header(bt: Any) -> str:
    """'Month' over monthly backtests, 'Rows' over blocks by file position, 'Fold' over the
    stratified folds that stand in for them."""
    mode = getattr(bt, "attrs", {}).get("mode", "monthly") if bt is not None else "monthly"
    return {"monthly": "Month", "positional": "Rows"}.get(mode, "Fold")


def glossary_for(info: dict, bt: Any) -> list[tuple[str, str]]:
    """The glossary with the entries of what this run did: a random test and fold backtests
    replace "out-of-time test" and monthly backtests when there were no creation dates, and
    backtests on outcomes as known at the export never say "train on what was known then"."""
    swap = {}
    if info.get("split") == "position":
        swap["Out-of-time test"] = POSITION_TEST
    elif not is_time_split(info):
        swap["Out-of-time test"] = RANDOM_TEST
    header = period_header(bt)
    if header != "Month":
        swap["Backtest"] = POSITION_BACKTEST if header == "Rows" else FOLD_BACKTEST
    elif info.get("backtest_outcomes") == "at_export":  # not "what was known then"
        swap["Backtest"] = EXPORT_BACKTEST
    return [swap.get(term, (term, text)) for term, text in GLOSSARY]


def gate_sentence(gate: Any | None, version: str | None) -> str | None:
    """The summary's last sentence: who serves scores after this run."""
    if gate is None:
        return None
    if gate.passed:
        return "This version now serves scores (it passed the promotion gate)."
    if gate.champion_version:
        return (
            "This version does not serve scores: it did not pass the promotion gate, and version "
            f"{gate.champion_version} (the champion) keeps serving them."
        )
    return no_champion_words(version)


def no_champion_words(version: str | None) -> str:
    """Without a champion nothing serves: say so, and what to do."""
    v = version or "VERSION"
    return (
        "No version serves scores: this one did not pass the promotion gate and there is no "
        "champion yet. Fix what the gate names and train again, or review this version and "
        f"promote it by hand with 'leadscore promote {v}'."
    )


def best_reachable_precision(y: np.ndarray, p: np.ndarray) -> tuple[float, int]:
    """The highest SQL precision any cutoff reaches on the test leads, over at least
    MIN_SQL_LEADS leads (fewer is noise), and how many leads that cutoff takes."""
    order = np.argsort(-p, kind="stable")
    ys = y[order]
    n = np.arange(1, len(ys) + 1)
    prec = np.cumsum(ys) / n
    ok = n >= min(MIN_SQL_LEADS, len(ys))
    if not ok.any():
        return float("nan"), 0
    i = int(np.flatnonzero(ok)[np.argmax(prec[ok])])
    return float(prec[i]), i + 1


def cutoff_notes(cfg: Config | None, result: Any) -> list[str]:
    """Why a stage is empty or a target is out of reach, in words: the cause, the nearest target
    the model does reach and the config key to change. Every empty stage gets a note."""
    cut, preds = result.scorer.cutoffs, result.test_predictions
    y, p = preds["label"].to_numpy(int), preds["probability"].to_numpy(float)
    sql_empty = not bool((p >= cut.sql).any())
    out = [n for n in [sql_note(cfg, cut, y, p, sql_empty)] if n]
    if cut.mql >= cut.sql:
        sql_wins = float((y[p >= cut.sql]).sum() / max(int(y.sum()), 1))
        out.append(
            f"The MQL stage is empty (0% of leads): its cutoff equals the SQL cutoff "
            f"({pct(cut.sql)}), because the SQLs alone already keep the share of wins the MQL "
            f"target asks for ({cut.mql_rule}). Every marketing-qualified lead is already an SQL. "
            f"For a separate MQL stage raise targets.mql.recall above the SQLs' share of wins "
            f"(about {pct(sql_wins)} on the test leads)."
        )
    elif not bool(((p >= cut.mql) & (p < cut.sql)).any()):
        out.append(
            f"The MQL stage is empty (0% of the test leads): no test lead scored between the MQL "
            f"cutoff ({pct(cut.mql)}, {cut.mql_rule}) and the SQL cutoff ({pct(cut.sql)}). "
            "Raise targets.mql.recall for a wider MQL stage."
        )
    return out


def sql_note(cfg: Config | None, cut: Any, y: np.ndarray, p: np.ndarray, empty: bool) -> str | None:
    """The note on the SQL stage: a precision target above what the model reaches, or an empty
    stage, with the nearest reachable target (a 5-point step at or below the best precision any
    cutoff reaches over MIN_SQL_LEADS test leads) and the key to change; None when neither."""
    want = cfg.targets.sql.precision if cfg is not None else None
    best, n = best_reachable_precision(y, p)
    head = "The SQL stage is empty (0% of the test leads). " if empty else ""
    if not np.isfinite(best):
        return f"{head}Too few test leads to tell which SQL target is reachable." if empty else None
    near = np.floor(best * 20) / 20
    advice = (
        f"The nearest reachable target is about {near:.2f}: set targets.sql.precision to "
        f"{near:.2f} or lower, or use targets.sql.capacity_per_month."
    )
    if want is not None and best < want:
        return (
            f"{head}The SQL target (at least {pct(want)} of SQLs convert, targets.sql.precision "
            f"{want}) is above what this model reaches: at best {pct(best)} of the top {n:,} test "
            f"leads converted. {advice}"
        )
    if not empty:
        return None
    high = f"{pct(float(p.max()) if len(p) else 0.0)}"
    if want is None:
        return (
            f"{head}Its cutoff ({pct(cut.sql)}, {cut.sql_rule}) is above the probability of every "
            f"test lead (the highest is {high}); raise targets.sql.capacity_per_month."
        )
    step = max(np.floor(want * 20) / 20 - 0.05, 0.05)
    return (
        f"{head}Its cutoff ({pct(cut.sql)}) is above the probability of every test lead (the "
        f"highest is {high}): the validation leads it was chosen on never reached the target "
        f"(targets.sql.precision {want}), so it fell to their highest probability. The test leads "
        f"do reach it (at best {pct(best)} of the top {n:,} converted), so the target is at the "
        f"edge of what this model reaches: set targets.sql.precision to {step:.2f} or lower, or "
        "use targets.sql.capacity_per_month."
    )


def _why_dropped(column: str) -> str:
    if PII_NAME_RE.search(column):
        return "personal data"
    role = after_fact_role(column)
    if role:
        return f"the name suggests {role}"
    if is_snapshot(column):
        return "the name says it describes the lead as of the export"
    return "listed in schema.drop"


def leakage_sections(cfg: Config | None, info: dict, comments: dict[str, str]) -> dict:
    """Leakage as the run saw it: suspects kept as features (and whether `leakage.accept` lists
    them), and the columns the config drops with init's comment or what the name suggests."""
    accepted = set(cfg.leakage.accept) if cfg is not None else set()
    kept = []
    for s in info.get("leakage_suspects") or []:
        s = s if isinstance(s, dict) else {"column": str(s)}
        why = s.get("evidence") or s.get("message") or ""
        kept.append(
            {"column": s.get("column", ""), "message": why, "accepted": s.get("column") in accepted}
        )
    drop = list(cfg.schema.drop) if cfg is not None else []
    dropped = [{"column": c, "message": comments.get(c) or _why_dropped(c)} for c in drop]
    return {"kept": kept, "dropped": dropped, "unaccepted": [k for k in kept if not k["accepted"]]}


def leakage_banner(cfg: Config | None, info: dict) -> str | None:
    """The one line the CLI, the model card and the report put at the top when the model still
    uses leakage suspects: not promoted unless accepted, and loud even when accepted."""
    kept = leakage_sections(cfg, info, {})["kept"]
    if not kept:
        return None
    names = ", ".join(k["column"] for k in kept)
    if any(not k["accepted"] for k in kept):
        return (
            f"WARNING leakage: this model still uses leakage suspects as features ({names}); "
            "it is registered but not promoted. Add them to schema.drop and train again, or list "
            "the ones known before the sale under leakage.accept"
        )
    return (
        f"WARNING leakage: this model uses leakage suspects kept on purpose (leakage.accept: "
        f"{names}); if any is filled after the outcome, its numbers are too good to be true"
    )
