"""The generated sample written the hostile ways an export may hold the same leads: ids as
numbers written `1000.0` or padded (each file its own way), categories with spaces around them,
gzip, parquet, day-first dates, a numeric column whose decimal convention only its last value
decides. The gate's bounded reader of a champion's inputs must read each as the whole-file
readers do (`tests/io/test_subset.py`, `tests/tracking/test_gate_inputs.py`)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd

from tests.conftest import write_config

VARIANTS = ("sample", "float_ids", "padded", "gzip", "parquet", "dayfirst", "decimal")
DAYFIRST = "%d.%m.%Y %H:%M:%S"


def as_number(ids: pd.Series) -> pd.Series:
    """L0000123 -> 123: the sample's ids as a CRM's numeric ids."""
    return ids.str[1:].astype(int).astype(str)


def variant_id(lead_id: str, kind: str) -> str:
    """A sample lead's canonical id in the variant `kind`."""
    return lead_id if kind == "sample" else str(int(lead_id[1:]))


def write_variant(src: Path, out: Path, kind: str) -> Path:
    """The sample in `src` written as `kind` into `out`, and a config reading it."""
    leads = pd.read_csv(src / "leads.csv", dtype=str, keep_default_na=False)
    acts = pd.read_csv(src / "activities.csv", dtype=str, keep_default_na=False)
    schema: dict = {}
    if kind != "sample":
        leads["lead_id"], acts["lead_id"] = as_number(leads["lead_id"]), as_number(acts["lead_id"])
    if kind == "float_ids":
        leads["lead_id"], acts["lead_id"] = leads["lead_id"] + ".0", " " + acts["lead_id"] + " "
    if kind == "padded":
        leads["lead_id"], acts["lead_id"] = (
            "  " + leads["lead_id"] + "\u00a0",
            acts["lead_id"] + ".0",
        )
        for c in ("industry", "source_channel", "country", "company_size"):
            leads[c] = leads[c].where(leads[c] == "", "  " + leads[c] + " ")
    if kind == "dayfirst":
        for frame, c in ((leads, "created_at"), (leads, "closed_at"), (acts, "occurred_at")):
            when = pd.to_datetime(frame[c].replace("", None))
            frame[c] = when.dt.strftime(DAYFIRST).fillna("")
        schema["dayfirst"] = True
    if kind == "decimal":  # 10200 written 10.200: either convention reads it ...
        budget = pd.to_numeric(leads["annual_ad_budget"].replace("", None))
        text = budget.map(lambda v: f"{int(v):,}".replace(",", "."), na_action="ignore")
        leads["annual_ad_budget"] = text.fillna("")
        last = leads.index[leads["annual_ad_budget"] != ""][-1]
        leads.loc[last, "annual_ad_budget"] = "1.234.567"  # ... this one only thousands by '.'
    out.mkdir(parents=True, exist_ok=True)
    files = _write(leads, acts, out, kind)
    data = {"leads": str(files[0]), "activities": str(files[1])}
    return write_config(out / "config.yaml", src, data=data, schema=schema)


def _write(leads: pd.DataFrame, acts: pd.DataFrame, out: Path, kind: str) -> tuple[Path, Path]:
    if kind == "parquet":  # ids as numbers, event times as timestamps
        leads = leads.replace("", None).assign(lead_id=leads["lead_id"].astype("int64"))
        acts = acts.assign(
            lead_id=acts["lead_id"].astype("int64"), occurred_at=pd.to_datetime(acts["occurred_at"])
        )
        leads.to_parquet(out / "leads.parquet", row_group_size=700)
        acts.to_parquet(out / "activities.parquet")
        return out / "leads.parquet", out / "activities.parquet"
    paths = []
    for name, df in (("leads", leads), ("activities", acts)):
        text = df.to_csv(index=False).encode()
        path = out / (f"{name}.csv.gz" if kind == "gzip" else f"{name}.csv")
        path.write_bytes(gzip.compress(text, mtime=0) if kind == "gzip" else text)
        paths.append(path)
    return paths[0], paths[1]
