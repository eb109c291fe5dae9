"""Canonical frames: the export's own column names mapped to the two shapes the pipeline uses.

Everything downstream works on two frames: leads (index = lead id; columns `_created_at`,
`_closed_at`, `_label`, `_email` plus the configured feature columns as they are named in the
export) and events (`lead_id`, `ts`, `type`). Only this module and `readers` know the user's
column names, so the rest of the pipeline is the same for every export.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.config import Config, SchemaConfig
from pipeline.errors import DataError
from pipeline.io.keys import MatchCount, index_positions, present_in
from pipeline.io.readers import (
    check_numbers,
    parse_dates,
    read_table,
    refuse_bad_dates,
    refuse_bad_flags,
    require_columns,
)
from pipeline.io.rules import (
    clean_cells,
    clean_value,
    date_problem,
    normalize_ids,
    number_cells,
    number_convention,
    to_datetimes,
    to_flags,
)

log = logging.getLogger(__name__)


TEXT = pd.StringDtype("pyarrow", na_value=np.nan)  # how the readers hand text columns over


def empty_events() -> pd.DataFrame:
    """The canonical events frame with no rows (no activity table, or no events in a request)."""
    return pd.DataFrame(
        {
            "lead_id": pd.Series(dtype=object),
            "ts": pd.Series(dtype="datetime64[ns]"),
            "type": pd.Series(dtype=object),
        }
    )


def load_leads(
    cfg: Config,
    path: str | Path | None = None,
    with_outcome: bool = True,
    raw: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Leads in canonical form. With `with_outcome`, `_label` is 1 won, 0 lost, NaN open. `raw`:
    the file `path` already read (a caller that also scores it reads it once)."""
    path = Path(path or cfg.data.leads)
    raw = read_table(path, cfg, "leads file") if raw is None else raw
    if raw.empty:
        raise DataError(f"{path}: header only, no rows; export the leads with their data")
    out = canonical_leads(
        raw, cfg.schema, path, require_created=with_outcome, decimal=cfg.data.decimal
    )
    if with_outcome:
        _attach_outcome(out, raw, cfg, path)
    return out


def canonical_leads(
    raw: pd.DataFrame,
    sc: SchemaConfig,
    path: str | Path = "input",
    require_created: bool = False,
    counts: dict[str, int] | None = None,
    decimal: str | dict[str, str] | None = None,
    values: LeadValues | None = None,
    first_row: int | None = None,
) -> pd.DataFrame:
    """Map a raw leads frame (the export's column names) to the canonical shape, without outcomes.

    `counts` gathers non-finite numbers per column (read as missing) so a chunked caller warns
    once; without it each column warns here. `decimal` is the decimal convention of every
    numeric column, or per column (a chunked caller keeps the first chunk's), or None: each
    column's own, decided over its values. The conventions used are kept in `attrs["decimals"]`:
    training stores them in the model, so scoring reads an ambiguous `1.234` as training did.
    `values`: the cells parsed already (`LeadValues.parse` of a frame holding `raw`'s rows, as
    scoring does to find its bad rows); a bad one is still an error here. `first_row`: the data
    rows of the file before `raw` when it is a block of `pipeline.io.blocks` (its ids are checked
    for repeats over every block by its caller), so an error names the file's row."""
    require_columns(raw, [sc.lead_id], path, "schema.lead_id")
    require_columns(raw, sc.feature_columns(), path, "schema.categorical/numeric/flags")
    index = lead_index(raw[sc.lead_id], path, sc.lead_id, first_row)
    before = first_row or 0
    has_created = bool(sc.created_at) and sc.created_at in raw.columns
    if sc.created_at and require_created and not has_created:
        require_columns(raw, [sc.created_at], path, "schema.created_at")
    v = LeadValues.parse(raw, sc, decimal) if values is None else values.rows(raw.index)
    cols: dict[str, object] = {"_created_at": pd.NaT}
    if has_created:
        bad = v.bad[sc.created_at]
        refuse_bad_dates(raw[sc.created_at], bad, path, sc.created_at, sc.dayfirst, before)
        cols["_created_at"] = v.parsed[sc.created_at]
    email = raw[sc.email] if sc.email and sc.email in raw.columns else None
    cols["_email"] = None if email is None else text_cells(email, email.to_numpy)
    for c in sc.categorical:
        cols[c] = text_cells(clean_cells(raw[c]))
    for c in sc.numeric:
        n = int(v.nonfinite[c].sum())
        check_numbers(raw[c], v.bad[c], n, path, c, counts, v.decimals[c], before)
        cols[c] = v.parsed[c]
    for c in sc.flags:
        refuse_bad_flags(raw[c], v.bad[c], path, c, before)
        cols[c] = v.parsed[c]
    out = pd.DataFrame({**cols, "_label": np.nan, "_closed_at": pd.NaT}, index=index)
    out.attrs["decimals"] = v.decimals  # training keeps them in the model (scorer meta)
    return out


def lead_index(
    ids: pd.Series, path: str | Path, col: str, first_row: int | None = None
) -> pd.Index:
    """The lead ids as the canonical index (`rules.normalize_ids`); an empty or repeated one is a
    one-line error, also when two ids differ only by padding, invisible characters or `.0`.
    A block (`first_row` rows after the file's first) leaves repeats to its caller, who sees
    every block's ids (`duplicate_ids`)."""
    text = normalize_ids(ids)
    if text.isna().any():
        i = (first_row or 0) + int(np.flatnonzero(text.isna().to_numpy())[0])
        raise DataError(f"{path}: column '{col}' row {i + 2}: empty lead id; fill or drop the row")
    if first_row is None:
        duplicate_ids(text, ids.astype("string"), np.arange(len(text)), path, col)
    return pd.Index(text_cells(text, lambda: text.to_numpy(dtype=object)), name="lead_id")


def duplicate_ids(
    text: pd.Series, raw: pd.Series, rows: np.ndarray, path: str | Path, col: str
) -> None:
    """The error at the first repeated id of `text` (normalised ids; `raw`: as written; `rows`:
    their data rows in the file, ascending)."""
    first = first_duplicate(text, raw, rows)
    if first is not None:
        raise DataError(duplicate_line(path, col, *first))


def first_duplicate(
    text: pd.Series, raw: pd.Series, rows: np.ndarray
) -> tuple[int, int, str, bool, int] | None:
    """(its row, the row of its first occurrence, the id, written the same both times, the
    repeats in `text`) of the first repeated id, or None. A file read in blocks finds this per
    partition (a lead's rows all meet there) and sums the repeats (`duplicate_line`)."""
    dup = text.duplicated()
    if not dup.any():
        return None
    i = int(np.flatnonzero(dup.to_numpy())[0])
    first = int(np.flatnonzero((text == text.iloc[i]).to_numpy())[0])
    same = bool(raw.iloc[first] == raw.iloc[i])
    return int(rows[i]), int(rows[first]), str(text.iloc[i]), same, int(dup.sum())


def duplicate_line(
    path: str | Path, col: str, row: int, first: int, value: str, same: bool, repeats: int
) -> str:
    """The one line of a repeated lead id (data rows counted from 0)."""
    how = "" if same else f" (row {first + 2} once spaces, invisible characters or .0 go)"
    return (
        f"{path}: column '{col}' row {row + 2}: duplicate lead id '{clean_value(value)}'"
        f"{how} ({repeats} duplicates); keep one row per lead"
    )


def text_cells(s: pd.Series, as_objects: Callable[[], np.ndarray] | None = None) -> object:
    """A text column's cells for a new frame: what pandas infers from them as Python objects
    (`as_objects`, default missing as None), which for a pyarrow text column with a value is its
    own array: no million Python strings made and hashed back (~1 s per million cells)."""
    if s.dtype == TEXT and s.notna().any():
        return s.array
    return as_objects() if as_objects else s.astype(object).where(s.notna(), None).to_numpy()


@dataclass
class LeadValues:
    """The date, number and flag cells of a raw leads frame, each parsed once by the rules of
    `pipeline.io.rules`: scoring rejects rows by `bad` and builds the kept rows' canonical frame
    from `parsed` (`rows`), so no cell is parsed twice, nor two ways."""

    index: pd.Index  # of the raw frame parsed
    parsed: dict[str, np.ndarray] = field(default_factory=dict)  # datetime64[ns] or float
    bad: dict[str, np.ndarray] = field(default_factory=dict)  # present but not readable
    nonfinite: dict[str, np.ndarray] = field(default_factory=dict)  # read as missing, counted
    decimals: dict[str, str] = field(default_factory=dict)  # numeric column -> convention used

    @classmethod
    def parse(
        cls, raw: pd.DataFrame, sc: SchemaConfig, decimal: str | dict[str, str] | None = None
    ) -> LeadValues:
        """`decimal`: as in `canonical_leads`."""
        v = cls(raw.index)
        if (c := sc.created_at) and c in raw.columns:
            out, bad = to_datetimes(raw[c], sc.dayfirst, sc.created_at_unit)
            v.parsed[c], v.bad[c] = out.to_numpy(), bad.to_numpy(bool)
        for c in sc.numeric:
            dec = decimal.get(c) if isinstance(decimal, dict) else decimal
            v.decimals[c] = dec = dec or number_convention(raw[c])
            out, bad, v.nonfinite[c] = number_cells(raw[c], dec)
            v.parsed[c], v.bad[c] = out.to_numpy(float), bad.to_numpy(bool)
        for c in sc.flags:
            out, bad = to_flags(raw[c])
            v.parsed[c], v.bad[c] = out.to_numpy(float), bad.to_numpy(bool)
        return v

    def rows(self, index: pd.Index) -> LeadValues:
        """The values of the rows labelled `index` (a subset of the rows parsed)."""
        if index.equals(self.index):
            return self
        pos = self.index.get_indexer(index)
        parts = (self.parsed, self.bad, self.nonfinite)
        return LeadValues(index, *({c: a[pos] for c, a in d.items()} for d in parts), self.decimals)


def outcome_text(s: pd.Series) -> pd.Series:
    """Outcome values as strings; 1.0 read from parquet or Excel becomes '1', like the config;
    text cells are `clean_cells` (' Won ' is 'Won')."""
    if pd.api.types.is_bool_dtype(s):
        return s.astype("string").str.lower()
    if pd.api.types.is_numeric_dtype(s):
        f = s.astype(float)
        whole = f.notna() & (f == f.round())
        return f.astype("string").where(~whole, f.round().astype("Int64").astype("string"))
    return clean_cells(s)


def outcome_values(values: object) -> list[str]:
    """A won or lost list of the config as outcome cells are compared: cleaned, without case."""
    if not isinstance(values, list):
        return []
    return clean_cells(pd.Series([str(v) for v in values], dtype=object)).str.casefold().tolist()


def _attach_outcome(out: pd.DataFrame, raw: pd.DataFrame, cfg: Config, path: Path) -> None:
    """Set `_label` and `_closed_at` of the canonical leads in place, from the leads file's own
    columns or from a separate outcomes table (`data.outcomes`)."""
    oc = cfg.schema.outcome
    if cfg.data.outcomes:
        src, src_path, present = _outcomes_table(out, cfg, path)
    else:
        src, src_path = raw.set_index(pd.Index(out.index)), path
        present = np.ones(len(out), bool)
    if oc.column is None:
        out["_label"] = _labels_by_presence(present, cfg)
    else:
        out["_label"] = _labels_from_column(src, src_path, cfg)
    if oc.closed_at:
        require_columns(src, [oc.closed_at], src_path, "schema.outcome.closed_at")
        out["_closed_at"] = parse_dates(
            src[oc.closed_at], src_path, oc.closed_at, cfg.schema.dayfirst
        ).to_numpy()


def attach_read_outcome(out: pd.DataFrame, cfg: Config, path: str | Path) -> None:
    """`_attach_outcome` for leads whose file was read in blocks (`pipeline.io.blocks`): their
    outcome cells come as text (`_outcome`, dropped here) and their close dates parsed; the
    label rules run here over every lead, so their error and warning are the local reader's.
    An outcomes table (`data.outcomes`) is read whole, as the local reader does."""
    oc, path = cfg.schema.outcome, Path(path)
    text = out.pop("_outcome") if "_outcome" in out.columns else None
    if cfg.data.outcomes:
        _attach_outcome(out, out, cfg, path)  # the leads file's own cells are not read
    elif oc.column is None:
        out["_label"] = _labels_by_presence(np.ones(len(out), bool), cfg)
    else:
        out["_label"] = labels_from_text(text.astype("string"), path, cfg)  # blocks: categories


def _outcomes_table(
    out: pd.DataFrame, cfg: Config, path: Path
) -> tuple[pd.DataFrame, Path, np.ndarray]:
    """The outcomes table aligned to the leads, and which leads it lists. A table whose ids match
    no lead is an error (usually the wrong id column or a prefix), not a run with no wins."""
    src_path = Path(cfg.data.outcomes)
    table, ids = read_outcomes(cfg, src_path)
    id_col, key = _outcome_id(cfg)
    src = table.reindex(out.index)
    present = present_in(out.index, ids.dropna())
    if not present.any() and len(ids):
        raise DataError(
            f"{src_path}: no value of column '{id_col}' matches a lead id of {path} "
            f"(e.g. '{ids.dropna().iloc[0]}' vs '{out.index[0]}'); check {key}"
        )
    match = MatchCount("outcomes", n_leads=len(out))
    match.add(ids, index_positions(out.index, ids))
    out.attrs.setdefault("match_shares", {})["outcomes"] = match.shares()
    log.info(match.line(src_path, path) + "; the others are ignored")
    return src, src_path, present


def _outcome_id(cfg: Config) -> tuple[str, str]:
    """The outcomes table's lead-id column and the config key that names it."""
    oc = cfg.schema.outcome
    if oc.lead_id:
        return oc.lead_id, "schema.outcome.lead_id"
    return cfg.schema.lead_id, "schema.lead_id (or set schema.outcome.lead_id)"


def read_outcomes(cfg: Config, path: str | Path) -> tuple[pd.DataFrame, pd.Series]:
    """An outcomes table indexed by lead id, one row per id, and the ids as the file lists them.

    The rule training and monitoring both read outcomes by: ids are `rules.normalize_ids` (exports
    pad them, spreadsheets write 1000.0) and the first row of a repeated id is the one that counts."""
    table = read_table(path, cfg, "outcomes file")
    if table.empty and cfg.schema.outcome.column is not None:
        raise DataError(f"{path}: header only, no rows; export the outcomes with data")
    id_col, key = _outcome_id(cfg)
    require_columns(table, [id_col], path, key)
    ids = normalize_ids(table[id_col])
    return table.assign(**{id_col: ids}).drop_duplicates(id_col).set_index(id_col), ids


def outcome_labels(cfg: Config, path: str | Path) -> pd.Series:
    """1 won / 0 lost per lead id of an outcomes file (open leads left out), by the rules training
    labels its leads with: `read_outcomes`, then won/lost values (`_labels_from_column`), or won
    by presence when the config has no outcome column."""
    table, _ = read_outcomes(cfg, path)
    table = table[table.index.notna()]
    if cfg.schema.outcome.column is None:
        labels = np.ones(len(table))
    else:
        labels = _labels_from_column(table, Path(path), cfg)
    return pd.Series(labels, index=pd.Index(table.index, name="lead_id")).dropna()


def _labels_by_presence(present: np.ndarray, cfg: Config) -> np.ndarray:
    """Without an outcome column, a lead listed in the outcomes table is won, any other lost."""
    if cfg.schema.outcome.won != "present":
        raise DataError("config: schema.outcome.column is null, so won must be 'present'")
    if not cfg.data.outcomes:
        raise DataError(
            "config: schema.outcome.column is null but data.outcomes is not set; name the "
            "table that lists the won leads, or the outcome column of the leads file"
        )
    return np.where(present, 1.0, 0.0)


def _labels_from_column(src: pd.DataFrame, src_path: Path, cfg: Config) -> np.ndarray:
    """1 won, 0 lost, NaN open. No value matching won or lost is a config mistake (the values
    found are listed); a few other values are open leads, noted in the log."""
    require_columns(src, [cfg.schema.outcome.column], src_path, "schema.outcome.column")
    return labels_from_text(outcome_text(src[cfg.schema.outcome.column]), src_path, cfg)


def labels_from_text(vals: pd.Series, src_path: str | Path, cfg: Config) -> np.ndarray:
    """`_labels_from_column` on the outcome cells as text already (`outcome_text`): a file read
    in blocks turns each block's cells to text on its worker and this process labels them all,
    so the no-match error and the other-values warning see every lead, as the local reader's."""
    oc = cfg.schema.outcome
    folded = vals.str.casefold()
    won = folded.isin(outcome_values(oc.won)).fillna(False).to_numpy(bool)
    lost = folded.isin(outcome_values(oc.lost)).fillna(False).to_numpy(bool)
    if not (won | lost).any():
        counts = vals.value_counts(dropna=True).head(8)
        found = ", ".join(f"'{k}' ({v})" for k, v in counts.items()) or "only empty values"
        raise DataError(
            f"{src_path}: column '{oc.column}': no value matches schema.outcome.won "
            f"{oc.won} or lost {oc.lost}; values found: {found}; list them under won/lost"
        )
    other = ~(won | lost) & vals.notna().to_numpy(bool)
    if other.any():
        odd = vals[other][~folded[other].duplicated()]  # one spelling per value
        shown = ", ".join(f"'{clean_value(v)}'" for v in odd.iloc[:5])
        log.warning(
            "warning: %s: %d lead(s) with outcome %s match neither schema.outcome.won nor lost "
            "(compared without case): treated as open; list them under won/lost if they are not",
            src_path,
            int(other.sum()),
            shown,
        )
    return np.where(won, 1.0, np.where(lost, 0.0, np.nan))


def load_events(
    cfg: Config,
    path: str | Path | None = None,
    lead_ids: pd.Index | None = None,
    rejected: list[pd.DataFrame] | None = None,
    match: MatchCount | None = None,
) -> pd.DataFrame:
    """Activity events in canonical form (`lead_id`, `ts`, `type`), or an empty frame.

    `match` (with `lead_ids`) counts the rows whose id is one of `lead_ids`.

    Training (`rejected` None) stops at the first bad date with one line; scoring passes a list
    that receives the rows without a timestamp or with a bad one (`row`, lead id, `reason`), and
    they are left out, never read as "today"."""
    p = path or cfg.data.activities
    if not p:
        return empty_events()
    ac = cfg.schema.activity
    raw = read_table(p, cfg, "activities file")
    require_columns(raw, [ac.lead_id, ac.timestamp, ac.type], p, "schema.activity")
    # ids as the leads' own are read (a parquet file may hold them as numbers)
    raw = raw.assign(**{ac.lead_id: normalize_ids(raw[ac.lead_id])})
    ours = present_in(raw[ac.lead_id], lead_ids) if lead_ids is not None else None
    if match is not None and lead_ids is not None:
        match.n_leads = len(lead_ids)
        match.add(raw[ac.lead_id], index_positions(lead_ids, raw[ac.lead_id]))
    if rejected is None:
        ts = parse_dates(raw[ac.timestamp], p, ac.timestamp, cfg.schema.dayfirst, ac.timestamp_unit)
        if ours is not None:  # other leads' events go before their types are read
            raw, ts = raw[ours], ts[ours]
    else:
        ts, bad = to_datetimes(raw[ac.timestamp], cfg.schema.dayfirst, ac.timestamp_unit)
        ours = raw[ac.lead_id].notna().to_numpy() if ours is None else ours
        rejected.append(
            _rejected_events(raw, ts, bad, ours, ac.lead_id, ac.timestamp, cfg.schema.dayfirst)
        )
    ev = pd.DataFrame(
        {
            "lead_id": raw[ac.lead_id].astype(object).to_numpy(),
            "ts": ts.to_numpy(),
            "type": normalise_types(raw[ac.type]),
        }
    )
    keep = ev["type"].notna().to_numpy()
    if rejected is not None:
        keep = keep & ev["ts"].notna().to_numpy() & ours
    return ev[keep].reset_index(drop=True)


def _rejected_events(
    raw: pd.DataFrame,
    ts: pd.Series,
    bad: pd.Series,
    ours: pd.Series,
    id_col: str,
    ts_col: str,
    dayfirst: bool = False,
) -> pd.DataFrame:
    """Activity rows of the scored leads whose time is missing or bad, as rejected rows."""
    no_time = ts.isna() & ~bad
    hit = ((no_time | bad) & ours).to_numpy()
    reason = np.where(
        no_time.to_numpy()[hit],
        f"no {ts_col}",
        [f"{ts_col}: {date_problem(v, dayfirst)} '{clean_value(v)}'" for v in raw.loc[hit, ts_col]]
        or "",
    )
    return pd.DataFrame(
        {
            "row": np.flatnonzero(hit) + 2,
            id_col: raw.loc[hit, id_col].to_numpy(),
            "reason": reason,
        }
    )


def drop_before_created(leads: pd.DataFrame, events: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Events dated before their lead was created are not the lead's behaviour: dropped, counted."""
    if not len(events) or "_created_at" not in leads.columns:
        return events, 0
    # looked up by position with pyarrow: `reindex` by the ids would turn every event's id into
    # a Python string (~2.7 GB more at 20M events) to find the same dates
    at = index_positions(leads.index, events["lead_id"])
    created = np.append(leads["_created_at"].to_numpy("datetime64[ns]"), np.datetime64("NaT"))[at]
    before = (events["ts"].to_numpy("datetime64[ns]") < created) & ~np.isnat(created)
    if not before.any():
        return events, 0
    return events.loc[~before].reset_index(drop=True), int(before.sum())


def normalise_types(s: pd.Series) -> np.ndarray:
    """Activity type labels as snake_case, so 'Demo Request' and 'demo_request' are one type."""
    t = s.astype("string").str.strip().str.lower().str.replace(r"[^0-9a-z]+", "_", regex=True)
    return t.str.strip("_").astype(object).where(t.notna(), None).to_numpy()
