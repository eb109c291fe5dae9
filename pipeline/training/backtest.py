"""Rolling forward-chaining backtests: would this recipe have held up month after month?

One out-of-time test slice is a single draw; sales trust a score that held up on each of the last
months. For each of the last N creation months: fit on the leads created before it, early-stop
and calibrate on the most recent of those, test on the month's leads (one row each,
`TrainingRows.one_per_lead`). A month that cannot be tested is skipped with its reason and counts,
and an older month that can takes its place.

Which of the earlier leads' outcomes a month may fit on is one of two honest rules, one per run
(`training.backtest_outcomes`), recorded and said in words:
- `as_known_then`: only outcomes known before the month began (`pipeline.features.known`; with
  `targets.horizon_days`, snapshots whose N-day window had ended). Strictest: what a team had.
- `at_export`: every labelled lead created before the month, its outcome as known at the export,
  the rule of the headline test split (leads too recent to know are already out of `rows`).
  It answers "does a model of older leads rank the next month's leads?". Only label timing
  differs: features are point in time under both.
On an MQL list beside a won-deals table, losses are known only once wins would have closed (200+
days), and the early leads hardly won, so under `as_known_then` every month's fit slice held 0-1
wins and no month was tested. `auto` keeps `as_known_then` when it tests `backtest_months`
months, and otherwise takes `at_export` for the whole run when that tests more, saying why.

With `data.rows_in_time_order` and no dates the periods are blocks of the newest rows by file
position. The snapshot features of the main run are
reused: a feature row only sees events before its as-of time, so it does not depend on the split.
Without creation dates there is no time to roll forward; stratified folds by lead stand in and
the table says so. Each period refits the candidate that serves (`training.candidates` chose it on
validation): a logistic model that won is backtested as a logistic model, not as the booster it
beat; the table's `candidate` column says which.

The refits run in a pool of threads, one LightGBM thread each, beside the rest of training
(`start_backtests`): LightGBM releases the GIL, so they fill the core that training's Python steps
leave idle. With `deterministic=True` LightGBM gives the same trees on any thread count, so the
table is the same as run one after another.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from pipeline.config import Config, LightGBMParams
from pipeline.evaluation.baselines import points_score
from pipeline.evaluation.metrics import classification_metrics
from pipeline.features.known import LeftOut, outcome_known_at
from pipeline.io.keys import index_positions
from pipeline.modeling.calibration import calibrated_probabilities
from pipeline.modeling.candidates import LIGHTGBM, LOGISTIC, fit_candidate
from pipeline.modeling.params import size_aware
from pipeline.modeling.prepare import TrainingRows

log = logging.getLogger(__name__)
MIN_TEST_LEADS = 50
# Backtests repeat the recipe N times; at 100k leads they cost more than the main fit. Past this
# many fitting snapshots, a seeded sample of leads fits (a month's test leads are never sampled).
MAX_FIT_ROWS = 100_000
WORKERS = 2  # refits at a time, one LightGBM thread each (the machines have 2 cores)
AS_KNOWN_THEN, AT_EXPORT = "as_known_then", "at_export"  # training.backtest_outcomes
TOO_FEW_KNOWN = "too few outcomes known before it began to train on"
TOO_FEW_BEFORE = "too few labelled leads created before it began to train on"


@dataclass(frozen=True)
class Refit:
    """How each period refits the recipe: on at most `max_fit_rows` snapshots (whole leads, seeded),
    early-stopped and calibrated on the period's most recent leads.

    Exact (below `training.scale.min_snapshots`): size-aware parameters for the period's own fit
    rows, every recent lead. At scale: fewer fit rows (`training.scale.backtest_fit_rows`), and
    as many recent ones at most; the main fit's parameters, chosen for the whole fit slice, whose
    faster learning rate stops in about half the trees on the smaller sample; and a shorter
    early-stopping patience (`training.scale.backtest_early_stopping_rounds`): a backtest
    reports how the recipe held up, so its last rounds of waiting for a better tree are waste.
    """

    max_fit_rows: int = MAX_FIT_ROWS
    params: LightGBMParams | None = None
    max_val_rows: int | None = None  # None: every recent lead early-stops and calibrates
    early_stopping_rounds: int | None = None  # None: the main fit's patience


@dataclass(frozen=True)
class Period:
    """One backtest: its name (a month or a fold) and its fit, validation and test rows."""

    name: str
    fit: np.ndarray
    val: np.ndarray
    test: np.ndarray


def refit_plan(cfg: Config, rows: TrainingRows) -> Refit:
    """The exact refit, or at scale fewer fit rows and the main fit's parameters."""
    sc = cfg.training.scale
    if not rows.at_scale:
        return Refit()
    params = size_aware(cfg.training.lightgbm, rows.size_rows) if sc.backtest_main_params else None
    return Refit(
        sc.backtest_fit_rows, params, sc.backtest_fit_rows, sc.backtest_early_stopping_rounds
    )


def _fit_and_test(
    cfg: Config,
    rows: TrainingRows,
    codes: np.ndarray,
    period: Period,
    method: str = "auto",
    refit: Refit = Refit(),
    candidate: str = LIGHTGBM,
) -> dict[str, float | str] | None:
    """Refit the serving candidate on one period's rows and test it on its leads (None: a slice
    lacks a class). Runs in a worker thread: it reads `rows` and writes nothing shared."""
    tc = cfg.training
    X, y, lead_ids = rows.X, rows.y, rows.lead_ids
    slices = _period_slices(rows, codes, period, refit, tc.seed)
    if slices is None:
        return None
    fit_m, val_m, test_m = slices
    params = None
    if candidate != LOGISTIC:  # the logistic model early-stops on nothing
        params = refit.params or size_aware(tc.lightgbm, int(fit_m.sum()))
        if refit.early_stopping_rounds:
            update = {"early_stopping_rounds": refit.early_stopping_rounds}
            params = params.model_copy(update=update)
    model = fit_candidate(candidate, cfg, rows, fit_m, val_m, params, threads=1)
    p, choice = calibrated_probabilities(
        model, X[val_m], y[val_m], lead_ids[val_m], method, tc.seed, X[test_m]
    )
    return {"candidate": candidate, **_period_metrics(cfg, rows, fit_m, test_m, p, choice.method)}


def _period_slices(
    rows: TrainingRows, codes: np.ndarray, period: Period, refit: Refit, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The period's fit, validation and test rows, capped as `refit` says; None when one of them
    is empty or holds a single class."""
    fit_m = _cap_rows(period.fit, codes, refit.max_fit_rows, seed)
    val_m = period.val
    if refit.max_val_rows is not None:
        val_m = _cap_rows(val_m, codes, refit.max_val_rows, seed)
    test_m = period.test
    for m in (fit_m, val_m, test_m):
        if m.sum() == 0 or len(np.unique(rows.y[m])) < 2:
            return None
    return fit_m, val_m, test_m


def _period_metrics(
    cfg: Config,
    rows: TrainingRows,
    fit_m: np.ndarray,
    test_m: np.ndarray,
    p: np.ndarray,
    calibration: str,
) -> dict[str, float]:
    """One backtest row: the refit's test metrics beside the points rule's AUC (without points
    rules, no such column: a points score of 0 everywhere would read as an AUC of 0.5)."""
    y = rows.y
    m = classification_metrics(y[test_m], p, "")
    points = {}
    if cfg.baseline_points:
        pts = points_score(rows.X[test_m], cfg.baseline_points)
        points = {"points_roc_auc": float(roc_auc_score(y[test_m], pts))}
    return {
        "test_leads": int(test_m.sum()),
        "won": int(y[test_m].sum()),
        "fit_rows": int(fit_m.sum()),
        "roc_auc": m["roc_auc"],
        "ece": m["ece"],
        "brier": m["brier"],
        "log_loss": m["log_loss"],
        "mean_probability": float(p.mean()),
        "observed_rate": float(y[test_m].mean()),
        **points,
        "calibration": calibration,
    }


@contextmanager
def worker_pool() -> Iterator[ThreadPoolExecutor]:
    """`WORKERS` threads for refits; leaving early (an error, Ctrl-C) cancels the refits not yet
    started instead of running them all first, so an interrupted training stops within one fit."""
    pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="train")
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


@dataclass(frozen=True)
class Backtests:
    """The refits' table (one row per tested period), the mode ('monthly', 'positional',
    'stratified_folds' or 'off'), the periods skipped, each with its reason and counts, and the
    outcomes rule the fit slices used (`as_known_then` or `at_export`; '' when off) with its words
    (and why `auto` chose it)."""

    table: pd.DataFrame
    mode: str
    skipped: pd.DataFrame
    outcomes: str = ""
    said: str = ""

    def reason_none(self) -> str:
        """Why no period was tested, in the words of what applied (empty when some were)."""
        if len(self.table):
            return ""
        if self.mode == "off":
            return "training.backtest_months is 0"
        if not len(self.skipped):
            return "no period holds labelled leads to test"
        under = f" under {self.said}" if self.said else ""
        return f"every period checked was skipped ({len(self.skipped)}){under}"


SKIP_COLUMNS = ["period", "reason", "test_leads", "train_won", "train_lost", "outcomes"]


@dataclass(frozen=True)
class Plan:
    """The periods to test, the mode, the periods skipped (reason and counts), the outcomes rule
    of the fit slices and that rule in words, with why it was chosen when it was not the first."""

    periods: list[Period]
    mode: str
    skipped: list[dict]
    outcomes: str = ""  # as_known_then | at_export; '' when off
    said: str = ""


def start_backtests(
    cfg: Config,
    leads: pd.DataFrame,
    rows: TrainingRows,
    method: str | None,
    pool: Executor,
    candidate: str = LIGHTGBM,
) -> Callable[[], Backtests]:
    """Submit every period's refit to `pool` and return at once; calling the result waits for
    them and gives the `Backtests` (a refit's error is raised there).

    `method` is the calibration the main run chose; reusing it spares a held-out choice per
    period. The main run's snapshot features are reused as they are; `refit_plan` says how each
    period refits (exact, or the shortcuts of `training.scale` on large data).
    """
    codes, _ = pd.factorize(rows.lead_ids)  # whole leads are sampled: hash the ids once
    plan = backtest_periods(cfg, leads, rows, codes)
    refit = refit_plan(cfg, rows)
    method = method or cfg.training.calibration
    # at scale one refit at a time: two side by side, each with its slices, matrix and LightGBM
    # dataset, made the peak of a 1M-lead training (3.8 GB, 3.7 taking turns); they still run
    # beside the main thread's evaluation and explanation, and each stays its own future (an
    # interrupted training cancels the ones not yet started)
    turn = threading.BoundedSemaphore(1 if rows.at_scale else WORKERS)

    def fit_and_test(p: Period) -> dict[str, float | str] | None:
        with turn:
            return _fit_and_test(cfg, rows, codes, p, method, refit, candidate)

    jobs: list[tuple[Period, Future]] = [(p, pool.submit(fit_and_test, p)) for p in plan.periods]

    def table() -> Backtests:
        done = [(p, f.result()) for p, f in jobs]
        tested = [
            {"period": p.name, **r, "outcomes": plan.outcomes} for p, r in done if r is not None
        ]
        # a slice that lost a class to sampling (`Refit`) is skipped too, and said
        skipped = plan.skipped + [
            skip_row(p.name, "a slice held one class after sampling", p, rows, plan.outcomes)
            for p, r in done
            if r is None
        ]
        skipped_frame = pd.DataFrame(skipped, columns=SKIP_COLUMNS)
        return Backtests(pd.DataFrame(tested), plan.mode, skipped_frame, plan.outcomes, plan.said)

    return table


def skip_row(name: str, reason: str, p: Period, rows: TrainingRows, outcomes: str) -> dict:
    """One skipped period: its reason and counts (test leads, wins and losses it would train on,
    one row per lead) under the outcomes rule that applied."""
    train = (p.fit | p.val) & rows.one_per_lead
    won = int(rows.y[train].sum())
    return {
        "period": name,
        "reason": reason,
        "test_leads": int(p.test.sum()),
        "train_won": won,
        "train_lost": int(train.sum()) - won,
        "outcomes": outcomes,
    }


def backtest_periods(
    cfg: Config, leads: pd.DataFrame, rows: TrainingRows, codes: np.ndarray
) -> Plan:
    """The periods to test, the mode, the periods skipped (with reason and counts) and the
    outcomes rule of their fit slices.

    Monthly with creation dates (`_monthly`), under the rule `training.backtest_outcomes` names;
    `auto`: `as_known_then` when it tests `backtest_months` months, else `at_export` for the
    whole run when that tests more (one rule per run, so the months compare). By position with
    `data.rows_in_time_order` and no dates; else stratified folds by lead: without dates no
    outcome has a time it became known, so both fit on outcomes as at the export.
    `codes`: the rows' lead ids factorized."""
    n = cfg.training.backtest_months
    if n <= 0:
        return Plan([], "off", [])
    pos = index_positions(leads.index, rows.snaps["lead_id"])
    created = leads["_created_at"].to_numpy(dtype="datetime64[ns]")[pos]
    undated = "outcomes as known at the export (without creation dates no outcome has a time)"
    if rows.split_kind == "position":
        return Plan(_position_periods(cfg, rows, pos, n), "positional", [], AT_EXPORT, undated)
    if np.isnat(created).any():
        return Plan(_fold_periods(cfg, rows, n), "stratified_folds", [], AT_EXPORT, undated)
    wanted = cfg.training.backtest_outcomes
    known_at = _row_known_at(cfg, leads, rows, pos)
    if wanted != "auto":
        plan = _monthly(cfg, rows, codes, created, known_at, wanted)
        return replace(plan, said=f"{plan.said}, as training.backtest_outcomes asks")
    strict = _monthly(cfg, rows, codes, created, known_at, AS_KNOWN_THEN)
    if len(strict.periods) >= n:
        return strict
    loose = _monthly(cfg, rows, codes, created, known_at, AT_EXPORT)
    if len(loose.periods) <= len(strict.periods):
        kept = (
            f"{strict.said}, kept (training.backtest_outcomes auto) although fewer than the {n} "
            f"months asked for could be tested: as known at the export no more could be "
            f"({len(loose.periods)})"
        )
        return replace(strict, said=kept)
    return replace(loose, said=f"{loose.said}, because {_why_moved(strict, n)}")


def _why_moved(strict: Plan, n: int) -> str:
    """Why `auto` left `as_known_then`: how few months it could test, and why the others not."""
    short = sum(s["reason"].startswith(TOO_FEW_KNOWN) for s in strict.skipped)
    checked = len(strict.skipped) + len(strict.periods)
    return (
        f"with outcomes as known at the time only {len(strict.periods)} of the {n} months asked "
        f"for (training.backtest_months) could be tested: {short} of the {checked} months "
        "checked had too few wins and losses known before they began to fit on"
    )


def _monthly(
    cfg: Config,
    rows: TrainingRows,
    codes: np.ndarray,
    created: np.ndarray,
    known_at: np.ndarray,
    outcomes: str,
) -> Plan:
    """The newest `backtest_months` creation months that can be tested under `outcomes` (enough
    test leads; wins and losses in both the fit and the validation leads), walking back from the
    newest month, so months that cannot be tested are listed and older ones take their place.
    `known_at`: when each row's label was known (read under `as_known_then` only)."""
    n = cfg.training.backtest_months
    if outcomes == AT_EXPORT:  # every row of `rows` was known by the export (split.py)
        known_at = np.full(len(created), np.datetime64("NaT"), "datetime64[ns]")
    month = created.astype("datetime64[M]")
    lead_created = np.empty(codes.max() + 1, "datetime64[ns]")
    lead_created[codes] = created
    periods: list[Period] = []
    skipped: list[dict] = []
    for mo in np.unique(month[rows.one_per_lead])[::-1]:
        if len(periods) == n:
            break
        p = _month_period(cfg, rows, codes, mo, month, created, known_at, lead_created)
        why = _why_untestable(rows, p, outcomes)
        if why:
            skipped.append(skip_row(str(mo), why, p, rows, outcomes))
        else:
            periods.append(p)
    said = _rule_words(cfg, rows, outcomes)
    return Plan(periods[::-1], "monthly", skipped[::-1], outcomes, said)


def _rule_words(cfg: Config, rows: TrainingRows, outcomes: str) -> str:
    """The outcomes rule of monthly fit slices in plain words, with its number of days."""
    if outcomes == AT_EXPORT:
        return (
            "outcomes as known at the export, as the test split (every labelled lead created "
            "before the month, including outcomes a team learnt only later)"
        )
    horizon = cfg.targets.horizon_days
    if horizon:
        return (
            f"outcomes as known at the time (only snapshots whose {horizon}-day window had "
            "ended before the month began)"
        )
    lag = rows.left_out.days
    days = f"; an outcome counts as known {lag:.0f} days after creation" if lag else ""
    return f"outcomes as known at the time (only outcomes known before the month began{days})"


def _row_known_at(
    cfg: Config, leads: pd.DataFrame, rows: TrainingRows, pos: np.ndarray
) -> np.ndarray:
    """When each row's label was known: with `targets.horizon_days`, the end of the snapshot's
    N-day window (its label is decided then); else when the lead's outcome was (`known.py`)."""
    horizon = cfg.targets.horizon_days
    if horizon:
        t = rows.snaps["as_of"].to_numpy("datetime64[ns]")
        return t + np.timedelta64(int(horizon) * 86400, "s")
    return outcome_known_at(leads, cfg.schema.outcome.lost_known_after_days)[pos]


def _month_period(
    cfg: Config,
    rows: TrainingRows,
    codes: np.ndarray,
    mo: np.datetime64,
    month: np.ndarray,
    created: np.ndarray,
    known_at: np.ndarray,
    lead_created: np.ndarray,
) -> Period:
    """One month: fit on rows created and known before it began (a NaT `known_at` counts as
    known: always under `at_export`; the most recent `val_share` of those leads early-stop and
    calibrate), test on the month's leads."""
    start = mo.astype("datetime64[ns]")
    known = np.isnat(known_at) | (known_at < start)  # wins and losses alike (known.py)
    before = (created < start) & known
    test_m = (month == mo) & rows.one_per_lead
    val_m = np.zeros(len(before), bool)
    if before.any():
        firsts = pd.Series(lead_created[np.unique(codes[before])])
        cut = firsts.quantile(1 - cfg.training.val_share)
        val_m = before & (created >= cut.to_datetime64())
    return Period(str(mo), before & ~val_m, val_m, test_m)


def _why_untestable(rows: TrainingRows, p: Period, outcomes: str) -> str:
    """Why a period cannot be tested under the `outcomes` rule, or '' when it can."""
    y = rows.y
    if p.test.sum() < MIN_TEST_LEADS:
        return f"{int(p.test.sum())} test leads, fewer than {MIN_TEST_LEADS}"
    if len(np.unique(y[p.test])) < 2:
        return "its test leads are all won or all lost"
    for name, m in (("fit", p.fit), ("validation", p.val)):
        if m.any() and y[m].min() != y[m].max():
            continue
        if outcomes == AT_EXPORT:
            return f"{TOO_FEW_BEFORE}: its {name} leads need wins and losses"
        rule = _known_rule(rows.left_out)
        return (
            f"{TOO_FEW_KNOWN}: its {name} leads need wins and losses{f' ({rule})' if rule else ''}"
        )
    return ""


def _known_rule(left_out: LeftOut) -> str:
    """The rule that made an outcome known before a month began ('' when it is the close date):
    the lag for losses without close dates, or a horizon's window end, not the export's rule."""
    if left_out.horizon_days:
        return (
            f"a snapshot's {left_out.horizon_days}-day window (targets.horizon_days) must end "
            "before the month began"
        )
    return left_out.rule() if left_out.days is not None else ""


def _position_periods(cfg: Config, rows: TrainingRows, pos: np.ndarray, n: int) -> list[Period]:
    """`data.rows_in_time_order` without dates: the newest half of the labelled rows in `n`
    blocks by file position; each block is tested on a refit of every row before it (the most
    recent `val_share` of those early-stop and calibrate)."""
    order = np.unique(pos)  # file positions of the labelled leads, oldest first
    half = order[len(order) // 2 :]
    periods = []
    for block in np.array_split(half, n):
        if not len(block):
            continue
        lo, hi = int(block[0]), int(block[-1])
        before = pos < lo
        n_before = np.unique(pos[before])
        cut = n_before[int(len(n_before) * (1 - cfg.training.val_share))] if len(n_before) else lo
        val_m = before & (pos >= cut)
        test_m = (pos >= lo) & (pos <= hi) & rows.one_per_lead
        periods.append(Period(f"rows {lo + 1:,}-{hi + 1:,}", before & ~val_m, val_m, test_m))
    log.info("rows in time order: backtests by file position (%d blocks)", len(periods))
    return periods


def _fold_periods(cfg: Config, rows: TrainingRows, n: int) -> list[Period]:
    """Stratified folds by lead. Membership is looked up by lead code (ids factorized in sorted
    order, so the folds do not depend on row order), never by comparing ids pair by pair:
    `np.isin` on object-dtype ids took 128 s of a 41k-lead training."""
    log.warning("no creation dates: backtests use stratified folds by lead, not months")
    codes, _ = pd.factorize(rows.lead_ids, sort=True)
    n_leads = int(codes.max()) + 1
    lead_y = np.zeros(n_leads, int)
    lead_y[codes] = rows.y  # a lead's label is the same on each of its snapshots
    rng = np.random.default_rng(cfg.training.seed)
    k = min(max(n, 2), 5)
    skf = StratifiedKFold(k, shuffle=True, random_state=cfg.training.seed)
    periods = []
    for i, (tr, _) in enumerate(skf.split(np.zeros(n_leads), lead_y)):
        fold = np.zeros(n_leads, np.int8)  # per lead: 0 test, 1 fit, 2 validation
        fold[tr] = 1
        fold[rng.permutation(tr)[: int(len(tr) * cfg.training.val_share)]] = 2
        f = fold[codes]
        periods.append(Period(f"fold {i + 1}", f == 1, f == 2, (f == 0) & rows.one_per_lead))
    return periods


def _cap_rows(mask: np.ndarray, codes: np.ndarray, max_rows: int, seed: int) -> np.ndarray:
    """Keep whole leads (`codes`: lead codes in order of first appearance), in a seeded random
    order, until about `max_rows` snapshots are kept."""
    if mask.sum() <= max_rows:
        return mask
    n_leads = int(codes.max()) + 1
    counts = np.bincount(codes[mask], minlength=n_leads)
    order = np.random.default_rng(seed).permutation(np.flatnonzero(counts))
    keep = np.zeros(n_leads, bool)
    keep[order[np.cumsum(counts[order]) <= max_rows]] = True
    return mask & keep[codes]
