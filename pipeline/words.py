"""Names a salesperson reads: a column's or a value's words, and the labels a config gives them.

One rule for three places: `leadscore init` drafts `schema.labels` with these guesses, the reasons
use the labels (or, for a column without one, the same guess), and the reports name fields the
same way. Pure string functions of one name or one value, no state: the reasons call them once
per distinct value.
"""

from __future__ import annotations

import re
from typing import Any

# whole words of column names that mean something longer (export abbreviations)
ABBREVIATIONS = {
    "nr": "number",
    "num": "number",
    "emp": "employment",
    "var": "variation",
    "cons": "consumer",
    "conf": "confidence",
    "idx": "index",
    "avg": "average",
    "pct": "percent",
    "perc": "percent",
    "amt": "amount",
    "qty": "quantity",
    "cnt": "count",
    "tot": "total",
    "dt": "date",
    "yr": "year",
    "yrs": "years",
    "mo": "month",
    "dow": "day of week",
    "prev": "previous",
    "org": "organisation",
    "dept": "department",
    "acct": "account",
    "mgmt": "management",
    "src": "source",
    "pdays": "days since previous contact",
    "poutcome": "previous outcome",
    "euribor3m": "3-month Euribor rate",
    "utm": "UTM",
    "url": "URL",
    "cpc": "cost per click",
}
_SPLIT = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])|[._\-\s/]+")
_YEARS = re.compile(r"^(\d+)y$")
_NUMBER = re.compile(r"^[-+]?\d[\d,]*(\.\d+)?$")
_HASH = re.compile(r"^(?=.*\d)(?=.*[a-zA-Z])[0-9a-zA-Z\-]{16,}$")


def readable_name(column: str) -> str:
    """'nr.employed' -> 'number employed', 'TotalVisits' -> 'total visits', 'job_role' -> 'job
    role', 'Lead Source' as it is: split dots, camelCase, snake_case, expand abbreviations."""
    if " " in str(column).strip() and not re.search(r"[._]", str(column)):
        return str(column).strip()  # 'Lead Quality': the export's own words already
    parts = [p for p in _SPLIT.split(str(column).strip()) if p]
    if len(parts) == 1 and parts[0].lower() not in ABBREVIATIONS:
        return parts[0]  # 'Specialization', 'job': already a word
    words = [
        ABBREVIATIONS.get(p.lower(), p if p.isupper() and len(p) > 1 else p.lower()) for p in parts
    ]
    return " ".join(words) or str(column)


def readable_value(value: str) -> str:
    """'basic.6y' -> 'basic 6 years', 'paid_search' -> 'paid search', 'admin.' -> 'admin'; other
    values as they are (a name such as 'Olark Chat' is already words)."""
    v = str(value).strip()
    if not re.search(r"[a-z0-9][._][a-z0-9]|[a-z]\.$", v, re.I) or " " in v or _NUMBER.match(v):
        return v  # a number such as '5099.1' keeps its decimal point
    parts = [p for p in re.split(r"[._]+", v) if p]
    return " ".join(_YEARS.sub(r"\1 years", p) for p in parts)


def is_hash_like(value: object) -> bool:
    """A long machine id (hex digest, uuid): 16+ letters and digits mixed, no spaces."""
    return isinstance(value, str) and bool(_HASH.match(value.strip()))


ID_WORDS = {"id", "ids", "key", "hash", "code", "uuid", "guid"}


def id_noun(column: str) -> str:
    """'landing_page_id' -> 'landing page': what one of a column's ids is."""
    words = readable_name(column).split()
    while words and words[-1].lower() in ID_WORDS:
        words.pop()
    return " ".join(words) or "value"


def unlisted_id(column: str) -> str:
    """The words of a machine id that `schema.labels` does not list (one first seen after
    `init`): never the id itself, which nobody can read aloud."""
    return f"{id_noun(column)} (an id not in schema.labels)"


def column_label(labels: dict[str, Any] | None, column: str) -> str:
    """The words of a column: its `schema.labels` entry (a string, or {name: ...}), else the guess."""
    entry = (labels or {}).get(column)
    if isinstance(entry, str) and entry.strip():
        return entry.strip()
    if isinstance(entry, dict) and entry.get("name"):
        return str(entry["name"])
    name = getattr(entry, "name", None)
    return str(name) if name else readable_name(column)


def value_labels(labels: dict[str, Any] | None, column: str) -> dict[str, str]:
    """value -> words of one column, from `schema.labels` ({name, values}); empty without."""
    entry = (labels or {}).get(column)
    if isinstance(entry, dict):
        return {str(k): str(v) for k, v in (entry.get("values") or {}).items()}
    return dict(getattr(entry, "values", None) or {})
