"""What kind each column of a sample is: id, email, PII, date, flag, number, category or text.

A column's kind is judged with the functions that will later read it (`pipeline.io.rules`): a
column init calls a date, a number or a yes/no flag is one that training and scoring read as one,
so a drafted config never names a column its own reader refuses. Names are judged by the shared
vocabulary (`pipeline.validation.vocabulary`).
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass

import pandas as pd

from pipeline.config import CONSTANT_REASON
from pipeline.io.rules import NO, YES, number_convention, to_datetimes, to_flags, to_numbers
from pipeline.validation.vocabulary import (
    ID_NAME_RE,
    OWNER_RE,
    PERSON_NAME_RE,
    PII_NAME_RE,
)

EMAIL_RE = r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$"
PHONE_RE = r"^\+?[\d\s().\-/]{7,20}$"
DATE_SHAPE = r"\d{1,4}[-./]\d{1,2}[-./]\d{1,4}"  # a number alone is never guessed a date
DAY_FIRST_SHAPE = r"^(\d{1,2})[./-](\d{1,2})[./-]\d{2,4}"
DOTTED_SHAPE = r"^\d{1,2}\.\d{1,2}\.\d{2,4}"  # 31.01.2026: day first wherever dots are used
DATE_SHARE = 0.9  # of filled values that read as dates (the rest are bad rows to the reader)
NUMBER_SHARE = 0.95


@dataclass
class Col:
    name: str
    kind: str  # id, email, phone, pii, date, flag, numeric, categorical, empty, text
    why: str
    dayfirst: bool = False


def number_share(s: pd.Series) -> float:
    """Share of values the io rule reads as numbers (thousands commas dropped, as train does)."""
    return float((~to_numbers(s)[1]).mean())


def date_share(s: pd.Series) -> tuple[float, bool]:
    """Share of values the io rule reads as dates (1970-2200), and whether they are day first.

    Only values shaped like dates count, so a column of plain numbers is never a date column."""
    if s.str.contains(DATE_SHAPE, regex=True).mean() < DATE_SHARE:
        return 0.0, False
    m = s.str.extract(DAY_FIRST_SHAPE)
    dayfirst = bool((pd.to_numeric(m[0], errors="coerce") > 12).any()) or bool(
        s.str.match(DOTTED_SHAPE).mean() > 0.5
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bad = to_datetimes(s, dayfirst)[1]
    return float((~bad).mean()), dayfirst


def is_flag(s: pd.Series) -> bool:
    """Every value is a yes/no the io rule reads, and not all are numbers (0/1 stays numeric)."""
    return not to_flags(s)[1].any() and bool(to_numbers(s)[1].any())


def examples(s: pd.Series, k: int = 3) -> str:
    """The most frequent values, quoted and cut short, for a reason the reviewer reads."""
    vc = s.value_counts().head(k)
    return ", ".join(repr(str(v)[:25]) for v in vc.index)


def classify(df: pd.DataFrame) -> dict[str, Col]:
    """Each column's kind, tested in an order where the costly mistakes come first: PII and
    dates before ids, ids before numbers, so an email or a phone is never used as a feature."""
    whole = df.attrs.get("distinct", {})  # distinct values in the whole file (sample.py)
    return {
        c: _classify_column(c, df[c].dropna().astype(str), len(df), whole.get(c, -1))
        for c in df.columns
    }


def _classify_column(c: str, s: pd.Series, n: int, whole_nun: int | None = -1) -> Col:
    """`whole_nun`: distinct values in the whole file (None: many; -1: not known)."""
    if s.empty:
        return Col(c, "empty", "empty in the sample")
    nun = s.nunique()
    if (nun if whole_nun == -1 else whole_nun) == 1 and len(s) >= 20:
        where = "in the whole file" if whole_nun == 1 else ""
        # the reason's kind tags the claim `validate` checks against the whole file
        why = f"{CONSTANT_REASON} one value ({s.iloc[0][:25]!r}) in every filled row {where}"
        return Col(c, "empty", why.strip())
    if s.str.match(EMAIL_RE).mean() > 0.5:
        return Col(c, "email", "PII: holds email addresses")
    share, dayfirst = date_share(s)
    if share >= DATE_SHARE:
        return Col(c, "date", f"parses as dates (e.g. {s.iloc[0]!r})", dayfirst)
    yes_no = not to_flags(s)[1].any()
    personal = _personal(c, s, nun, yes_no)
    if personal:
        return Col(c, "pii", personal)
    if is_flag(s):
        return Col(c, "flag", f"yes/no values ({examples(s)}) -> 1/0")
    unique = nun == len(s) and len(s) >= 20
    numeric = number_share(s) >= NUMBER_SHARE
    if unique and (not numeric or ID_NAME_RE.search(c) or s.str.fullmatch(r"\d+").all()):
        return Col(c, "id", f"unique in all {len(s):,} filled rows")
    if numeric:
        return Col(c, "numeric", f"numbers (e.g. {examples(s)})")
    if nun > 200 and nun / len(s) > 0.5:
        return Col(c, "text", f"free text or an id ({nun:,} distinct values in {n:,} rows)")
    return Col(c, "categorical", f"{nun} values (e.g. {examples(s)})")


def _personal(c: str, s: pd.Series, nun: int, yes_no: bool) -> str | None:
    """Why a column is personal data (a name, a phone, a salesperson), or None."""
    if PII_NAME_RE.search(c) and not yes_no:
        return "PII: the name suggests personal data (name, phone, address)"
    if PERSON_NAME_RE.search(c) and nun > 50 and nun / len(s) > 0.5:
        return "PII or an id: names, mostly distinct"
    if OWNER_RE.search(c):
        return "a salesperson: a person's name, often assigned after the fact"
    if s.str.match(PHONE_RE).mean() > 0.8 and s.str.contains(r"[+\s()\-]").mean() > 0.5:
        return "PII: looks like phone numbers"
    return None


def outcome_word(v: str) -> str | None:
    """'won', 'lost' or None for one outcome value ('Closed - Not Converted' is lost).

    A yes/no value reads as the flag rule reads it ('Yes', 'true', '1.0' won; 'No', '0' lost)."""
    low = str(v).strip().lower()
    if low in YES:
        return "won"
    if low in NO:
        return "lost"
    t = re.sub(r"[^a-z0-9]", "", low)
    if re.match(r"open|working|new|inprogress|nurtur|pending|appointment|qualif", t):
        return None  # still open: 'Open - Not Contacted' is not a lost lead
    if re.search(r"not|lost|disqualif|unqualif|reject|churn|unsuccess|junk|dead|declin", t):
        return "lost"
    if re.search(r"won|convert|customer|success|^win|sale|signed", t):
        return "won"
    return None


def decimal_comma(df: pd.DataFrame) -> str | None:
    """',' when a column of numbers is written with decimal commas (0,5 or 1.234,5), as the io
    rule decides it over the column: `init` then drafts data.decimal so train reads it so."""
    for c in df.columns:
        s = df[c].dropna()
        if len(s) and number_share(s) >= NUMBER_SHARE and number_convention(s) == ",":
            return ","
    return None
