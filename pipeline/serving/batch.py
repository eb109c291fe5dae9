"""Batch scoring: raw export in, one scores file out, atomically.

Rows that cannot be scored (no id, a duplicate id, a date or number that does not parse) are
written to a rejected-rows file with the reason; the rest are scored. The scores file is written
to a temporary file and renamed, so a failed run leaves the previous file whole.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.config import Config
from pipeline.errors import DataError, storage_error
from pipeline.io.atomic import open_tmp, write_atomic
from pipeline.io.canonical import canonical_leads, load_events
from pipeline.io.readers import read_table
from pipeline.serving.outputs import ScoreSummary, format_scores, neutralise, output_columns
from pipeline.serving.rows import check_columns, model_schema, reject_bad_rows

log = logging.getLogger(__name__)


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
    from pipeline.io.fastcsv import FastPathUnavailable

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

    from pipeline.io import fastcsv
    from pipeline.io.checks import check_scoring_data
    from pipeline.monitoring.drift import DriftCounter
    from pipeline.progress import Progress

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
            out = format_scores(res, model_version, scored_at)
            out.to_csv(f, index=False, header=n_scored == 0, float_format="%.6f")
            n_scored += len(out)
            for k, v in out["stage"].value_counts().items():
                stages[k] = stages.get(k, 0) + int(v)

        fd, tmp = open_tmp(output)  # umask permissions; a path that cannot be written: one line
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
                    f.write(",".join(output_columns(n_reasons)) + "\n")
            rejected = pd.concat(rejected_parts) if rejected_parts else pd.DataFrame()
            rej_path = None
            stale = output.with_name(output.stem + ".rejected.csv")
            if len(rejected):
                rej_path = stale
                rejected = rejected.sort_values("row", kind="stable")
                for c in rejected.columns[1:]:  # echoed ids and reasons: no spreadsheet formulas
                    rejected[c] = neutralise(rejected[c])
                write_atomic(rejected, rej_path)
            os.replace(tmp, output)
            if rej_path is None:  # this run's rejected rows, or none: never an earlier run's
                stale.unlink(missing_ok=True)
        except OSError as e:
            Path(tmp).unlink(missing_ok=True)
            raise storage_error(output, e) from None
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


def _compact_events(cfg, activities_path, first_ids, first_rows, id_obj, as_of64, fast, bar):
    """Events of the file's leads before as_of, compact and sorted by lead row."""
    from pipeline.io import fastcsv

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
