"""The sample export in the shapes real CRMs hand over, from one seeded draw.

Users bring exports of several shapes, and each shape has failed in its own way before (training
quadratic without dates, `init` fooled by a time-sorted file, backtests biased when only wins have
a close date). Every shape here is written from the same `generate` draw, so the leads, their true
probabilities (oracle.csv) and outcomes are the same across shapes; only the export differs:

- `event-log` (the default): leads.csv + activities.csv, byte-identical to `generate`'s sample.
- `flat`: one row per lead with its activity counts as columns, creation and close dates.
- `flat-nodates`: the same without any date column, rows in creation order.
- `semicolon`: a phone-campaign export like the bank-marketing one: `;`-separated, outcome `y`
  yes/no, contact history (`campaign` contacts, `previous` contacts, `pdays` since the last one,
  999 = never, `poutcome`); previous campaigns only exist in the later part of the file, so
  those columns are constant in its first rows.
- `two-table`: leads.csv without outcome + deals.csv listing only the won leads with their close
  date (losses are absent).
- `two-table-recent`: the same two tables where deals take about three times as long to close
  (like an MQL list beside a closed-deals table): wins not closed by the export date are not in
  deals.csv yet, so a recent tail of leads has no knowable outcome and the time wins take to close
  is long against the history (the known-outcome rule leaves many recent months untestable).
- `ordered-nodates`: one row per lead without any date, rows in creation order, the id increasing
  down the file and two columns describing the period rather than the lead (`market_rate`, a
  monthly rate; `campaign_wave`, a quarter's campaign), constant over long runs of rows.
- `campaign-traits`: the `semicolon` export with economy indicators (one value per month), 32-hex
  landing page ids (hundreds seen once or twice) and an origin left empty more often for won
  leads (`pipeline.synthetic.traits`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.synthetic.population import ACTIVITIES
from pipeline.synthetic.sample import DEFAULT_END, SampleData, generate, write_sample

SHAPES = (
    "event-log",
    "flat",
    "flat-nodates",
    "semicolon",
    "two-table",
    "two-table-recent",
    "ordered-nodates",
    "campaign-traits",
)
SLOW_CLOSE = 3.0  # two-table-recent: deals take this many times as long to close
CLOSE_DELAY_DAYS = 45  # and this many days more
DATE_FMT = "%Y-%m-%d %H:%M:%S"


def activity_counts(data: SampleData) -> pd.DataFrame:
    """Per lead (in leads order), how many events of each type it had up to the export."""
    acts = data.activities
    ids = pd.Index(data.leads["lead_id"])
    pos = ids.get_indexer(acts["lead_id"])
    types = list(ACTIVITIES)
    t = pd.Index(types).get_indexer(acts["activity_type"])
    counts = np.zeros((len(ids), len(types)), np.int64)
    np.add.at(counts, (pos, t), 1)
    return pd.DataFrame(counts, columns=[f"n_{a}" for a in types])


def flat_leads(data: SampleData, dates: bool = True) -> pd.DataFrame:
    """One row per lead with activity counts; without dates, rows stay in creation order."""
    leads = data.leads.drop(columns=["seniority"])
    out = pd.concat([leads.reset_index(drop=True), activity_counts(data)], axis=1)
    if not dates:
        out = out.sort_values("created_at", kind="stable").drop(columns=["created_at", "closed_at"])
    return out.reset_index(drop=True)


def bank_leads(data: SampleData, seed: int) -> pd.DataFrame:
    """A phone-campaign export: contact history instead of web behaviour, `y` yes/no, no dates.

    The contact-history columns carry signal the way they do in real campaigns: leads that
    engaged more were called more, and a success in a previous campaign is a strong sign."""
    rng = np.random.default_rng(seed + 7919)
    order = np.argsort(data.leads["created_at"].to_numpy(), kind="stable")
    leads = data.leads.iloc[order].reset_index(drop=True)
    counts = activity_counts(data).iloc[order].reset_index(drop=True)
    n = len(leads)
    intent = (
        counts["n_demo_request"] + counts["n_contact_form"] + counts["n_pricing_page_visit"]
    ).to_numpy()
    campaign = 1 + rng.poisson(1.0, n) + np.minimum(intent, 4)
    later = np.arange(n) >= int(0.6 * n)  # previous campaigns exist only for later leads
    won = (leads["outcome"] == "won").to_numpy()
    previous = np.where(later, rng.poisson(0.3 + 0.8 * won, n), 0)
    success = (previous > 0) & (rng.random(n) < 0.2 + 0.5 * won)
    poutcome = np.where(previous == 0, "nonexistent", np.where(success, "success", "failure"))
    pdays = np.where(previous == 0, 999, rng.integers(1, 28, n))
    out = pd.DataFrame(
        {
            "client_id": leads["lead_id"].str.replace("L", "C", regex=False),
            "job": leads["job_role"],
            "industry": leads["industry"],
            "company_size": leads["company_size"],
            "country": leads["country"],
            "contact": np.where(rng.random(n) < 0.65, "cellular", "telephone"),
            "campaign": campaign,
            "pdays": pdays,
            "previous": previous,
            "poutcome": poutcome,
            "y": leads["outcome"].map({"won": "yes", "lost": "no"}),
        }
    )
    return out[leads["outcome"].notna().to_numpy()].reset_index(drop=True)


def two_tables(data: SampleData) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Leads without outcome or close date, and the deals table: won leads only, closed date."""
    leads = flat_leads(data).drop(columns=["outcome", "closed_at"])
    won = data.leads["outcome"] == "won"
    deals = pd.DataFrame(
        {
            "lead_id": data.leads.loc[won, "lead_id"],
            "closed_at": data.leads.loc[won, "closed_at"],
            "amount": (np.arange(int(won.sum())) * 7919 % 40_000 + 5_000),
        }
    ).sort_values("closed_at", kind="stable")
    return leads, deals


def two_tables_recent(data: SampleData, end: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`two_tables` with slow deals: each win closes SLOW_CLOSE times later plus
    CLOSE_DELAY_DAYS; a win that would close after the export date `end` is not listed yet."""
    leads, deals = two_tables(data)
    created = pd.to_datetime(data.leads.set_index("lead_id")["created_at"]).reindex(
        deals["lead_id"]
    )
    took = pd.to_datetime(deals["closed_at"]).to_numpy() - created.to_numpy()
    closed = created.to_numpy() + took * SLOW_CLOSE + np.timedelta64(CLOSE_DELAY_DAYS, "D")
    deals = deals.assign(closed_at=closed)
    deals = deals[deals["closed_at"] <= pd.Timestamp(end)].sort_values("closed_at", kind="stable")
    return leads, deals.reset_index(drop=True)


def ordered_leads(data: SampleData, seed: int) -> pd.DataFrame:
    """`flat_leads` without dates, oldest first, with two period columns: a monthly rate and a
    quarterly campaign wave, the same for every lead of the same month or quarter."""
    flat = flat_leads(data, dates=False)
    created = pd.to_datetime(data.leads.set_index("lead_id")["created_at"]).reindex(flat["lead_id"])
    month = created.dt.to_period("M").astype(str).to_numpy()
    months = np.unique(month)
    rate = np.round(
        2.5 + np.cumsum(np.random.default_rng(seed + 11).normal(0, 0.3, len(months))), 2
    )
    flat.insert(1, "market_rate", pd.Series(rate, index=months).reindex(month).to_numpy())
    quarter = created.dt.to_period("Q").astype(str).to_numpy()
    waves = {q: f"wave {i + 1}" for i, q in enumerate(np.unique(quarter))}
    flat.insert(2, "campaign_wave", [waves[q] for q in quarter])
    return flat


def write_shape(
    shape: str, n_leads: int, seed: int, out: str | Path, end: str = DEFAULT_END
) -> tuple[SampleData, dict[str, Path]]:
    """Draw the sample and write it in `shape` to `out` (oracle.csv beside it in every shape)."""
    if shape not in SHAPES:
        raise ValueError(f"unknown shape {shape!r}; one of {', '.join(SHAPES)}")
    data = generate(n_leads, seed=seed, end=end)
    if shape == "event-log":
        return data, write_sample(data, out)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"leads": out / "leads.csv", "oracle": out / "oracle.csv"}
    data.oracle.to_csv(paths["oracle"], index=False, float_format="%.6f")
    if shape == "semicolon":
        bank_leads(data, seed).to_csv(paths["leads"], index=False, sep=";")
    elif shape == "campaign-traits":
        from pipeline.synthetic.traits import campaign_with_traits  # it builds on bank_leads

        traits = campaign_with_traits(data, bank_leads(data, seed), seed)
        traits.to_csv(paths["leads"], index=False, sep=";")
    elif shape in ("two-table", "two-table-recent"):
        leads, deals = two_tables(data) if shape == "two-table" else two_tables_recent(data, end)
        paths["deals"] = out / "deals.csv"
        leads.to_csv(paths["leads"], index=False, date_format=DATE_FMT)
        deals.to_csv(paths["deals"], index=False, date_format=DATE_FMT)
    elif shape == "ordered-nodates":
        ordered_leads(data, seed).to_csv(paths["leads"], index=False)
    else:
        flat = flat_leads(data, dates=shape == "flat")
        flat.to_csv(paths["leads"], index=False, date_format=DATE_FMT)
    return data, paths
