"""Batch scoring: raw export in, one scores file out, atomically.

Rows that cannot be scored (no id, a duplicate id, a date or number that does not parse) are
written to a rejected-rows file with the reason; the rest are scored. The scores file is written
to a temporary file and renamed, so a failed run leaves the previous file whole.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.config import Config, SchemaConfig
from pipeline.data import (
    NO,
    YES,
    DataError,
    canonical_leads,
    load_events,
    normalise_types,
    read_table,
)

log = logging.getLogger(__name__)
SUBSCORES = ("fit_score", "engagement_score")  # beside the contract columns, after them
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class ScoreSummary:
    output: Path
    rejected_path: Path | None
    n_scored: int
    n_rejected: int
    model_version: str
    stages: dict[str, int]
    drift: pd.DataFrame | None = None  # PSI per feature vs the training reference


def model_schema(scorer) -> SchemaConfig:
    return SchemaConfig.model_validate(scorer.meta["schema"])


def required_columns(scorer) -> list[str]:
    sc = model_schema(scorer)
    return [sc.lead_id, *scorer.builder.categorical, *scorer.builder.numeric]


def check_columns(raw: pd.DataFrame, scorer, path: str | Path) -> None:
    """Missing model columns are an error listing them all; extra columns are ignored with a note."""
    need = required_columns(scorer)
    missing = [c for c in need if c not in raw.columns]
    if missing:
        raise DataError(
            f"{path}: the model needs column(s) {', '.join(missing)} which the file lacks; "
            "export them or retrain on the columns you have"
        )
    sc = model_schema(scorer)
    known = set(need) | {sc.created_at, sc.email, "activities", *sc.drop}
    extra = [c for c in raw.columns if c not in known]
    if extra:
        shown = ", ".join(extra[:8]) + (" ..." if len(extra) > 8 else "")
        log.info("%s: ignoring %d column(s) the model does not use: %s", path, len(extra), shown)


def reject_bad_rows(raw: pd.DataFrame, scorer) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split rows into scoreable ones and rejected ones (with the row number and reason)."""
    sc = model_schema(scorer)
    reason = pd.Series("", index=raw.index, dtype=object)
    ids = raw[sc.lead_id].astype("string")
    reason[ids.isna()] = "empty lead id"
    reason[ids.duplicated(keep="first") & ids.notna()] = "duplicate lead id (first row scored)"
    if sc.created_at and sc.created_at in raw.columns:
        s = raw[sc.created_at]
        parsed = pd.to_datetime(s, errors="coerce", utc=True, format="mixed", dayfirst=sc.dayfirst)
        bad = parsed.isna() & s.notna() & (reason == "")
        reason[bad] = f"cannot parse {sc.created_at}"
    for c in scorer.builder.numeric:
        s = raw[c]
        if c in sc.flags:
            low = s.astype("string").str.strip().str.lower()
            bad = low.notna() & ~low.isin(YES | NO) & (reason == "")
            reason[bad] = f"{c} is not a yes/no value"
            continue
        if pd.api.types.is_numeric_dtype(s):
            continue
        parsed = pd.to_numeric(
            s.astype("string").str.replace(",", "", regex=False), errors="coerce"
        )
        bad = parsed.isna() & s.notna() & (reason == "")
        reason[bad] = f"{c} is not a number"
    bad = reason != ""
    rejected = raw.loc[bad, [sc.lead_id]].copy()
    rejected.insert(0, "row", raw.index[bad] + 2)
    rejected["reason"] = reason[bad]
    return raw.loc[~bad], rejected


def prepare_leads(raw: pd.DataFrame, scorer, path: str | Path = "input") -> pd.DataFrame:
    check_columns(raw, scorer, path)
    return canonical_leads(raw, model_schema(scorer), path)


def events_from_column(raw: pd.DataFrame, ids: pd.Index) -> pd.DataFrame:
    """Events carried inside the leads frame as an `activities` column (REST requests)."""
    empty = pd.DataFrame(
        {
            "lead_id": pd.Series(dtype=object),
            "ts": pd.Series(dtype="datetime64[ns]"),
            "type": pd.Series(dtype=object),
        }
    )
    if "activities" not in raw.columns:
        return empty
    rows = []
    for lid, acts in zip(ids, raw["activities"], strict=True):
        if isinstance(acts, str):
            acts = json.loads(acts) if acts.strip() else []
        for a in acts if isinstance(acts, list | tuple | np.ndarray) else []:
            rows.append(
                (
                    lid,
                    a.get("occurred_at") or a.get("timestamp"),
                    a.get("type") or a.get("activity_type"),
                )
            )
    if not rows:
        return empty
    ev = pd.DataFrame(rows, columns=["lead_id", "ts", "type"])
    ev["ts"] = (
        pd.to_datetime(ev["ts"], utc=True, format="mixed")
        .dt.tz_localize(None)
        .astype("datetime64[ns]")
    )
    ev["type"] = normalise_types(ev["type"])
    return ev


def neutralise(s: pd.Series) -> pd.Series:
    """Stop a spreadsheet from reading an echoed input value as a formula."""
    s = s.astype("string")
    return s.where(~s.str.startswith(FORMULA_START).fillna(False), "'" + s)


def write_atomic(df: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as f:
            df.to_csv(f, index=False, float_format="%.6f")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def parse_as_of(as_of: str | None) -> pd.Timestamp:
    if not as_of:
        return pd.Timestamp.now(tz="UTC").tz_localize(None).floor("s")
    try:
        ts = pd.Timestamp(as_of)
    except (ValueError, TypeError):
        raise DataError(
            f"--as-of '{as_of}': not a date; use ISO form such as 2026-11-01T00:00"
        ) from None
    return ts.tz_convert(None) if ts.tzinfo else ts


def score_files(
    cfg: Config,
    scorer,
    model_version: str,
    leads_path: str | Path,
    activities_path: str | Path | None,
    output: str | Path,
    as_of: pd.Timestamp,
    n_reasons: int,
    progress: bool = False,
) -> ScoreSummary:
    """Score a leads file in chunks of `scoring.chunk_size` rows; memory stays that of one chunk
    plus the compact events of the file's leads, whatever the size of the export.

    pyarrow reads both files when it can read them exactly as `read_table` would; otherwise (an
    unusual date format, encoding or quoting) the pandas reader does, with its precise errors.
    """
    from pipeline.fastcsv import FastPathUnavailable

    try:
        return _score_chunked(
            cfg, scorer, model_version, leads_path, activities_path, output, as_of, n_reasons,
            progress, fast=True,
        )  # fmt: skip
    except FastPathUnavailable as e:
        log.info("%s: fast reader not usable (%s); reading with pandas", leads_path, e)
        return _score_chunked(
            cfg, scorer, model_version, leads_path, activities_path, output, as_of, n_reasons,
            progress, fast=False,
        )  # fmt: skip


def _score_chunked(
    cfg: Config,
    scorer,
    model_version: str,
    leads_path: str | Path,
    activities_path: str | Path | None,
    output: str | Path,
    as_of: pd.Timestamp,
    n_reasons: int,
    progress: bool,
    fast: bool,
) -> ScoreSummary:
    import pyarrow as pa

    from pipeline import fastcsv
    from pipeline.drift import DriftCounter
    from pipeline.progress import Progress
    from pipeline.validate import check_scoring_data

    leads_path, output = Path(leads_path), Path(output)
    sc = model_schema(scorer)
    step = cfg.scoring.chunk_size
    as_of64 = as_of.to_datetime64().astype("datetime64[ns]")
    if fast:
        if not leads_path.exists() or leads_path.stat().st_size == 0:
            read_table(leads_path, cfg, "leads file")  # raises the usual error
        header = fastcsv.csv_header(leads_path, cfg)
        if len(header) == 1:  # a wrong delimiter: the pandas reader names the likely one
            read_table(leads_path, cfg, "leads file")
        if sc.lead_id in header:  # header only is said before any note on the columns
            ids = fastcsv.read_columns(leads_path, cfg, [sc.lead_id]).column(0).to_pandas()
            if len(ids) == 0:
                raise DataError(f"{leads_path}: header only, no rows; nothing to score")
        check_columns(pd.DataFrame(columns=header), scorer, leads_path)
        batches = fastcsv.iter_lead_batches(leads_path, cfg, step)
    else:
        raw = read_table(leads_path, cfg, "leads file")
        if raw.empty:
            raise DataError(f"{leads_path}: header only, no rows; nothing to score")
        check_columns(raw, scorer, leads_path)
        ids = raw[sc.lead_id]
        batches = (raw.iloc[i : i + step] for i in range(0, len(raw), step))
    if len(ids) == 0:
        raise DataError(f"{leads_path}: header only, no rows; nothing to score")
    ids = ids.astype("string").reset_index(drop=True)
    first = (ids.notna() & ~ids.duplicated(keep="first")).to_numpy()
    dup_later = (ids.notna().to_numpy()) & ~first
    id_obj = ids.to_numpy(dtype=object)
    first_ids = pa.array(id_obj[first], type=pa.string())
    first_rows = np.flatnonzero(first)

    bar = Progress(progress)
    with bar:
        events = _compact_events(
            cfg, activities_path, first_ids, first_rows, id_obj, as_of64, fast, bar
        )
        task = bar.task("scoring leads", total=len(ids))
        drift = DriftCounter(scorer.meta.get("drift_reference"))
        scored_at = pd.Timestamp.now(tz="UTC").floor("s").isoformat()
        rejected_parts: list[pd.DataFrame] = []
        stages: dict[str, int] = {}
        n_scored = 0

        def prepare(raw_chunk: pd.DataFrame) -> tuple[pd.DataFrame | None, int, int]:
            """Reject bad rows and build features: runs beside the booster of the last chunk."""
            good, rej = reject_bad_rows(raw_chunk, scorer)
            later = dup_later[good.index.to_numpy()]
            if later.any():  # first seen in an earlier chunk
                extra = good.loc[later, [sc.lead_id]].copy()
                extra.insert(0, "row", good.index[later] + 2)
                extra["reason"] = "duplicate lead id (first row scored)"
                rej = pd.concat([rej, extra])
                good = good.loc[~later]
            rejected_parts.append(rej)
            start, stop = int(raw_chunk.index[0]), int(raw_chunk.index[-1]) + 1
            if not len(good):
                return None, start, stop
            leads = canonical_leads(good, sc, leads_path)
            if start == 0:  # what can be checked without outcomes, on the first chunk
                feats = [*scorer.builder.categorical, *scorer.builder.numeric]
                check_scoring_data(leads, feats, leads_path).log_and_raise()
            ev = events.for_rows(start, stop, id_obj)
            X = scorer.features(leads, ev, np.full(len(leads), as_of64))
            drift.add(X)
            return X, start, stop

        def write(f, res: pd.DataFrame) -> None:
            nonlocal n_scored
            out = _format(res, model_version, scored_at)
            out.to_csv(f, index=False, header=n_scored == 0, float_format="%.6f")
            n_scored += len(out)
            for k, v in out["stage"].value_counts().items():
                stages[k] = stages.get(k, 0) + int(v)

        output.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".tmp", dir=output.parent)
        it = iter(batches)
        try:
            # Three chunks in flight: features of the next, booster (GIL released) of this one,
            # phrasing and writing of the last. On two cores this hides most of the Python work.
            with (
                os.fdopen(fd, "w", newline="", encoding="utf-8") as f,
                ThreadPoolExecutor(1) as prep_pool,
                ThreadPoolExecutor(1) as write_pool,
            ):
                nxt = prep_pool.submit(
                    lambda: prepare(c) if (c := next(it, None)) is not None else None
                )
                written = None
                while (item := nxt.result()) is not None:
                    nxt = prep_pool.submit(
                        lambda: prepare(c) if (c := next(it, None)) is not None else None
                    )
                    X, start, stop = item
                    if X is not None:
                        res = scorer.score_features(X, n_reasons)
                        if written is not None:
                            written.result()
                        written = write_pool.submit(write, f, res)
                    bar.advance(task, stop - start)
                if written is not None:
                    written.result()
                if n_scored == 0:
                    f.write(",".join(_columns(n_reasons)) + "\n")
            rejected = pd.concat(rejected_parts) if rejected_parts else pd.DataFrame()
            rej_path = None
            if len(rejected):
                rej_path = output.with_name(output.stem + ".rejected.csv")
                rejected = rejected.sort_values("row", kind="stable")
                for c in rejected.columns[1:]:  # echoed ids and reasons: no spreadsheet formulas
                    rejected[c] = neutralise(rejected[c])
                write_atomic(rejected, rej_path)
            os.replace(tmp, output)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return ScoreSummary(
        output=output,
        rejected_path=rej_path,
        n_scored=n_scored,
        n_rejected=len(rejected),
        model_version=model_version,
        stages=stages,
        drift=drift.table(),
    )


def _columns(n_reasons: int) -> list[str]:
    reasons = [f"reason_{i + 1}" for i in range(n_reasons)]
    contract = ["lead_id", "probability", "score", "stage", *reasons, "model_version", "scored_at"]
    return contract + (list(SUBSCORES) if n_reasons > 0 else [])


def _format(out: pd.DataFrame, model_version: str, scored_at: str) -> pd.DataFrame:
    out = out.reset_index().rename(columns={"index": "lead_id"})
    out["lead_id"] = neutralise(out["lead_id"])
    out["probability"] = out["probability"].round(6)
    out["model_version"] = model_version
    out["scored_at"] = scored_at
    extra = [c for c in SUBSCORES if c in out.columns]
    return out[[c for c in out.columns if c not in extra] + extra]  # after the contract columns


def _compact_events(cfg, activities_path, first_ids, first_rows, id_obj, as_of64, fast, bar):
    """Events of the file's leads before as_of, compact and sorted by lead row."""
    from pipeline import fastcsv

    if not activities_path:
        return fastcsv.compact_from_frame(load_events(cfg, None), first_ids, first_rows, as_of64)
    path = Path(activities_path)
    if fast and path.exists() and path.stat().st_size > 0:
        task = bar.task("reading activities", total=None)
        try:
            return fastcsv.compact_events(
                path, cfg, first_ids, first_rows, as_of64, lambda n: bar.advance(task, n)
            )
        except fastcsv.FastPathUnavailable as e:
            log.info("%s: fast reader not usable (%s); reading with pandas", path, e)
    ev = load_events(cfg, path, lead_ids=pd.Index(first_ids.to_pylist()))
    return fastcsv.compact_from_frame(ev, first_ids, first_rows, as_of64)
