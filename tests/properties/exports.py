"""Small CRM exports (leads, activities, outcomes) cut from tests/fixtures/crm, and the ways of
writing one that must not change what it means: padding, ids written as floats, invisible
characters, CRLF, quoting every cell, the case of outcome values, column order, gzip.

`Variant` is what Hypothesis draws; `write_export` writes the clean export or a variant of it.
"""

from __future__ import annotations

import csv
import gzip
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "crm"
SEP = ";"
LEAD_ID, ACT_ID, OUT_ID = "Record ID", "Associated Contact ID", "Contact ID"
TEXT = ("Industry", "Company size", "Original Source", "Country/Region")
INVISIBLE = ("\u200b", "\ufeff", "\u2060", "\x00", "\u200e")
AS_OF = "2025-09-01"  # every lead of `contacts.csv` drawn here was created before it


def fixture(name: str) -> pd.DataFrame:
    return pd.read_csv(FIX / name, sep=SEP, dtype=str, keep_default_na=False, encoding="utf-8-sig")


CONTACTS, ENGAGEMENTS, DEALS = (
    fixture("contacts.csv"),
    fixture("engagements.csv"),
    fixture("deals.csv"),
)


@dataclass(frozen=True)
class Variant:
    """One way of writing the same export (every field off: the clean export)."""

    pad: bool = False  # spaces and NBSP around every id and text cell
    float_ids: bool = False  # ids written as 50001.0 (activities and outcomes)
    invisible: str = ""  # an invisible character appended to every id and text cell
    crlf: bool = False
    quote_all: bool = False
    upper_outcomes: bool = False  # outcome values in another case ('CLOSEDWON')
    reverse_columns: bool = False
    gzip: bool = False

    def ids(self, s: pd.Series) -> pd.Series:
        s = s + ".0" if self.float_ids else s
        return self.text(s)

    def text(self, s: pd.Series) -> pd.Series:
        s = s.where(s == "", s + self.invisible)
        return s.where(s == "", " " + s + "\u00a0 ") if self.pad else s


def sample(n_leads: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """`n_leads` leads created before `AS_OF`, their activities and their outcomes."""
    created = pd.to_datetime(CONTACTS["Create Date"], format="%d.%m.%Y %H:%M")
    pool = CONTACTS[created < pd.Timestamp(AS_OF)]
    leads = pool.sample(n=n_leads, random_state=seed).reset_index(drop=True)
    acts = ENGAGEMENTS[ENGAGEMENTS[ACT_ID].isin(leads[LEAD_ID])].reset_index(drop=True)
    # ISO times, which pyarrow parses itself: the fast path reads these files too
    when = pd.to_datetime(acts["Activity date"], format="%d.%m.%Y %H:%M")
    acts = acts.assign(**{"Activity date": when.dt.strftime("%Y-%m-%d %H:%M:%S")})
    deals = DEALS[DEALS[OUT_ID].isin(leads[LEAD_ID])].reset_index(drop=True)
    return leads, acts, deals


def write_export(
    folder: Path, tables: tuple[pd.DataFrame, ...], v: Variant = Variant()
) -> dict[str, Path]:
    """The export's three files in `folder`, written as `v` says."""
    leads, acts, deals = (t.copy() for t in tables)
    leads[LEAD_ID] = v.ids(leads[LEAD_ID])
    for c in TEXT:
        leads[c] = v.text(leads[c])
    acts[ACT_ID] = v.ids(acts[ACT_ID])
    deals[OUT_ID] = v.ids(deals[OUT_ID])
    stage = deals["Deal Stage"].str.upper() if v.upper_outcomes else deals["Deal Stage"]
    deals["Deal Stage"] = v.text(stage)
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, df in (("leads", leads), ("activities", acts), ("outcomes", deals)):
        df = df[df.columns[::-1]] if v.reverse_columns else df
        path = folder / (f"{name}.csv.gz" if v.gzip else f"{name}.csv")
        text = df.to_csv(
            sep=SEP,
            index=False,
            lineterminator="\r\n" if v.crlf else "\n",
            quoting=csv.QUOTE_ALL if v.quote_all else csv.QUOTE_MINIMAL,
        )
        data = text.encode("utf-8")
        path.write_bytes(gzip.compress(data, mtime=0) if v.gzip else data)
        out[name] = path
    return out
