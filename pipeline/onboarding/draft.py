"""`leadscore init`: draft a config from an export's header and a sample of its rows.

A user's first hour is spent mapping column names; most of that can be guessed from the data
(an id column is unique, an email column holds addresses, a date column parses as dates, a
"Converted" column holds 0/1). Every guess is written into the YAML with a comment saying why, so
the user reviews a draft instead of writing a config from nothing. PII-looking columns are put in
`schema.drop`; columns that look filled after the outcome (leakage suspects, found with the same
check `leadscore validate` runs) are dropped too, with their evidence.

Two steps: `guess_config` reads samples and returns every guess with its reason as a `Draft`;
`pipeline.onboarding.render.render_yaml` writes that as commented YAML. `draft_config` does both.
"""

from __future__ import annotations

import csv
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.config import Config
from pipeline.errors import DataError
from pipeline.io.readers import NO, SEPARATORS, YES
from pipeline.onboarding.render import render_yaml
from pipeline.validation.checks import leakage_suspects, name_words, suspect_evidence

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
    r"convert|outcome|status|stage|\bwon\b|result|is_?won|closed?|customer|target|label|^y$", re.I
)
# exact names that say "this is the outcome", ranked before a name that merely contains one
OUTCOME_NAMES = {"y", "target", "label", "converted", "outcome", "status", "result", "won", "stage"}
# words of a column name that say it is behaviour (what the lead did), not who the lead is
ENGAGEMENT_WORDS = {
    "visit", "visits", "view", "views", "pageviews", "open", "opens", "opened", "click",
    "clicks", "clicked", "download", "downloads", "downloaded", "session", "sessions",
    "webinar", "webinars", "activity", "activities", "engagement", "login", "logins",
}  # fmt: skip
CREATED_RE = re.compile(r"creat|first|added|signup|sign_up|registr|entered|date", re.I)
CLOSED_RE = re.compile(r"close|won|convert|conversion|lost", re.I)


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
    """The first rows as strings with placeholders as NA: guessing must not depend on dtypes
    pandas would infer, and placeholders ('Select', 'N/A') would pass for category values."""
    p = Path(path)
    if not p.exists():
        raise DataError(f"{p}: file not found; check the path given to leadscore init")
    if p.stat().st_size == 0:
        raise DataError(f"{p}: file is empty; export it again with a header row and data")
    if _is_parquet(p):
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
    """Each column's kind, tested in an order where the costly mistakes come first: PII and
    dates before ids, ids before numbers, so an email or a phone is never used as a feature."""
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
        rank = 0 if c.strip().lower() in OUTCOME_NAMES else 1
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


def _leakage(
    t: Table,
    label: pd.Series | None,
    kinds: tuple[list[str], list[str], list[str]],
    flat: bool,
) -> dict[str, str]:
    """The validate check on the sample, so after-the-fact fields are dropped in the draft:
    column -> evidence. Without an outcome only the name rules can run."""
    cats, nums, flags = kinds
    frame = pd.DataFrame(index=t.df.index)
    for c in cats:
        frame[c] = t.df[c]
    for c in nums:
        frame[c] = pd.to_numeric(t.df[c].str.replace(",", "", regex=False), errors="coerce")
    for c in flags:
        low = t.df[c].str.strip().str.lower()
        frame[c] = np.where(low.isin(YES), 1.0, np.where(low.isin(NO), 0.0, np.nan))
    frame["_label"] = np.nan if label is None else label.to_numpy()
    lab = frame["_label"]
    if (lab == 1).sum() < 5 or (lab == 0).sum() < 5:
        frame["_label"] = np.nan  # too few outcomes to judge by the data: names only
    cfg = Config.model_validate({"schema": {"categorical": cats, "numeric": nums, "flags": flags}})
    return suspect_evidence(leakage_suspects(frame, cfg, flat=flat))


def _guess_engagement(features: dict[str, list[Choice]]) -> list[Choice]:
    """Columns whose name says behaviour (visits, page views, time spent, opens, clicks): on a
    flat export they are the engagement side of the score, as activity counts are on an event log."""
    out = []
    for kind in ("numeric", "flag", "categorical"):
        for ch in features[kind]:
            words = name_words(ch.column)
            spent = "time" in words and ({"spent", "on"} & set(words))
            if ENGAGEMENT_WORDS & set(words) or spent:
                out.append(Choice(ch.column, "the name says what the lead did (behaviour)"))
    return out


# ---- The guess: every decision `leadscore init` makes, as data, before any YAML is written. ----
# Kept apart from the YAML so a guess can be tested (and changed) without reading the text.


@dataclass
class Choice:
    """A column the draft uses or drops, with the reason the reviewer sees next to it."""

    column: str
    why: str


@dataclass
class DataGuess:
    """How the files are read: the `data:` section."""

    leads: Path
    activities: Path | None
    outcomes: Path | None
    sep: str
    sep_used: bool  # False for a parquet leads file: its sep is never read
    encoding: str  # "cp1252" when any file is not valid UTF-8, else "utf-8"
    missing_values: list[str]  # placeholders found in any file, plus "" and "NA"
    placeholders: dict[str, int]  # found in the leads sample, with their counts


@dataclass
class OutcomeGuess:
    """Where won and lost live. With an outcomes file and no `column`, the file lists won leads."""

    lead_id: str | None  # the outcomes file's column whose values are lead ids
    column: str | None
    won: list[str]
    lost: list[str]
    open_values: list[str]  # the other values of `column`: those leads are still open
    closed_at: str | None
    candidates: list[tuple[str, str]]  # no column found: outcome-like names, example values
    detail: list[str]  # the outcomes file's other columns: known only after the deal


@dataclass
class ActivityGuess:
    """The activity log's columns; None where no column fits."""

    lead_id: str | None
    timestamp: str | None
    type: str | None
    type_examples: str  # its most frequent values, so the reviewer recognises the column


@dataclass
class SqlGuess:
    """A starting SQL precision: the sample's win rate tells what 'clearly better' means."""

    precision: float
    base_rate: float  # share of the sample's closed leads that are won


@dataclass
class Draft:
    """Everything `leadscore init` guessed; `render_yaml` turns it into the commented config."""

    data: DataGuess
    lead_id: Choice
    created_at: Choice | None
    dayfirst: bool
    outcome: OutcomeGuess
    categorical: list[Choice]
    numeric: list[Choice]
    flags: list[Choice]
    engagement: list[Choice]  # feature columns that are behaviour: the engagement sub-score
    drop: list[Choice]
    email: str | None
    activity: ActivityGuess | None
    sql: SqlGuess | None
    leakage_suspects: list[str]
    scores_output: str
    notes: list[str] = field(default_factory=list)


DATE_DROP = "a date: not used as a feature (it may be filled after the outcome)"


def _is_parquet(path: Path) -> bool:
    return path.suffix.lower() in {".parquet", ".pq"}


def _of_kind(columns: dict[str, Col], kind: str) -> list[str]:
    return [c for c, k in columns.items() if k.kind == kind]


def _guess_lead_id(leads_table: Table, columns: dict[str, Col]) -> tuple[str, list[Choice]]:
    """The lead id and the other unique columns, which are dropped: a second id only memorises."""
    ids = _of_kind(columns, "id")
    order = list(leads_table.df.columns)
    ids.sort(key=lambda c: (0 if ID_NAME_RE.search(c) else 1, order.index(c)))
    if not ids:
        raise DataError(
            f"{leads_table.path}: no column has a unique value per row, so there is no lead id; "
            f"add a row-number id and run init on the new file: {_add_id_hint(leads_table)}"
        )
    return ids[0], [Choice(c, f"another id ({columns[c].why})") for c in ids[1:]]


def _add_id_hint(t: Table) -> str:
    """A shell one-liner that writes a copy of the export with a `lead_id` row number first."""
    out = t.path.with_name(f"{t.path.stem}-with-id{t.path.suffix}")
    if _is_parquet(t.path):
        read, write = f"pd.read_parquet('{t.path}')", f"d.to_parquet('{out}', index=False)"
    else:
        read = f"pd.read_csv('{t.path}', sep='{t.sep}', dtype=str, keep_default_na=False)"
        write = f"d.to_csv('{out}', sep='{t.sep}', index=False)"
    return (
        f'python -c "import pandas as pd; d = {read}; '
        f"d.insert(0, 'lead_id', range(1, len(d) + 1)); {write}\""
    )


def _guess_outcome(
    leads_table: Table,
    lead_columns: dict[str, Col],
    outcomes_table: Table | None,
    lead_id: str,
    used: set[str],
) -> tuple[OutcomeGuess, dict[str, Col]]:
    """The outcome column and its won/lost values, and the classified columns of its file.

    Without an outcomes file the outcome is one of the leads file's unused columns; with one, the
    file must share ids with the leads, or every lead would look open.
    """
    out_id = None
    if outcomes_table is None:
        table, columns, exclude = leads_table, lead_columns, used
    else:
        table, columns = outcomes_table, classify(outcomes_table.df)
        out_id = _overlap(outcomes_table, set(leads_table.df[lead_id].dropna().astype(str)))
        if out_id is None:
            raise DataError(
                f"{outcomes_table.path}: no column shares ids with '{lead_id}' of "
                f"{leads_table.path}; check the files"
            )
        exclude = {out_id}
    found = _find_outcome(table, columns, exclude)
    column, won, lost = found if found else (None, [], [])
    open_values = []
    if column:
        values = (str(v) for v in table.df[column].dropna().unique())
        open_values = [v for v in values if v not in {*won, *lost}]
    candidates = []
    if column is None and outcomes_table is None:
        candidates = [
            (c, _examples(table.df[c], 8))
            for c in table.df.columns
            if OUTCOME_NAME_RE.search(c) and table.df[c].nunique() <= 15
        ]
    guess = OutcomeGuess(out_id, column, won, lost, open_values, None, candidates, [])
    return guess, columns


def _guess_dates(
    lead_columns: dict[str, Col], outcome_columns: dict[str, Col], outcomes_file: bool
) -> tuple[str | None, str | None, bool]:
    """Creation date, close date and day-first: a date named like a close is never the creation."""
    dates = _of_kind(lead_columns, "date")
    created = next((c for c in dates if CREATED_RE.search(c) and not CLOSED_RE.search(c)), None)
    created = created or next((c for c in dates if not CLOSED_RE.search(c)), None)
    out_dates = _of_kind(outcome_columns, "date") if outcomes_file else dates
    closed = next((c for c in out_dates if CLOSED_RE.search(c) and c != created), None)
    if closed is None and outcomes_file and out_dates:
        closed = out_dates[0]  # an outcomes file's only date is when the deal closed
    dayfirst = any(lead_columns[c].dayfirst for c in dates) or (
        outcomes_file and any(outcome_columns[c].dayfirst for c in out_dates)
    )
    return created, closed, dayfirst


def _add_close_date(
    outcome: OutcomeGuess, closed: str | None, outcomes_table: Table | None
) -> None:
    """The close date and the outcomes file's other columns, which are never features."""
    if outcomes_table is not None or outcome.column:  # a close date without an outcome is moot
        outcome.closed_at = closed
    if outcomes_table is not None:
        skip = {outcome.lead_id, outcome.column, closed}
        outcome.detail = [c for c in outcomes_table.df.columns if c not in skip]


def _won_lost(values: pd.Series, outcome: OutcomeGuess) -> pd.Series:
    won, lost = values.isin(outcome.won), values.isin(outcome.lost)
    return pd.Series(np.where(won, 1.0, np.where(lost, 0.0, np.nan)))


def _draft_label(
    leads_table: Table, lead_id: str, outcomes_table: Table | None, outcome: OutcomeGuess
) -> pd.Series | None:
    """The label the drafted config would train on, so the leakage check judges that target."""
    if outcomes_table is None:
        if not outcome.column:
            return None
        return _won_lost(leads_table.df[outcome.column].astype("string"), outcome)
    by_id = outcomes_table.df.drop_duplicates(outcome.lead_id).set_index(outcome.lead_id)
    ids = leads_table.df[lead_id].astype(str)
    if outcome.column:
        return _won_lost(ids.map(by_id[outcome.column].astype(str)), outcome)
    return pd.Series(np.where(ids.isin(by_id.index.astype(str)), 1.0, 0.0))


def _guess_features(
    leads_table: Table,
    columns: dict[str, Col],
    used: set[str],
    label: pd.Series | None,
    flat: bool,
) -> tuple[dict[str, list[Choice]], list[Choice], dict[str, str]]:
    """Feature columns by kind, the rest dropped with a reason, and the leakage suspects.

    Suspects are found with the check `leadscore validate` runs, so a drafted config validates
    without the user first having to learn which field was filled after the outcome.
    """
    kinds = {
        kind: [c for c in _of_kind(columns, kind) if c not in used]
        for kind in ("categorical", "numeric", "flag")
    }
    drop = [
        Choice(c, k.why)
        for c, k in columns.items()
        if k.kind in {"text", "empty"} and c not in used
    ]
    suspects = _leakage(leads_table, label, tuple(kinds.values()), flat)
    for c, evidence in suspects.items():
        drop.append(Choice(c, f"leakage suspect: {evidence} (move it back if it is known early)"))
    features = {
        kind: [Choice(c, columns[c].why) for c in names if c not in suspects]
        for kind, names in kinds.items()
    }
    return features, drop, suspects


def _guess_activity(
    activities_table: Table | None, lead_ids: set[str], lead_id: str
) -> tuple[ActivityGuess | None, bool, list[str]]:
    """Activity id, timestamp and type columns, whether its dates are day first, and notes."""
    if activities_table is None:
        return None, False, []
    columns = classify(activities_table.df)
    df = activities_table.df
    a_id = _overlap(activities_table, lead_ids)
    dates = _of_kind(columns, "date")
    timestamp = next((c for c in dates if re.search(r"time|date|occur|at$", c, re.I)), None)
    timestamp = timestamp or (dates[0] if dates else None)
    types = [
        c
        for c in _of_kind(columns, "categorical")
        if c not in {a_id, timestamp} and df[c].nunique() > 1
    ]
    # a name that says type wins; else the fewest values (a type has few, a subject line many)
    types.sort(
        key=lambda c: (
            0 if re.search(r"type|activity|event|action", c, re.I) else 1,
            df[c].nunique(),
        )
    )
    a_type = types[0] if types else None
    examples = _examples(df[a_type]) if a_type else ""
    notes = []
    if a_id is None:
        notes.append(
            f"{activities_table.path}: no column shares ids with '{lead_id}': "
            "set schema.activity.lead_id"
        )
    dayfirst = any(columns[c].dayfirst for c in dates)
    return ActivityGuess(a_id, timestamp, a_type, examples), dayfirst, notes


def _guess_sql(label: pd.Series | None) -> SqlGuess | None:
    """Halfway between the win rate and 1 (within 0.5..0.9): SQLs should win clearly more often."""
    closed = label.dropna() if label is not None else pd.Series(dtype=float)
    if not len(closed):
        return None
    base = float(closed.mean())
    return SqlGuess(round(min(0.9, max(0.5, base + (1 - base) / 2)), 2), base)


def _guess_data(
    leads_table: Table, activities_table: Table | None, outcomes_table: Table | None
) -> tuple[DataGuess, list[str]]:
    """How to read the files; data.sep and data.encoding are one for all files, hence the note."""
    tables = [t for t in (leads_table, activities_table, outcomes_table) if t is not None]
    seps = {t.sep for t in tables if not _is_parquet(t.path)}
    notes = []
    if len(seps) > 1:
        notes.append(
            f"files use different delimiters {sorted(seps)}: data.sep is one for all; "
            "re-export them alike"
        )
    found = {  # leads first, then outcomes, then activities: the order they are listed in
        **leads_table.placeholders,
        **(outcomes_table.placeholders if outcomes_table else {}),
        **(activities_table.placeholders if activities_table else {}),
    }
    data = DataGuess(
        leads=leads_table.path,
        activities=activities_table.path if activities_table else None,
        outcomes=outcomes_table.path if outcomes_table else None,
        sep=leads_table.sep,
        sep_used=not _is_parquet(leads_table.path),
        encoding="cp1252" if any(t.encoding == "cp1252" for t in tables) else "utf-8",
        missing_values=["", "NA", *(p for p in found if p != "NA")],
        placeholders={**leads_table.placeholders},
    )
    return data, notes


def _summary(draft: Draft) -> str:
    """The one line the terminal shows first: what was found, so a bad guess is seen at once."""
    outcome = draft.outcome.column or (
        f"present in {draft.data.outcomes.name}" if draft.data.outcomes else "NOT FOUND"
    )
    return (
        f"lead id: {draft.lead_id.column}; outcome: {outcome}; "
        f"{len(draft.categorical)} categorical, {len(draft.numeric)} numeric, "
        f"{len(draft.flags)} flag columns; {len(draft.drop)} dropped"
    )


def guess_config(
    leads: str | Path, activities: str | Path | None = None, outcomes: str | Path | None = None
) -> Draft:
    """Every guess for a config drafted from samples of the exports, with the reason for each."""
    leads_table = read_sample(leads)
    activities_table = read_sample(activities) if activities else None
    outcomes_table = read_sample(outcomes) if outcomes else None
    columns = classify(leads_table.df)
    lead_id, drop = _guess_lead_id(leads_table, columns)
    drop += [Choice(c, k.why) for c, k in columns.items() if k.kind in {"email", "pii"}]
    used = {lead_id, *(d.column for d in drop)}
    outcome, outcome_columns = _guess_outcome(leads_table, columns, outcomes_table, lead_id, used)
    if outcome.column and outcomes_table is None:
        used.add(outcome.column)
    created, closed, dayfirst = _guess_dates(columns, outcome_columns, outcomes_table is not None)
    _add_close_date(outcome, closed, outcomes_table)
    dates = _of_kind(columns, "date")
    drop += [Choice(c, DATE_DROP) for c in dates if c not in {created, closed}]
    used |= set(dates)
    label = _draft_label(leads_table, lead_id, outcomes_table, outcome)
    features, dropped, suspects = _guess_features(
        leads_table, columns, used, label, activities_table is None
    )
    lead_ids = set(leads_table.df[lead_id].dropna().astype(str))
    activity, activity_dayfirst, activity_notes = _guess_activity(
        activities_table, lead_ids, lead_id
    )
    dayfirst = dayfirst or activity_dayfirst
    data, data_notes = _guess_data(leads_table, activities_table, outcomes_table)
    email = next(iter(_of_kind(columns, "email")), None)
    draft = Draft(
        data=data,
        lead_id=Choice(lead_id, columns[lead_id].why),
        created_at=Choice(created, columns[created].why) if created else None,
        dayfirst=dayfirst,
        outcome=outcome,
        categorical=features["categorical"],
        numeric=features["numeric"],
        flags=features["flag"],
        engagement=_guess_engagement(features),
        drop=drop + dropped,
        email=email,
        activity=activity,
        sql=_guess_sql(label),
        leakage_suspects=list(suspects),
        scores_output=f"data/scored/{leads_table.path.stem.lower().replace(' ', '_')}-scores.csv",
    )
    tables = (leads_table, activities_table, outcomes_table)
    draft.notes = [
        _summary(draft),
        *(note for t in tables if t is not None for note in t.notes),
        *activity_notes,
        *data_notes,
    ]
    if outcome.column is None and outcomes_table is None:
        draft.notes.append("no outcome-like column found: set schema.outcome by hand")
    if suspects:
        draft.notes.append(f"leakage suspects dropped: {', '.join(suspects)}")
    return draft


def draft_config(
    leads: str | Path, activities: str | Path | None = None, outcomes: str | Path | None = None
) -> tuple[str, list[str]]:
    """The YAML text of a drafted config and short notes for the terminal."""
    draft = guess_config(leads, activities, outcomes)
    return render_yaml(draft), draft.notes
