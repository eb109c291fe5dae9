"""Per-lead reasons in the words of sales, phrased from the feature that carries the field.

A business field (one activity type, all activity, lead age, email domain, one raw column) is made
of several model features; its SHAP value is their sum. Which of them carries most of it decides
what is worth saying: if the 7-day count moved the score, the reason talks about the last 7 days;
if the days since the last event did and they are many, it says "no pricing-page visit for 45
days"; a missing event reads "no demo request yet". Everything is vectorised per field over the
rows where that field is among the top k, so a million leads cost a few numpy passes, not a Python
loop per lead.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from pipeline.explain.fields import CONTEXT_FIELD, field_matrix, with_context
from pipeline.features.builder import ACTIVITY_FIELD, AGE_FIELD, EMAIL_FIELD, WINDOWS
from pipeline.words import column_label, is_hash_like, readable_value, unlisted_id, value_labels

# activity type -> (one event as a deed, noun, plural noun, what it reads when absent)
ACTIVITY_PHRASES = {
    "email_open": ("opened an email", "email open", "email opens", "no email opened yet"),
    "email_click": ("clicked an email", "email click", "email clicks", "no email click yet"),
    "web_visit": ("visited the website", "website visit", "website visits", "no website visit yet"),
    "pricing_page_visit": (
        "visited the pricing page",
        "pricing-page visit",
        "pricing-page visits",
        "no pricing-page visit yet",
    ),
    "whitepaper_download": (
        "downloaded content",
        "content download",
        "content downloads",
        "no content downloaded yet",
    ),
    "webinar_attended": ("attended a webinar", "webinar", "webinars", "no webinar attended yet"),
    "newsletter_signup": (
        "signed up for the newsletter",
        "newsletter signup",
        "newsletter signups",
        "no newsletter signup",
    ),
    "free_trial": ("started a free trial", "free trial", "free trials", "no free trial yet"),
    "contact_form": (
        "filled in the contact form",
        "contact form",
        "contact forms",
        "no contact form yet",
    ),
    "demo_request": ("requested a demo", "demo request", "demo requests", "no demo request yet"),
    "social_engagement": (
        "engaged on social media",
        "social engagement",
        "social engagements",
        "no social engagement yet",
    ),
    "unsubscribe": (
        "unsubscribed from emails",
        "unsubscribe",
        "unsubscribes",
        "never unsubscribed",
    ),
}
# raw column -> template for its value; other columns read "<column> <value>"
VALUE_PHRASES = {
    "industry": "{} industry",
    "company_size": "company size {}",
    "job_role": "role: {}",
    "country": "based in {}",
    "source_channel": "came in via {}",
    "annual_ad_budget": "annual ad budget {}",
    "employees": "{} employees",
}
CONTEXT_WORDS = "market conditions at the time"  # the period's columns, said once
SPARE_FIELDS = 3  # fields phrased beyond k, so a reason left out has a next-best to take its place
STALE_DAYS = 14  # recency this old that lowers the score reads "no X for N days"
NEGATIVE_EVENT_WORDS = ("unsub", "opt_out", "optout", "bounce", "spam", "complaint")


def activity_phrases(t: str) -> tuple[str, str, str, str]:
    """Phrases of an activity type; types of a user's own export get generic ones."""
    if t in ACTIVITY_PHRASES:
        return ACTIVITY_PHRASES[t]
    label = t.replace("_", " ")
    return (f"{label} event", f"{label} event", f"{label} events", f"no {label} event yet")


def _s(v: np.ndarray | pd.Series) -> np.ndarray:
    """Whole numbers as strings, vectorised."""
    return np.asarray(v, dtype=float).round().astype(np.int64).astype(str).astype(object)


def _ago(d: np.ndarray) -> np.ndarray:
    r = np.nan_to_num(np.asarray(d, dtype=float)).round()
    return np.where(r < 1, "today", np.where(r == 1, "1 day ago", _s(r) + " days ago")).astype(
        object
    )


def _count(n: np.ndarray, one: str, many: str) -> np.ndarray:
    return np.where(n == 1, "1 " + one, _s(n) + " " + many).astype(object)


def _dominant(c: np.ndarray) -> np.ndarray:
    """Index of the feature that carries most of each row's field contribution."""
    return np.abs(c).argmax(axis=1) if c.shape[1] else np.zeros(len(c), int)


def _activity(
    field: str, X: pd.DataFrame, c: np.ndarray, total: np.ndarray, has_time: bool
) -> np.ndarray:
    """Phrases of one activity type (or of all activity) for the rows of X.

    `c` holds the rows' contributions of the field's features in the order count, count_7d,
    count_30d, days_since_last (count only without dates).
    """
    is_all = field == ACTIVITY_FIELD
    prefix = "activity" if is_all else field
    n = X[f"{prefix}_count"].fillna(0).to_numpy(float)
    if is_all:
        deed, one, many, absent = "was active", "activity", "activities", "no activity yet"
    else:
        deed, one, many, absent = activity_phrases(field)
    bad_news = any(w in field for w in NEGATIVE_EVENT_WORDS)
    # "[+] no demo request yet" is no reason to call: an absence that raises a score is left out
    absent = np.where((total > 0) & (not bad_news), None, absent)
    if not has_time:
        return np.where(n == 0, absent, np.where(n == 1, deed, _count(n, one, many))).astype(object)
    d = X[f"{prefix}_days_since_last"].to_numpy(float)
    ago = _ago(d)
    if is_all:
        recent = "last active " + ago
        overall = _count(n, one, many) + " so far, last one " + ago
    else:
        recent = np.where(n == 1, deed + " " + ago, _count(n, one, many) + ", last one " + ago)
        overall = recent
    stale = ("no activity" if is_all else "no " + one) + " for " + _s(np.nan_to_num(d)) + " days"
    choices = [overall]
    for w in WINDOWS:
        nw = X[f"{prefix}_count_{w}d"].fillna(0).to_numpy(float)
        in_w = _count(nw, one, many) + f" in the last {w} days"
        if not is_all:  # one recent event: the exact day says more than the window
            in_w = np.where(nw == 1, deed + " " + ago, in_w)
        none_w = ("no activity" if is_all else "no " + one) + f" in the last {w} days"
        choices.append(np.where(nw > 0, in_w, none_w))
    # a long silence reads "no X for N days", unless X is itself bad news (an unsubscribe)
    is_stale = (np.nan_to_num(d) >= STALE_DAYS) & (total < 0) & (not bad_news)
    choices.append(np.where(is_stale, stale, recent))
    choices += [recent] * (c.shape[1] - len(choices))  # decayed counts: how recent it was
    dom = _dominant(c)
    txt = np.choose(dom, [np.asarray(ch, dtype=object) for ch in choices])
    return np.where(n == 0, absent, txt).astype(object)


def _number(v: pd.Series) -> pd.Series:
    return v.map(lambda x: f"{x:,.0f}" if abs(x) >= 100 else f"{x:g}", na_action="ignore")


def _words(field: str) -> set[str]:
    return set(re.findall(r"[a-z]+", re.sub(r"(?<=[a-z])(?=[A-Z])", " ", field).lower()))


CONTACT_UNITS = {"call": "call", "calls": "call", "touches": "touch", "touchpoints": "touch"}
CONTACT_COUNT_WORDS = {"contact", "contacts", "attempts", *CONTACT_UNITS}
NEVER_DAYS = 999  # "days since the last contact" exports write 999 for "never contacted"


def _contact_phrase(w: set[str]) -> tuple[str, str, str] | None:
    """Contact history: "7 contacts in this campaign", "2 calls before this campaign", "12 days
    since the last contact" (a bank-marketing style `campaign`, `previous`, `pdays`)."""
    if "pdays" in w or ({"days", "day"} & w and "since" in w):
        return (
            "last contact today",
            "{} day since the last contact",
            "{} days since the last contact",
        )
    if not (CONTACT_COUNT_WORDS & w or w in ({"campaign"}, {"previous"})):
        return None
    unit = next((CONTACT_UNITS[x] for x in sorted(w) if x in CONTACT_UNITS), "contact")
    many = "touches" if unit == "touch" else unit + "s"
    when = " before this campaign" if {"previous", "prev", "before"} & w else ""
    when = when or (" in this campaign" if "campaign" in w else "")
    return f"no {many}{when}", f"{{}} {unit}{when}", f"{{}} {many}{when}"


def count_phrase(field: str) -> tuple[str, str, str] | None:
    """(none, one, many) templates for a behaviour count whose unit the name tells: "2 site visits",
    "1,532 seconds on the website". None when the name does not say what is counted."""
    w = _words(field)
    if "per" in w and {"view", "views"} & w:
        return "no page views", "{} page view per visit", "{} page views per visit"
    if "time" in w and {"website", "site", "web"} & w:
        unit = "minute" if {"minutes", "mins", "min"} & w else "second"
        return (
            "no time on the website",
            f"{{}} {unit} on the website",
            f"{{}} {unit}s on the website",
        )
    if {"visit", "visits"} & w:
        return "no site visits", "{} site visit", "{} site visits"
    if {"views", "pageviews"} & w:
        return "no page views", "{} page view", "{} page views"
    return _contact_phrase(w)


def _plain_number(
    field: str, v: pd.Series, s: pd.Series, tpl: tuple[str, str, str] | None, total: np.ndarray
) -> pd.Series:
    """A number of a plain column: with its unit where the name tells it, else "campaign: 3";
    0 and 1 in words, so a reason never reads as a raw 0/1 flag. Website time over 120 seconds
    reads in minutes; an absence that raises the score is left out (None): it is no reason to act."""
    x = v.to_numpy(float)
    if tpl is not None:
        none, one, many = tpl
        many_txt = s.map(lambda t: many.format(t), na_action="ignore")
        if "second on the website" in one:
            mins = pd.Series(np.round(x / 60), index=v.index).map("{:,.0f} minutes".format)
            many_txt = many_txt.where(~(x > 120), mins + " on the website")
        if "since the last contact" in many:
            many_txt = many_txt.where(~(x >= NEVER_DAYS), "not contacted before")
        gone = None if "last contact" in none else pd.Series(np.where(total > 0, None, none))
        out = many_txt.where(x != 1, one.format(1))
        return out.where(x != 0, none if gone is None else gone.set_axis(v.index))
    small = np.where(x == 0, "none", np.where(x == 1, "one", s.fillna("").to_numpy(object)))
    return pd.Series(field + ": " + small, index=v.index).where(v.notna())


def _value_words(column: str, s: pd.Series, labels: dict | None) -> pd.Series:
    """A category's words: its `schema.labels` value, else 'basic.6y' read as 'basic 6 years', and
    a machine id without a label as what it is an id of, never the id itself."""
    named, name = value_labels(labels, column), column_label(labels, column)

    def said(t: str) -> str:
        return named.get(t) or (unlisted_id(name) if is_hash_like(t) else readable_value(t))

    # each distinct value phrased once, then spread over the rows (a chunk has few distinct ones)
    codes, uniq = pd.factorize(s)
    words = np.array([said(t) for t in uniq] + [None], dtype=object)
    return pd.Series(words[codes], index=s.index, dtype="string")


def _plain_value(
    field: str, v: pd.Series, s: pd.Series, flag: bool, known: set[str] | None
) -> pd.Series:
    """A plain column of the user's own export: "Lead Quality: Might be", "Do Not Email: yes";
    a value the model lumps with the rare ones reads as it does: "other Lead Source"."""
    if flag:
        x = v.astype(float).to_numpy()
        return pd.Series(np.where(x >= 0.5, field + ": yes", field + ": no"), index=v.index).where(
            v.notna()
        )
    base = re.sub(r"\s+(id|key|code)$", "", field, flags=re.I).lower()
    says_field = s.str.lower().str.startswith(base).fillna(False)  # "landing page #1"
    txt = (field + ": " + s).where(~says_field, s)
    if known is not None:
        txt = txt.where(v.isna() | v.astype("string").isin(known), "other " + field)
    return txt


def _value(
    field: str,
    v: pd.Series,
    flag: bool = False,
    known: set[str] | None = None,
    labels: dict | None = None,
    total: np.ndarray | None = None,
) -> np.ndarray:
    """A raw column's value in words: "Director-level role", "company size 201-1000",
    "Do Not Email: yes", "2 site visits", "Specialization not given"."""
    label = column_label(labels, field)
    numeric = pd.api.types.is_numeric_dtype(v)
    if numeric:
        s = _number(v).astype("string")
    else:  # an input value embedded in a reason must not smuggle a formula into the output csv
        s = _value_words(field, v.astype("string"), labels).str.lstrip("=+-@\t\r ")
    if field == "employees":
        txt = s + np.where(v.to_numpy(float) == 1, " employee", " employees")
    elif field == "seniority":
        has_level = s.str.contains("level", case=False, regex=False).fillna(False)
        txt = s.where(has_level, s + "-level") + " role"
    elif field in VALUE_PHRASES:
        head, _, tail = VALUE_PHRASES[field].partition("{}")
        txt = head + s + tail
        if known is not None:
            txt = txt.where(v.isna() | v.astype("string").isin(known), "other " + label)
    elif numeric and not flag:
        tpl = count_phrase(field) or count_phrase(label)
        total = np.zeros(len(v)) if total is None else total
        txt = _plain_number(label, v, s, tpl, total)
    else:
        txt = _plain_value(label, v, s, flag, known)
    unknown = "employee count not given" if field == "employees" else f"{label} not given"
    out = pd.Series(txt, index=v.index, dtype=object).where(v.notna(), unknown)
    return np.where(out.isna(), None, out).astype(object)  # None: left out


def phrase(
    field: str,
    X: pd.DataFrame,
    c: np.ndarray,
    total: np.ndarray,
    has_time: bool,
    flags: set[str] | None = None,
    categories: dict[str, set[str]] | None = None,
    labels: dict | None = None,
    memo: dict | None = None,
) -> np.ndarray:
    """Plain words (no sign) for one field on the rows of X; `c` = its features' SHAP values.

    `flags`: columns that read yes/no; `categories`: per categorical column the values the model
    tells apart (any other value reads "other <column>", as the model treats it); `labels`:
    `schema.labels` (column and value -> words); `memo`: a category's words already phrased with
    these flags, categories and labels (a scorer keeps one). None where nothing is worth saying
    (an absence that raises the score). The `schema.context` columns, one field, read as the
    market conditions at the time."""
    if field == CONTEXT_FIELD:
        return np.full(len(X), CONTEXT_WORDS, dtype=object)
    text = _field_words(field, X, c, total, has_time, flags, categories, labels, memo)
    return _without_absences(field, X, text, total)


def said_words(
    field: str,
    X: pd.DataFrame,
    c: np.ndarray,
    total: np.ndarray,
    has_time: bool,
    flags: set[str] | None = None,
    categories: dict[str, set[str]] | None = None,
    labels: dict | None = None,
    memo: dict | None = None,
) -> np.ndarray:
    """`phrase`, and None also where the field moved nothing (a part of exactly 0: a column the
    model does not use, such as context left out by training.context): what a reason and a
    waterfall bar say of a field, decided in one place."""
    text = phrase(field, X, c, total, has_time, flags, categories, labels, memo)
    return np.where(np.asarray(total) != 0, text, None).astype(object)


def _without_absences(
    field: str, X: pd.DataFrame, text: np.ndarray, total: np.ndarray
) -> np.ndarray:
    """None where a missing value raised the score: "[+] origin not given" tells nobody what to
    do, categorical or numeric alike (an activity's "no demo request yet" is decided in
    `_activity`, which knows bad-news events)."""
    column = {AGE_FIELD: "lead_age_days", EMAIL_FIELD: "personal_email"}.get(field, field)
    if column not in X.columns:
        return text
    gone = X[column].isna().to_numpy() & (np.asarray(total, dtype=float) >= 0)  # sign "+"
    return np.where(gone, None, text).astype(object) if gone.any() else text


def _field_words(
    field: str,
    X: pd.DataFrame,
    c: np.ndarray,
    total: np.ndarray,
    has_time: bool,
    flags: set[str] | None,
    categories: dict[str, set[str]] | None,
    labels: dict | None,
    memo: dict | None,
) -> np.ndarray:
    """`phrase` of one field other than the market conditions, absences included."""
    if field == AGE_FIELD:
        d = X["lead_age_days"].to_numpy(float)
        return np.where(
            np.isnan(d),
            "lead age unknown",
            np.where(d < 1, "new lead, created today", "lead created " + _ago(d)),
        ).astype(object)
    if field == EMAIL_FIELD:
        v = X["personal_email"].to_numpy(float)
        return np.where(
            v == 1,
            "personal email domain",
            np.where(v == 0, "business email domain", "no email address"),
        ).astype(object)
    prefix = "activity" if field == ACTIVITY_FIELD else field
    if f"{prefix}_count" in X.columns:
        return _activity(field, X, c, total, has_time)
    known = (categories or {}).get(field)
    v, flag = X[field], field in (flags or set())
    if memo is not None and not pd.api.types.is_numeric_dtype(v):
        return _remembered(memo, field, v, lambda u: _value(field, u, flag, known, labels))
    return _value(field, v, flag, known, labels, total)


MEMO_CAP = 100_000  # category phrases kept per scorer; past it the memo starts again
_MISSING = object()


def _remembered(memo: dict, field: str, v: pd.Series, words) -> np.ndarray:
    """A category's words, each distinct value phrased once per scorer: they depend on the value
    and the model's words only, and a one-lead request would otherwise pay pandas for each.
    `words` phrases a Series of values; reads and writes of `memo` are single dict operations, so
    server threads sharing a scorer at worst phrase a value twice."""
    codes, uniq = pd.factorize(v)
    keys = [(field, u) for u in uniq.tolist()] + [(field, None)]  # the last: missing (code -1)
    got = [memo.get(k, _MISSING) for k in keys]
    todo = [i for i, g in enumerate(got) if g is _MISSING]
    if todo:
        fresh = words(pd.Series([keys[i][1] for i in todo], dtype=v.dtype))
        if len(memo) > MEMO_CAP:
            memo.clear()
        for i, w in zip(todo, fresh, strict=True):
            got[i] = memo[keys[i]] = w
    return np.array(got, dtype=object)[codes]


def reason_table(
    contrib: np.ndarray,
    feature_fields: dict[str, str],
    X: pd.DataFrame,
    k: int,
    has_time: bool,
    flags: set[str] | None = None,
    categories: dict[str, set[str]] | None = None,
    labels: dict | None = None,
    memo: dict | None = None,
    context: object = (),
) -> pd.DataFrame:
    """reason_1..reason_k: the k fields that moved each lead most, as "[+] ..." / "[-] ..." phrases
    (a sign no spreadsheet reads as a formula).

    `contrib` holds per-feature SHAP values in the order of `feature_fields` (the columns of X).
    Slots beyond the number of fields stay empty. A reason left out (an absence that raised the
    score) gives its slot to the next field by size: SPARE_FIELDS more fields are phrased, so
    the k slots are filled whenever that many fields have something to say. `context`: the
    `schema.context` columns, one field said once as the market conditions at the time.
    """
    feature_fields = with_context(feature_fields, context)
    fields, m = field_matrix(feature_fields)
    fc = contrib @ m
    names = list(feature_fields)
    width = min(k + SPARE_FIELDS, len(fields))
    order = top_fields(fc, width)
    out = np.full((len(X), max(width, k)), None, dtype=object)
    for j, field in enumerate(fields):
        hit = order == j
        rows = np.flatnonzero(hit.any(axis=1))
        if not len(rows):
            continue
        cols = [i for i, nm in enumerate(names) if feature_fields[nm] == field]
        total = fc[rows, j]
        c = contrib[np.ix_(rows, cols)]
        Xf = _field_columns(X, field, [names[i] for i in cols]).iloc[rows]
        text = said_words(field, Xf, c, total, has_time, flags, categories, labels, memo)
        sign = np.where(total >= 0, "[+] ", "[-] ").astype(object)
        said = text != None  # noqa: E711 - elementwise: None is a reason left out
        signed = np.full(len(text), None, dtype=object)
        signed[said] = sign[said] + text[said]
        slot = hit[rows].argmax(axis=1)
        out[rows, slot] = signed
    out = np.take_along_axis(out, np.argsort(out == None, axis=1, kind="stable"), axis=1)  # noqa: E711
    out = out[:, :k]
    return pd.DataFrame(out, index=X.index, columns=[f"reason_{i + 1}" for i in range(k)])


def field_phrases(
    contrib: np.ndarray,
    feature_fields: dict[str, str],
    X: pd.DataFrame,
    has_time: bool,
    flags: set[str] | None = None,
    categories: dict[str, set[str]] | None = None,
    labels: dict | None = None,
    memo: dict | None = None,
    context: object = (),
) -> dict[str, str | None]:
    """Every field's words (no sign) for the first row of X, keyed by field, whatever its rank:
    what a per-field figure labels a bar with. The same `phrase` as the reasons; None where a
    reason would say nothing (an absence that raised the score, a field that moved nothing)."""
    ff = with_context(feature_fields, context)
    fields, m = field_matrix(ff)
    fc = contrib[:1] @ m
    names = list(ff)
    out: dict[str, str | None] = {}
    for j, field in enumerate(fields):
        cols = [i for i, nm in enumerate(names) if ff[nm] == field]
        Xf = _field_columns(X.iloc[:1], field, [names[i] for i in cols])
        total = fc[:, j]
        c = contrib[:1, cols]
        out[field] = said_words(field, Xf, c, total, has_time, flags, categories, labels, memo)[0]
    return out


def top_fields(fc: np.ndarray, k: int) -> np.ndarray:
    """Per row, the k fields of largest |contribution|, largest first, ties to the earlier field:
    what a stable argsort of -|fc| gives, in k passes of argmax (which returns the first largest)
    instead of sorting every field of every row. NaN parts rank last, as the sort puts them."""
    a = np.abs(fc)
    a[np.isnan(a)] = -1.0  # below every real |part|; a NaN row's fields keep their order
    order = np.zeros((len(a), k), dtype=np.intp)
    rows = np.arange(len(a))
    for j in range(k):
        order[:, j] = top = a.argmax(axis=1)
        a[rows, top] = -np.inf
    return order


def _field_columns(X: pd.DataFrame, field: str, own: list[str]) -> pd.DataFrame:
    """The columns `phrase` reads for `field`: its own features (taking the rows of a few columns
    instead of all of them); all of X if a `<field>_count` column belongs to another field."""
    probe = f"{'activity' if field == ACTIVITY_FIELD else field}_count"
    if probe in X.columns and probe not in own:
        return X
    return X[own]
