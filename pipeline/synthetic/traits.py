"""A generated export with the traits real exports have and the sample lacks: period columns and
machine ids.

Built on the phone-campaign shape (`shapes.bank_leads`: `;`-separated, rows in time order, no date
column), from the same seeded draw, with three more kinds of column:

- economy indicators (`emp.var.rate`, `euribor3m`, `nr.employed`): one value per month of
  creation, the same for every lead of that month, moving with the month's win rate (as a
  campaign's success moves with the economy), so the model uses them;
- `landing_page_id`: a 32-hex id of the page the lead came from, a few frequent and hundreds seen
  once or twice, some pages converting better;
- `origin`: the lead's origin, left empty more often for leads that were won (an absence that
  raises the score, which no reason may say).
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from pipeline.synthetic.sample import SampleData

INDICATORS = ("emp.var.rate", "euribor3m", "nr.employed")


def _months(created: pd.Series) -> np.ndarray:
    """Each lead's month of creation as 0, 1, 2, ... in order."""
    return pd.factorize(pd.to_datetime(created).dt.to_period("M"), sort=True)[0]


def _indicators(month: np.ndarray, won: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
    """One value per month for each indicator, moving with the month's win rate."""
    n_months = int(month.max()) + 1
    rate = pd.Series(won).groupby(month).mean().reindex(range(n_months)).fillna(0).to_numpy()
    z = (rate - rate.mean()) / (rate.std() or 1.0)
    walk = np.cumsum(rng.normal(0, 0.3, n_months))
    per_month = [
        np.round(-1.0 + 0.8 * z + 0.3 * walk, 1),
        np.round(2.5 - 0.9 * z + 0.2 * walk, 3),
        np.round(5100 + 60 * z + 10 * walk, 1),
    ]
    return pd.DataFrame({k: v[month] for k, v in zip(INDICATORS, per_month, strict=True)})


def _page_ids(n: int, won: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Hex page ids: Zipf-like frequencies (hundreds of pages seen once or twice), the ten most
    frequent pages a little more likely for won leads."""
    pages = [hashlib.md5(f"page-{k}".encode()).hexdigest() for k in range(n // 4)]
    weight = 1.0 / np.arange(1, len(pages) + 1)
    pick = rng.choice(len(pages), n, p=weight / weight.sum())
    good = rng.integers(0, 10, n)
    pick = np.where(won & (rng.random(n) < 0.3), good, pick)
    return np.asarray(pages, dtype=object)[pick]


def campaign_with_traits(data: SampleData, campaign: pd.DataFrame, seed: int) -> pd.DataFrame:
    """`campaign` (the phone-campaign export of `data`, `shapes.bank_leads`: its closed leads in
    creation order) with indicators, page ids and an origin missing more often for won leads;
    rows in time order, no date column."""
    rng = np.random.default_rng(seed + 104_729)
    leads = data.leads.sort_values("created_at", kind="stable")
    leads = leads[leads["outcome"].notna()].reset_index(drop=True)
    won = (campaign["y"] == "yes").to_numpy()
    n = len(campaign)
    origin = rng.choice(np.array(["web", "trade fair", "partner"], dtype=object), n)
    origin = np.where(rng.random(n) < np.where(won, 0.5, 0.1), None, origin)
    extra = _indicators(_months(leads["created_at"]), won, rng).assign(
        landing_page_id=_page_ids(n, won, rng), origin=origin
    )
    return pd.concat([campaign.drop(columns="y"), extra, campaign[["y"]]], axis=1)
