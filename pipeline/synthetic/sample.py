"""Seeded sample CRM export that behaves like a B2B funnel.

Why a generator and not a fixed file: it lets tests and benchmarks make data of any size, and it
knows each lead's true conversion probability, so a report can say how close the model gets to the
best possible (the oracle) instead of only how it compares with another guess.

The story it tells. Each lead is worked for a 30-day qualification window after it is created;
what it does in that window (and who it is) decides its true probability; the deal is closed won or
lost some weeks later. Intent shows through behaviour: demo requests, pricing-page visits, webinars
and trials signal it, a personal email domain or an unsubscribe lowers it, and recent activity (the
last 7 days of the window) counts more than old. Several effects interact (a demo request from a
decision maker, pricing visits from a large company, a trial in a software company), so a
hand-made points rule is clearly beaten by a model. The channel mix drifts over time.

The true probability depends only on what a feature builder can see at the end of the window, so
it is the Bayes-optimal score for a snapshot taken then.

`open_leads.csv` is the scoring batch at the export date: the open leads that just reached one of
the ages the model is trained to score (see `_due_for_scoring`).

Who the leads are (the population tables, firmographics, contacts, fit) lives in
`pipeline.synthetic.population`; this module draws them in its fixed order and adds the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.config import TrainingConfig
from pipeline.synthetic.population import (
    ACTIVITIES,
    CHANNELS,
    COUNTRIES,
    FUNCTIONS,
    INDUSTRIES,
    SENIORITY,
    SIZES,
    Firmographics,
    draw_contacts,
    draw_firmographics,
    fit_from_firmographics,
)
from pipeline.synthetic.regions import draw_regions, fit_weights

WINDOW_DAYS = 30.0
DUE_WINDOW_DAYS = 3.0  # open_leads.csv: leads that reached a scoring age in the last 3 days
DEFAULT_END = "2026-11-01"
HISTORY_DAYS = 730


@dataclass(frozen=True)
class SampleData:
    leads: pd.DataFrame
    activities: pd.DataFrame
    oracle: pd.DataFrame
    open_leads: pd.DataFrame


@dataclass(frozen=True)
class _Events:
    """What the leads did in their qualification window, per event and per lead."""

    lead_idx: np.ndarray  # per event: which lead
    type_idx: np.ndarray  # per event: index into ACTIVITIES
    age: np.ndarray  # per event: days after the lead was created
    days: np.ndarray  # per event: days after the start of the history
    counts: np.ndarray  # leads x activity types, in the window
    recent: np.ndarray  # leads x activity types, in the last 7 days of the window


def generate(
    n_leads: int = 20_000,
    seed: int = 42,
    end: str = DEFAULT_END,
    activity_scale: float = 1.0,
    segment_shift: float | None = None,
) -> SampleData:
    """Make a sample CRM export: leads, activities, true probabilities and the open leads.

    `activity_scale` multiplies every activity rate (about 8 events per lead at 1.0): benchmarks
    use it to reach a given event volume; the default sample is unchanged. The steps share one
    random generator, so their order is part of the seed's meaning: reordering them changes the
    data every test and benchmark was written against.

    `segment_shift` (None: off) adds a `region` column, drawn from its own generator so the
    other columns keep their seed's meaning, where one region behaves differently by that much
    (`pipeline.synthetic.regions`; 0: regions that change nothing).
    """
    if n_leads < 1:
        raise ValueError("n_leads must be at least 1")
    rng = np.random.default_rng(seed)
    end_ts = pd.Timestamp(end)
    start_ts = end_ts - pd.Timedelta(days=HISTORY_DAYS)
    frac, created_days = _creation_times(rng, n_leads)
    firms = draw_firmographics(rng, frac)
    fit = fit_from_firmographics(firms)
    events = _events(rng, fit, created_days, activity_scale)
    region = None if segment_shift is None else draw_regions(seed, n_leads)
    weight = None if region is None else fit_weights(region, segment_shift or 0.0)
    p_true = _true_probability(firms, fit, events, weight)
    won, closed_days = _outcomes(rng, p_true, created_days)
    lead_ids = np.char.add("L", np.char.zfill(np.arange(1, n_leads + 1).astype(str), 7))
    contacts = draw_contacts(rng, firms.personal)
    created = start_ts + pd.to_timedelta(np.round(created_days * 86400), unit="s")
    closed = start_ts + pd.to_timedelta(np.round(closed_days * 86400), unit="s")
    is_open = closed > end_ts
    leads = _leads_frame(lead_ids, created, contacts, firms, won, closed, is_open)
    # A few form fills leave job role on the form's placeholder.
    leads.loc[rng.random(n_leads) < 0.03, "job_role"] = "Select"
    acts = _activities_frame(lead_ids, events, start_ts, end_ts)
    oracle = pd.DataFrame({"lead_id": lead_ids, "true_probability": p_true})
    due = is_open & _due_for_scoring(end_ts - leads["created_at"])
    if region is not None:
        leads.insert(leads.columns.get_loc("country") + 1, "region", region)
    open_leads = leads.loc[due].drop(columns=["outcome", "closed_at"]).reset_index(drop=True)
    return SampleData(leads=leads, activities=acts, oracle=oracle, open_leads=open_leads)


def _creation_times(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Position in the history (0..1, sorted) and days since its start: volume grows over the
    two years (density rises linearly by half)."""
    u = rng.random(n)
    frac = np.sqrt(1 + 3 * u) - 1  # inverse CDF of a density rising from 1 to 2 over [0, 1]
    frac = np.sort(frac)
    return frac, frac * HISTORY_DAYS


def _events(
    rng: np.random.Generator,
    fit: np.ndarray,
    created_days: np.ndarray,
    activity_scale: float,
) -> _Events:
    """Events in the qualification window: Poisson counts, times skewed late when intent is high.

    Intent is hidden: it shows only through these events, as it would in a real CRM.
    """
    n = len(fit)
    intent = 0.25 * (fit - fit.mean()) / fit.std() + rng.normal(0, 1, n)
    # some leads are just busier, whatever their intent
    activity_level = activity_scale * rng.gamma(1.2, 0.85, n)
    names = list(ACTIVITIES)
    base, sens = (np.array([ACTIVITIES[a][k] for a in names]) for k in range(2))
    rate = base[None, :] * activity_level[:, None] * np.exp(sens[None, :] * intent[:, None] - 0.3)
    counts = rng.poisson(rate)
    lead_idx = np.repeat(np.repeat(np.arange(n), len(names)), counts.ravel())
    type_idx = np.repeat(np.tile(np.arange(len(names)), n), counts.ravel())
    shape = np.exp(0.5 * intent[lead_idx])
    age = WINDOW_DAYS * rng.beta(shape, 1.0)
    last7 = age >= WINDOW_DAYS - 7
    n7 = np.zeros((n, len(names)))
    np.add.at(n7, (lead_idx[last7], type_idx[last7]), 1)
    days = created_days[lead_idx] + age
    return _Events(lead_idx, type_idx, age, days, counts, n7)


def _true_probability(
    f: Firmographics, fit: np.ndarray, events: _Events, fit_weight: np.ndarray | None = None
) -> np.ndarray:
    """What a feature builder could know at the end of the window, as a probability whose mean
    is the 10% base rate. `fit_weight` (per lead) scales the log-odds before the base rate is
    set: a region where what predicts a sale elsewhere counts differently (see
    `pipeline.synthetic.regions`)."""
    names = list(ACTIVITIES)
    eff, eff7 = (np.array([ACTIVITIES[a][k] for a in names]) for k in (2, 3))
    behaviour = np.log1p(events.counts) @ eff + np.log1p(events.recent) @ eff7
    logit = _buyingfit_from_firmographics(f, fit) + behaviour + _interactions(f, events)
    if fit_weight is not None:
        logit = logit * fit_weight
    shift = _solve_intercept(logit, 0.10)
    return 1 / (1 + np.exp(-(logit + shift)))


def _interactions(f: Firmographics, events: _Events) -> np.ndarray:
    """Effects of behaviour that depend on who behaves: what a points rule cannot add up."""
    names = list(ACTIVITIES)
    col = {a: events.counts[:, i] for i, a in enumerate(names)}
    recent = {a: events.recent[:, i] for i, a in enumerate(names)}
    big = f.size >= 3
    demo, trial, unsub = col["demo_request"] > 0, col["free_trial"] > 0, col["unsubscribe"] > 0
    # last event of any kind, in days before the end of the window (cold leads go cold for a reason)
    last_age = np.full(len(f.size), np.inf)
    np.minimum.at(last_age, events.lead_idx, WINDOW_DAYS - events.age)
    return (
        1.8 * demo * f.decision_maker  # a decision maker asking for a demo is a buying signal
        + 0.5 * (recent["demo_request"] > 0)  # ... and more so when it is fresh
        - 1.0 * demo * f.personal  # a demo asked from a free-mail address often is a student
        + 0.6 * np.minimum(col["pricing_page_visit"], 3) * big  # large companies comparing price
        + 1.4 * trial * (f.industry == 0)  # trials convert in software companies
        + 0.5 * ((col["webinar_attended"] > 0) & (col["whitepaper_download"] > 0))
        - 0.6 * unsub * (col["email_open"] > 3)
        - 0.5 * ((col["email_open"] > 4) & (col["email_click"] == 0))  # opens without interest
        - 0.7 * (last_age > 12)  # gone cold before the decision
        - 0.4 * (col.get("web_visit") > 6) * (col["pricing_page_visit"] == 0)  # researchers
    )


def _buyingfit_from_firmographics(f: Firmographics, fit: np.ndarray) -> np.ndarray:
    """Fit sharpened by combinations (size with industry, channel with seniority) and a budget
    sweet spot, so a model that sees interactions beats a sum of points."""
    ind, size, sen, chan = f.industry, f.size, f.seniority, f.channel
    big = size >= 3
    fit = 1.5 * fit + 1.0 * big * np.isin(ind, [0, 1]) - 0.5 * (size <= 1) * (ind == 6)
    fit = fit - 0.5 * np.where(f.budget_missing, 0.0, (np.log10(f.budget) - 5.5) ** 2)  # sweet spot
    channel_names = list(CHANNELS)
    events_dm = np.isin(chan, [channel_names.index(c) for c in ("Events", "Referral", "Partner")])
    fit = (
        fit
        + 0.8 * events_dm * f.decision_maker
        - 0.7 * (chan == channel_names.index("Paid Social")) * (sen <= 1)
    )
    # large retail/telco/government buy elsewhere
    return fit - 0.8 * (size >= 4) * np.isin(ind, [4, 8, 9])


def _outcomes(
    rng: np.random.Generator, p_true: np.ndarray, created_days: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Won or lost by the true probability, closed some weeks after the window ends."""
    won = rng.random(len(p_true)) < p_true
    lag = 5 + rng.gamma(2.0, 12.0, len(p_true))
    return won, created_days + WINDOW_DAYS + lag


def _leads_frame(
    lead_ids: np.ndarray,
    created: pd.DatetimeIndex,
    contacts: dict[str, np.ndarray],
    f: Firmographics,
    won: np.ndarray,
    closed: pd.DatetimeIndex,
    is_open: np.ndarray,
) -> pd.DataFrame:
    """The leads export: open leads have no outcome and no close date yet."""
    seniority_names = np.array(list(SENIORITY))
    job = np.char.add(
        np.char.add(np.array(list(FUNCTIONS))[f.function], " "), seniority_names[f.seniority]
    )
    job = np.where(f.seniority == 0, "Student", job)
    outcome = np.where(is_open, None, np.where(won, "won", "lost"))
    return pd.DataFrame(
        {
            "lead_id": lead_ids,
            "created_at": created.floor("s"),
            **contacts,
            "industry": np.array(list(INDUSTRIES))[f.industry],
            "company_size": np.array(list(SIZES))[f.size],
            "employees": pd.array(f.employees, dtype="Int64"),
            "country": np.array(list(COUNTRIES))[f.country],
            "job_role": job,
            "seniority": seniority_names[f.seniority],
            "source_channel": np.array(list(CHANNELS))[f.channel],
            "annual_ad_budget": pd.array(
                np.where(f.budget_missing, np.nan, f.budget), dtype="Int64"
            ),
            "outcome": outcome,
            "closed_at": pd.Series(closed.floor("s")).where(~is_open),
        }
    )


def _activities_frame(
    lead_ids: np.ndarray, events: _Events, start_ts: pd.Timestamp, end_ts: pd.Timestamp
) -> pd.DataFrame:
    """The activity log up to the export date, in time order."""
    ev_time = start_ts + pd.to_timedelta(np.round(events.days * 86400), unit="s")
    keep = ev_time <= end_ts
    return pd.DataFrame(
        {
            "lead_id": lead_ids[events.lead_idx[keep]],
            "occurred_at": ev_time[keep],
            "activity_type": np.array(list(ACTIVITIES))[events.type_idx[keep]],
        }
    ).sort_values(["occurred_at", "lead_id"], kind="stable", ignore_index=True)


def _due_for_scoring(age: pd.Series) -> np.ndarray:
    """Open leads that reached a scoring age in the last `DUE_WINDOW_DAYS` before the export.

    A team scores each open lead at the ages the model is trained for (training.snapshot_days:
    1, 3, 7 ... 90 days old), so the sample's scoring batch holds leads just past one of those
    ages: mostly young, and mixed like the training snapshots. Scoring every unclosed lead
    instead (ages spread evenly up to four months) mixes ages unlike the snapshots and reads as
    drift in lead_age_days. Chosen from the open leads only: leads.csv is the same either way.
    """
    days = age.dt.total_seconds().to_numpy() / 86400
    ages = np.asarray(TrainingConfig().snapshot_days, dtype=float)
    return ((days[:, None] >= ages) & (days[:, None] < ages + DUE_WINDOW_DAYS)).any(axis=1)


def _solve_intercept(logit: np.ndarray, target: float) -> float:
    """Shift the log-odds so that the mean true probability is the target base rate."""
    lo, hi = -20.0, 20.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if np.mean(1 / (1 + np.exp(-(logit + mid)))) > target:
            hi = mid
        else:
            lo = mid
    return (lo + hi) / 2


def write_sample(data: SampleData, out: str | Path) -> dict[str, Path]:
    """Write the export as CSV files in `out`; the oracle goes to its own file."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "leads": out / "leads.csv",
        "activities": out / "activities.csv",
        "oracle": out / "oracle.csv",
        "open_leads": out / "open_leads.csv",
    }
    fmt = "%Y-%m-%d %H:%M:%S"
    data.leads.to_csv(paths["leads"], index=False, date_format=fmt)
    data.activities.to_csv(paths["activities"], index=False, date_format=fmt)
    data.oracle.to_csv(paths["oracle"], index=False, float_format="%.6f")
    data.open_leads.to_csv(paths["open_leads"], index=False, date_format=fmt)
    return paths
