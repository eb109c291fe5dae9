"""Numbers and names as people read them: percentages without decimals that mean nothing, counts
with thousands separators, fields in business words instead of snake_case.

Used as Jinja2 filters by the HTML reports, so every page rounds the same way.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

from pipeline.explain.fields import CONTEXT_FIELD
from pipeline.explain.reasons import activity_phrases
from pipeline.features.builder import ACTIVITY_FIELD, AGE_FIELD, EMAIL_FIELD
from pipeline.words import column_label, is_hash_like, readable_value, unlisted_id, value_labels

FIELD_WORDS = {
    ACTIVITY_FIELD: "Activity of any kind",
    AGE_FIELD: "How long ago the lead came in",
    EMAIL_FIELD: "Business or personal email address",
}


def _missing(x: object) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def pct(x: object) -> str:
    """A share as a percentage: 0.1398 -> '14%', 0.0354 -> '3.5%', 0.0004 -> '<0.1%'."""
    if _missing(x):
        return "–"
    v = 100 * float(x)
    if v == 0:
        return "0%"
    if abs(v) < 0.1:
        return "<0.1%"
    return f"{v:.1f}%" if abs(v) < 10 else f"{v:.0f}%"


def points(x: object) -> str:
    """A change of probability in percentage points, sign first: 0.031 -> '+3.1 pts'."""
    if _missing(x):
        return "–"
    v = 100 * float(x)
    digits = 1 if abs(v) < 10 else 0
    return f"{v:+.{digits}f} pts"


def count(x: object) -> str:
    """A whole number with a thousands separator; small estimates keep one decimal."""
    if _missing(x):
        return "–"
    v = float(x)
    if v != round(v) and abs(v) < 10:
        return f"{v:.1f}"
    return f"{round(v):,}"


def num(x: object, digits: int = 2) -> str:
    """A score such as an AUC: two decimals are all a reader can use."""
    return "–" if _missing(x) else f"{float(x):.{digits}f}"


def times(x: object) -> str:
    """A ratio: 4.79 -> '4.8×'."""
    return "–" if _missing(x) else f"{float(x):.1f}×"


def field_label(field: str, labels: dict | None = None, context: object = ()) -> str:
    """A business field in words: 'demo_request' -> 'Demo requests', 'job_role' -> 'Job role',
    'nr.employed' -> its `schema.labels` name or the readable guess ('Number employed'); the
    `schema.context` columns, one field, as the market conditions with their names."""
    if field == CONTEXT_FIELD:
        names = ", ".join(column_label(labels, c) for c in context or ())
        return "Market conditions at the time" + (f" ({names})" if names else "")
    if field in FIELD_WORDS:
        return FIELD_WORDS[field]
    plural = activity_phrases(field)[2]
    if field.replace("_", " ") + " events" != plural:  # a known activity type
        return plural[0].upper() + plural[1:]
    words = column_label(labels, field).strip()
    return words[:1].upper() + words[1:]


def field_namer(schema: dict | None) -> Callable[[str], str]:
    """`field_label` bound to a model's schema (its `labels` and `context`): what figures drawn
    outside a report (MLflow artifacts, `explain --plot`) name their fields with."""
    sc = schema or {}
    labels, context = sc.get("labels") or {}, tuple(sc.get("context") or ())
    return lambda field: field_label(field, labels, context)


def value_label(value: object, column: str, labels: dict | None = None) -> str:
    """A column's value as the reasons say it: its `schema.labels` words, a machine id without one
    as what it is an id of, else 'basic.6y' read as 'basic 6 years'."""
    v = str(value)
    named = value_labels(labels, column).get(v)
    if named:
        return named
    return unlisted_id(column_label(labels, column)) if is_hash_like(v) else readable_value(v)


def rule_words(rule: str) -> str:
    """A cutoff rule in words: 'precision >= 0.5' -> 'chosen so at least 50% of SQLs convert'."""
    m = re.fullmatch(r"(precision|recall) >= ([\d.]+)", rule.strip())
    if m:
        share = pct(float(m.group(2)))
        if m.group(1) == "precision":
            return f"chosen so that at least {share} of SQLs convert"
        return f"chosen so that MQLs and SQLs keep at least {share} of the wins"
    m = re.fullmatch(r"capacity (\d+)/month", rule.strip())
    if m:
        return f"chosen to send sales about {int(m.group(1)):,} leads a month"
    return rule


LONG_DECIMAL = re.compile(r"\d+\.\d{4,}")


def tidy(text: object) -> str:
    """Free text from other stages (gate reasons) with 4+ decimals cut to 3: enough to compare
    two AUCs, not a wall of digits."""
    return LONG_DECIMAL.sub(lambda m: f"{float(m.group(0)):.3f}", str(text))


FILTERS = {
    "tidy": tidy,
    "rule_words": rule_words,
    "pct": pct,
    "points": points,
    "count": count,
    "num": num,
    "times": times,
    "field_label": field_label,
    "value_label": value_label,
}
