"""`leadscore init`: draft a config from an export's header and a sample of its rows.

A user's first hour is spent mapping column names; most of that can be guessed from the data
(an id column is unique, an email column holds addresses, a date column parses as dates, a
"Converted" column holds 0/1). Every guess is written into the YAML with a comment saying why, so
the user reviews a draft instead of writing a config from nothing. PII-looking columns are put in
`schema.drop`; columns that look filled after the outcome (leakage suspects, found with the same
check `leadscore validate` runs) are dropped too, with their evidence.
"""

from __future__ import annotations

import csv
import json
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.config import Config
from pipeline.errors import DataError
from pipeline.io.readers import NO, SEPARATORS, YES

SAMPLE_ROWS = 20_000
PLACEHOLDERS = [
    "Select",
    "-",
    "--",
    "N/A",
    "n/a",
    "NA",
    "#N/A",
    "null",
    "NULL",
    "None",
    "none",
    "?",
    "(not set)",
    "not provided",
]
EMAIL_RE = r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$"
PHONE_RE = r"^\+?[\d\s().\-/]{7,20}$"
PII_NAME_RE = re.compile(
    r"(first|last|full|middle|sur|given|contact|lead|person|user|customer)[\s_-]?name|^name$|"
    r"phone|mobile|e-?mail|address|street|postal|zip|\bip\b|birth|passport|ssn|linkedin",
    re.I,
)
OWNER_RE = re.compile(r"owner|assigned|sales ?rep|\bsdr\b|\bsr\b", re.I)
ID_NAME_RE = re.compile(r"(^|[\s_])id$|^id([\s_]|$)|_id$|\bid\b|number$|^key$", re.I)
OUTCOME_NAME_RE = re.compile(
    r"convert|outcome|status|stage|\bwon\b|result|is_?won|closed?|customer|target|label", re.I
)
CREATED_RE = re.compile(r"creat|first|added|signup|sign_up|registr|entered|date", re.I)
CLOSED_RE = re.compile(r"close|won|convert|conversion|lost", re.I)
AFTER_FACT_RE = re.compile(r"tag|quality|score|reason|owner|stage|status|rating|profile", re.I)


@dataclass
class Table:
    path: Path
    sep: str
    encoding: str
    df: pd.DataFrame  # sample, strings, placeholders replaced by NA
    placeholders: dict[str, int]
    notes: list[str] = field(default_factory=list)


@dataclass
class Col:
    name: str
    kind: str  # id, email, phone, pii, date, flag, numeric, categorical, empty, text
    why: str
    dayfirst: bool = False


def _sniff(path: Path) -> tuple[str, str, list[str]]:
    """Delimiter and encoding from the first 64 KB: the header decides, quotes respected."""
    raw = path.read_bytes()[:65536]
    notes = []
    try:
        text = raw.decode("utf-8-sig")
        enc = "utf-8"
    except UnicodeDecodeError as e:
        if e.start < len(raw) - 4:  # not merely a multi-byte character cut at 64 KB
            text, enc = raw.decode("cp1252", errors="replace"), "cp1252"
            notes.append(f"{path}: not valid UTF-8; drafted data.encoding: cp1252")
        else:
            text, enc = raw[: e.start].decode("utf-8-sig"), "utf-8"
    lines = text.splitlines()[:20]
    try:
        sep = csv.Sniffer().sniff("\n".join(lines), delimiters="".join(SEPARATORS)).delimiter
    except csv.Error:
        header = lines[0] if lines else ""
        sep = max(SEPARATORS, key=header.count)
    return sep, enc, notes


def read_sample(path: str | Path) -> Table:
    p = Path(path)
    if not p.exists():
        raise DataError(f"{p}: file not found; check the path given to leadscore init")
    if p.stat().st_size == 0:
        raise DataError(f"{p}: file is empty; export it again with a header row and data")
    if p.suffix.lower() in {".parquet", ".pq"}:
        df = pd.read_parquet(p).head(SAMPLE_ROWS)
        df = df.astype("string").fillna("")
        sep, enc, notes = ",", "utf-8", []
    else:
        sep, enc, notes = _sniff(p)
        df = pd.read_csv(
            p,
            sep=sep,
            dtype=str,
            keep_default_na=False,
            nrows=SAMPLE_ROWS,
            encoding="utf-8-sig" if enc == "utf-8" else enc,
            encoding_errors="replace",
        )
    df.columns = [str(c).lstrip("\ufeff").strip() for c in df.columns]
    if df.empty:
        raise DataError(f"{p}: header only, no rows; export the data with its rows")
    found = {}
    for ph in PLACEHOLDERS:
        n = int((df == ph).to_numpy().sum())
        if n:
            found[ph] = n
    df = df.replace(["", *found], pd.NA)
    df = df.apply(lambda s: s.str.strip() if s.dtype != object else s)
    return Table(p, sep, enc, df, found, notes)


def _is_number(s: pd.Series) -> pd.Series:
    return pd.to_numeric(s.str.replace(",", "", regex=False), errors="coerce").notna()


def _dates(s: pd.Series) -> tuple[float, bool]:
    """Share of values that parse as dates, and whether they are written day first."""
    looks = s.str.contains(r"\d{1,4}[-./]\d{1,2}[-./]\d{1,4}", regex=True)
    if looks.mean() < 0.9:
        return 0.0, False
    m = s.str.extract(r"^(\d{1,2})[./-](\d{1,2})[./-]\d{2,4}")
    dayfirst = bool((pd.to_numeric(m[0], errors="coerce") > 12).any()) or bool(
        s.str.match(r"^\d{1,2}\.\d{1,2}\.\d{2,4}").mean() > 0.5
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ok = pd.to_datetime(s, errors="coerce", format="mixed", dayfirst=dayfirst).notna()
    return float(ok.mean()), dayfirst


def _examples(s: pd.Series, k: int = 3) -> str:
    vc = s.value_counts().head(k)
    return ", ".join(repr(str(v)[:25]) for v in vc.index)


def classify(df: pd.DataFrame) -> dict[str, Col]:
    out: dict[str, Col] = {}
    n = len(df)
    for c in df.columns:
        s = df[c].dropna().astype(str)
        if s.empty:
            out[c] = Col(c, "empty", "empty in the sample")
            continue
        nun = s.nunique()
        low = set(s.str.lower().unique())
        if nun == 1 and len(s) >= 20:
            out[c] = Col(c, "empty", f"one value ({s.iloc[0][:25]!r}) in every filled row")
            continue
        if s.str.match(EMAIL_RE).mean() > 0.5:
            out[c] = Col(c, "email", "PII: holds email addresses")
            continue
        share, dayfirst = _dates(s)
        if share >= 0.9:
            out[c] = Col(c, "date", f"parses as dates (e.g. {s.iloc[0]!r})", dayfirst)
            continue
        if PII_NAME_RE.search(c) and not low <= (YES | NO):
            out[c] = Col(c, "pii", "PII: the name suggests personal data (name, phone, address)")
            continue
        if re.search(r"name", c, re.I) and nun > 50 and nun / len(s) > 0.5:
            out[c] = Col(c, "pii", "PII or an id: names, mostly distinct")
            continue
        if OWNER_RE.search(c):
            out[c] = Col(c, "pii", "a salesperson: a person's name, often assigned after the fact")
            continue
        if s.str.match(PHONE_RE).mean() > 0.8 and s.str.contains(r"[+\s()\-]").mean() > 0.5:
            out[c] = Col(c, "pii", "PII: looks like phone numbers")
            continue
        if low <= (YES | NO) and not low <= {"0", "1", "0.0", "1.0"}:
            out[c] = Col(c, "flag", f"yes/no values ({_examples(s)}) -> 1/0")
            continue
        unique = nun == len(s) and len(s) >= 20
        numeric = _is_number(s).mean() >= 0.95
        if unique and (not numeric or ID_NAME_RE.search(c) or s.str.fullmatch(r"\d+").all()):
            out[c] = Col(c, "id", f"unique in all {len(s):,} filled rows")
            continue
        if numeric:
            out[c] = Col(c, "numeric", f"numbers (e.g. {_examples(s)})")
            continue
        if nun > 200 and nun / len(s) > 0.5:
            out[c] = Col(c, "text", f"free text or an id ({nun:,} distinct values in {n:,} rows)")
            continue
        out[c] = Col(c, "categorical", f"{nun} values (e.g. {_examples(s)})")
    return out


def outcome_word(v: str) -> str | None:
    """'won', 'lost' or None for one outcome value ('Closed - Not Converted' is lost)."""
    t = re.sub(r"[^a-z0-9]", "", str(v).lower())
    if t in {"1", "yes", "y", "true", "t", "10"}:
        return "won"
    if t in {"0", "no", "n", "false", "f", "00"}:
        return "lost"
    if re.match(r"open|working|new|inprogress|nurtur|pending|appointment|qualif", t):
        return None  # still open: 'Open - Not Contacted' is not a lost lead
    if re.search(r"not|lost|disqualif|unqualif|reject|churn|unsuccess|junk|dead|declin", t):
        return "lost"
    if re.search(r"won|convert|customer|success|^win|sale|signed", t):
        return "won"
    return None


def _outcome_values(s: pd.Series) -> tuple[list[str], list[str]] | None:
    vals = [str(v) for v in s.dropna().unique()]
    won = [v for v in vals if outcome_word(v) == "won"]
    lost = [v for v in vals if outcome_word(v) == "lost"]
    if won and lost:
        return sorted(won), sorted(lost)
    return None


def _find_outcome(
    t: Table, cols: dict[str, Col], exclude: set[str]
) -> tuple[str, list, list] | None:
    best = None
    for c in t.df.columns:
        if c in exclude or cols[c].kind in {"email", "pii", "date", "id", "empty"}:
            continue
        s = t.df[c]
        if s.nunique() > 12:
            continue
        vals = _outcome_values(s)
        if vals is None:
            continue
        if not OUTCOME_NAME_RE.search(c):  # a yes/no column is not an outcome by values alone
            continue
        rank = 0 if c.lower() in {"converted", "outcome", "status", "stage", "won"} else 1
        if best is None or rank < best[0]:
            best = (rank, c, *vals)
    return best[1:] if best else None


def _overlap(t: Table, ids: set[str]) -> str | None:
    best, share = None, 0.0
    for c in t.df.columns:
        vals = t.df[c].dropna().astype(str)
        if vals.empty:
            continue
        s = float(vals.isin(ids).mean())
        if s > share:
            best, share = c, s
    return best if share >= 0.5 else None


def q(v: object) -> str:
    """A YAML scalar (JSON strings are valid YAML and quote everything that needs it)."""
    return json.dumps(v, ensure_ascii=False)


def _leakage(t: Table, label: pd.Series, cats: list[str], nums: list[str], flags: list[str]):
    """The validate check on the sample, so after-the-fact fields are dropped in the draft."""
    from pipeline.io.checks import leakage_suspects

    frame = pd.DataFrame(index=t.df.index)
    for c in cats:
        frame[c] = t.df[c]
    for c in nums:
        frame[c] = pd.to_numeric(t.df[c].str.replace(",", "", regex=False), errors="coerce")
    for c in flags:
        low = t.df[c].str.strip().str.lower()
        frame[c] = np.where(low.isin(YES), 1.0, np.where(low.isin(NO), 0.0, np.nan))
    frame["_label"] = label.to_numpy()
    lab = frame["_label"]
    if (lab == 1).sum() < 5 or (lab == 0).sum() < 5:
        return {}
    cfg = Config.model_validate({"schema": {"categorical": cats, "numeric": nums, "flags": flags}})
    return {f.column: f.message for f in leakage_suspects(frame, cfg)}


def draft_config(
    leads: str | Path, activities: str | Path | None = None, outcomes: str | Path | None = None
) -> tuple[str, list[str]]:
    """The YAML text of a drafted config and short notes for the terminal."""
    L = read_sample(leads)
    A = read_sample(activities) if activities else None
    oc = read_sample(outcomes) if outcomes else None
    notes = [*L.notes, *(A.notes if A else []), *(oc.notes if oc else [])]
    cols = classify(L.df)
    # id: unique, prefer a name that says id
    ids = [c for c, k in cols.items() if k.kind == "id"]
    ids.sort(key=lambda c: (0 if ID_NAME_RE.search(c) else 1, list(L.df.columns).index(c)))
    if not ids:
        raise DataError(
            f"{L.path}: no column has a unique value per row, so there is no lead id; add one "
            "or remove duplicate rows"
        )
    lead_id = ids[0]
    lead_ids = set(L.df[lead_id].dropna().astype(str))
    used = {lead_id}
    drop: list[tuple[str, str]] = [(c, f"another id ({cols[c].why})") for c in ids[1:]]
    used |= set(ids)

    email = next((c for c, k in cols.items() if k.kind == "email"), None)
    for c, k in cols.items():
        if k.kind in {"email", "pii"}:
            drop.append((c, k.why))
            used.add(c)

    # outcome
    out_table = oc if oc is not None else L
    out_cols = classify(oc.df) if oc is not None else cols
    out_id = None
    if oc is not None:
        out_id = _overlap(oc, lead_ids)
        if out_id is None:
            raise DataError(
                f"{oc.path}: no column shares ids with '{lead_id}' of {L.path}; check the files"
            )
    found = _find_outcome(out_table, out_cols, {out_id, *used} if oc is None else {out_id})
    outcome_col, won, lost = found if found else (None, None, None)
    if outcome_col and oc is None:
        used.add(outcome_col)
    # dates
    dates = [c for c, k in cols.items() if k.kind == "date"]
    created = next((c for c in dates if CREATED_RE.search(c) and not CLOSED_RE.search(c)), None)
    created = created or next((c for c in dates if not CLOSED_RE.search(c)), None)
    out_dates = [c for c, k in out_cols.items() if k.kind == "date"] if oc is not None else dates
    closed = next((c for c in out_dates if CLOSED_RE.search(c) and c != created), None)
    if closed is None and oc is not None and out_dates:
        closed = out_dates[0]
    dayfirst = any(cols[c].dayfirst for c in dates) or (
        oc is not None and any(out_cols[c].dayfirst for c in out_dates)
    )
    for c in dates:
        if c not in {created, closed}:
            drop.append((c, "a date: not used as a feature (it may be filled after the outcome)"))
    used |= set(dates)

    cats = [c for c, k in cols.items() if k.kind == "categorical" and c not in used]
    nums = [c for c, k in cols.items() if k.kind == "numeric" and c not in used]
    flags = [c for c, k in cols.items() if k.kind == "flag" and c not in used]
    for c, k in cols.items():
        if k.kind in {"text", "empty"} and c not in used:
            drop.append((c, k.why))

    # leakage suspects on the sample, with the label the draft would use
    label = None
    if outcome_col and oc is None:
        v = L.df[outcome_col].astype("string")
        label = pd.Series(np.where(v.isin(won), 1.0, np.where(v.isin(lost), 0.0, np.nan)))
    elif oc is not None:
        o = oc.df.drop_duplicates(out_id).set_index(out_id)
        ids_s = L.df[lead_id].astype(str)
        if outcome_col:
            v = ids_s.map(o[outcome_col].astype(str))
            label = pd.Series(np.where(v.isin(won), 1.0, np.where(v.isin(lost), 0.0, np.nan)))
        else:
            label = pd.Series(np.where(ids_s.isin(o.index.astype(str)), 1.0, 0.0))
    suspects = _leakage(L, label, cats, nums, flags) if label is not None else {}
    for c, msg in suspects.items():
        drop.append((c, msg.replace(f"leakage suspect '{c}': ", "leakage suspect: ")))
    cats = [c for c in cats if c not in suspects]
    nums = [c for c in nums if c not in suspects]
    flags = [c for c in flags if c not in suspects]

    # activities
    act = None
    if A is not None:
        acols = classify(A.df)
        a_id = _overlap(A, lead_ids)
        a_dates = [c for c, k in acols.items() if k.kind == "date"]
        a_ts = next((c for c in a_dates if re.search(r"time|date|occur|at$", c, re.I)), None)
        a_ts = a_ts or (a_dates[0] if a_dates else None)
        cands = [
            c
            for c, k in acols.items()
            if k.kind == "categorical" and c not in {a_id, a_ts} and A.df[c].nunique() > 1
        ]
        cands.sort(
            key=lambda c: (
                0 if re.search(r"type|activity|event|action", c, re.I) else 1,
                A.df[c].nunique(),
            )
        )
        a_type = cands[0] if cands else None
        act = (a_id, a_ts, a_type, acols, A)
        dayfirst = dayfirst or any(acols[c].dayfirst for c in a_dates)
        if a_id is None:
            notes.append(
                f"{A.path}: no column shares ids with '{lead_id}': set schema.activity.lead_id"
            )

    sql_line = (
        "  sql: {precision: 0.5}   # SQL cutoff: half the SQLs convert (or {capacity_per_month: N})"
    )
    lab = label.dropna() if label is not None else pd.Series(dtype=float)
    if len(lab):
        base = float(lab.mean())
        prec = round(min(0.9, max(0.5, base + (1 - base) / 2)), 2)
        sql_line = (
            f"  sql: {{precision: {prec}}}   # guess: {base:.0%} of closed leads in the sample are "
            "won; SQLs should convert clearly more often (or {capacity_per_month: N})"
        )

    # ---- YAML ----
    g = "# guess: "
    y: list[str] = [
        "# Drafted by `leadscore init` from a sample of the export. Every '# guess' is a guess:",
        "# review it, then run `leadscore validate --config THIS_FILE`, `leadscore train`, `score`.",
        "data:",
        f"  leads: {q(str(L.path))}",
        f"  activities: {q(str(A.path)) if A else 'null'}",
        f"  outcomes: {q(str(oc.path)) if oc else 'null'}",
    ]
    sep_note = "detected from the header" + (
        "" if L.path.suffix.lower() not in {".parquet", ".pq"} else " (parquet: not used)"
    )
    y.append(f"  sep: {q(L.sep)}  {g}{sep_note}")
    seps = {
        t.sep
        for t in (L, A, oc)
        if t is not None and t.path.suffix.lower() not in {".parquet", ".pq"}
    }
    if len(seps) > 1:
        notes.append(
            f"files use different delimiters {sorted(seps)}: data.sep is one for all; re-export them alike"
        )
    encs = {t.encoding for t in (L, A, oc) if t is not None}
    if "cp1252" in encs:
        y.append(f"  encoding: cp1252  {g}the file is not valid UTF-8")
    mv = ["", "NA"] + [
        p
        for p in {
            **L.placeholders,
            **(oc.placeholders if oc else {}),
            **(A.placeholders if A else {}),
        }
        if p != "NA"
    ]
    seen_ph = {**L.placeholders}
    ph_note = ", ".join(f"{k!r} x{v:,}" for k, v in seen_ph.items())
    y.append(
        f"  missing_values: [{', '.join(q(v) for v in mv)}]  "
        + (
            f"{g}placeholders found in the sample: {ph_note}"
            if ph_note
            else "# strings meaning unknown"
        )
    )
    y.append("schema:")
    y.append(f"  lead_id: {q(lead_id)}  {g}{cols[lead_id].why}")
    if created:
        y.append(f"  created_at: {q(created)}  {g}{cols[created].why}")
    else:
        y.append(
            "  created_at: null  # guess: no creation date found: the split will be "
            "stratified-random, not out-of-time"
        )
    if dayfirst:
        y.append(f"  dayfirst: true  {g}dates are written day first (31.01.2026)")
    y.append("  outcome:")
    if oc is not None and out_id != lead_id:
        y.append(f"    lead_id: {q(out_id)}  {g}its values match the lead ids")
    if outcome_col:
        where = f"in {oc.path.name}" if oc is not None else "in the leads file"
        y.append(f"    column: {q(outcome_col)}  {g}outcome-like values {where}")
        y.append(f"    won: [{', '.join(q(v) for v in won)}]  {g}values meaning converted")
        others = [
            str(v)
            for v in out_table.df[outcome_col].dropna().unique()
            if str(v) not in {*won, *lost}
        ]
        extra = (
            f"; other values ({', '.join(repr(o) for o in others[:5])}) count as open"
            if others
            else ""
        )
        y.append(f"    lost: [{', '.join(q(v) for v in lost)}]  {g}values meaning lost{extra}")
    elif oc is not None:
        y.append(f"    column: null  {g}{oc.path.name} has no outcome column: it lists won leads")
        y.append("    won: present   # a lead listed in data.outcomes is won")
        y.append("    lost: absent   # every other lead is lost")
    else:
        y.append("    column: CHANGE_ME  # guess failed: name the column that says won or lost")
        for c in out_table.df.columns:
            if OUTCOME_NAME_RE.search(c) and out_table.df[c].nunique() <= 15:
                y.append(f"    # candidate {c!r}: values {_examples(out_table.df[c], 8)}")
        y.append('    won: ["won"]')
        y.append('    lost: ["lost"]')
        notes.append("no outcome-like column found: set schema.outcome by hand")
    if closed and (oc is not None or outcome_col):
        y.append(
            f"    closed_at: {q(closed)}  {g}when the outcome was known (snapshots stop before it)"
        )
    if oc is not None:
        rest = [c for c in oc.df.columns if c not in {out_id, outcome_col, closed}]
        if rest:
            y.append(
                f"    # {oc.path.name} also has {', '.join(rest[:6])}{' ...' if len(rest) > 6 else ''}:"
            )
            y.append("    # outcome detail known only after the deal, so never features")

    def block(key: str, items: list[str], note: str) -> None:
        if not items:
            y.append(f"  {key}: []")
            return
        y.append(f"  {key}:  {note}")
        for c in items:
            hint = (
                "  (name suggests it may be filled after the fact: check validate)"
                if AFTER_FACT_RE.search(c)
                else ""
            )
            y.append(f"    - {q(c)}  # {cols[c].why}{hint}")

    block("categorical", cats, "# guess: text with few distinct values")
    block("numeric", nums, "# guess: numbers")
    block("flags", flags, "# guess: Yes/No, Y/N, true/false columns, read as 1/0")
    if drop:
        y.append("  drop:  # never used: PII, ids, dates, free text, leakage suspects")
        for c, why in drop:
            y.append(f"    - {q(c)}  # {why}")
    else:
        y.append("  drop: []")
    if email:
        y.append(f"  email: {q(email)}  {g}only business vs personal domain is derived from it")
    if act:
        a_id, a_ts, a_type, acols, A_ = act
        y.append("  activity:")
        y.append(f"    lead_id: {q(a_id) if a_id else 'CHANGE_ME'}  {g}values match the lead ids")
        y.append(f"    timestamp: {q(a_ts) if a_ts else 'CHANGE_ME'}  {g}a date/time column")
        ex = f" (e.g. {_examples(A_.df[a_type])})" if a_type else ""
        y.append(f"    type: {q(a_type) if a_type else 'CHANGE_ME'}  {g}activity types{ex}")
    y += [
        "targets:",
        sql_line,
        "  mql: {recall: 0.8}      # MQL cutoff: MQLs keep 80% of future customers",
        "validation:",
        "  min_won: 100            # refuse to train below this many won leads",
        "  min_lost: 100",
        "scoring:",
        f"  output: {q('data/scored/' + Path(L.path).stem.lower().replace(' ', '_') + '-scores.csv')}",
        "",
    ]
    notes.insert(
        0,
        f"lead id: {lead_id}; outcome: {outcome_col or ('present in ' + oc.path.name if oc else 'NOT FOUND')}; "
        f"{len(cats)} categorical, {len(nums)} numeric, {len(flags)} flag columns; {len(drop)} dropped",
    )
    if suspects:
        notes.append(f"leakage suspects dropped: {', '.join(suspects)}")
    return "\n".join(y), notes
