"""`leadscore init`: draft a config from an export's header and a sample of its rows.

A user's first hour is spent mapping column names; most of that can be guessed from the data
(an id column is unique, an email column holds addresses, a date column parses as dates, a
"Converted" column holds 0/1). Every guess is written into the YAML with a comment saying why, so
the user reviews a draft instead of writing a config from nothing. PII-looking columns are put in
`schema.drop`; columns that look filled after the outcome (leakage suspects, found with the same
check `leadscore validate` runs) are dropped too, with their evidence.

Two steps: `guess_config` reads samples (`sample`), classifies their columns (`columns`) and
returns every guess with its reason as a `guesses.Draft`; `render.render_yaml` writes that as
commented YAML. `draft_config` does both.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.config import Config
from pipeline.errors import DataError
from pipeline.io.compressed import inner_name
from pipeline.io.readers import file_kind
from pipeline.io.rules import normalize_ids, to_flags, to_numbers
from pipeline.onboarding.columns import Col, classify, decimal_comma, examples, outcome_word
from pipeline.onboarding.context import context_columns
from pipeline.onboarding.guesses import (
    ActivityGuess,
    Choice,
    DataGuess,
    Draft,
    OutcomeGuess,
    SqlGuess,
)
from pipeline.onboarding.labels import labels_for
from pipeline.onboarding.order import ROW_NUMBER, time_order_evidence
from pipeline.onboarding.render import render_yaml
from pipeline.onboarding.sample import Table, read_sample
from pipeline.onboarding.wholefile import rows_note, whole_base_rate
from pipeline.validation.leakage import leakage_suspects, suspect_evidence
from pipeline.validation.vocabulary import (
    ACTIVITY_TYPE_NAME_RE,
    CLOSED_RE,
    CREATED_RE,
    ID_NAME_RE,
    OUTCOME_NAME_RE,
    OUTCOME_NAMES,
    TIMESTAMP_NAME_RE,
    is_contact_history,
    is_engagement,
)


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


def _id_set(ids: pd.Series) -> set[str]:
    """A column's ids by the one id rule (`normalize_ids`), as every run matches them."""
    return set(normalize_ids(ids).dropna().astype(str))


def _overlap(t: Table, ids: set[str]) -> str | None:
    best, share = None, 0.0
    for c in t.df.columns:
        vals = normalize_ids(t.df[c]).dropna().astype(str)  # ids as every run matches them
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
    for c in nums:  # read as train will read them: the io rules, bad values missing
        frame[c] = to_numbers(t.df[c])[0]
    for c in flags:
        frame[c] = to_flags(t.df[c])[0]
    frame["_label"] = np.nan if label is None else label.to_numpy()
    lab = frame["_label"]
    if (lab == 1).sum() < 5 or (lab == 0).sum() < 5:
        frame["_label"] = np.nan  # too few outcomes to judge by the data: names only
    cfg = Config.model_validate({"schema": {"categorical": cats, "numeric": nums, "flags": flags}})
    return suspect_evidence(leakage_suspects(frame, cfg, flat=flat))


def _guess_engagement(features: dict[str, list[Choice]]) -> list[Choice]:
    """Columns whose name says behaviour (visits, page views, time spent, opens, clicks): on a
    flat export they are the engagement side of the score, as activity counts are on an event log."""
    return [
        Choice(ch.column, "the name says what the lead did (behaviour)")
        for kind in ("numeric", "flag", "categorical")
        for ch in features[kind]
        if is_engagement(ch.column) or (kind == "numeric" and is_contact_history(ch.column))
    ]


DATE_DROP = "a date: not used as a feature (it may be filled after the outcome)"


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
    """A shell one-liner that writes a copy of the export with a `row_number` id first (named so:
    `order.py` knows it says nothing about the rows' time order)."""
    out = t.path.with_name(f"{t.path.stem}-with-id{t.path.suffix}")
    if file_kind(t.path) == "parquet":
        read, write = f"pd.read_parquet('{t.path}')", f"d.to_parquet('{out}', index=False)"
    else:
        read = f"pd.read_csv('{t.path}', sep='{t.sep}', dtype=str, keep_default_na=False)"
        write = f"d.to_csv('{out}', sep='{t.sep}', index=False)"
    return (
        f'python -c "import pandas as pd; d = {read}; '
        f"d.insert(0, '{ROW_NUMBER}', range(1, len(d) + 1)); {write}\""
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
        out_id = _overlap(outcomes_table, _id_set(leads_table.df[lead_id]))
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
            (c, examples(table.df[c], 8))
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
    out = outcomes_table.df.assign(
        **{outcome.lead_id: normalize_ids(outcomes_table.df[outcome.lead_id])}
    )
    by_id = out.drop_duplicates(outcome.lead_id).set_index(outcome.lead_id)
    ids = normalize_ids(leads_table.df[lead_id]).astype(str)
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
    timestamp = next((c for c in dates if TIMESTAMP_NAME_RE.search(c)), None)
    timestamp = timestamp or (dates[0] if dates else None)
    types = [
        c
        for c in _of_kind(columns, "categorical")
        if c not in {a_id, timestamp} and df[c].nunique() > 1
    ]
    # a name that says type wins; else the fewest values (a type has few, a subject line many)
    types.sort(
        key=lambda c: (
            0 if ACTIVITY_TYPE_NAME_RE.search(c) else 1,
            df[c].nunique(),
        )
    )
    a_type = types[0] if types else None
    type_examples = examples(df[a_type]) if a_type else ""
    notes = []
    if a_id is None:
        notes.append(
            f"{activities_table.path}: no column shares ids with '{lead_id}': "
            "set schema.activity.lead_id"
        )
    dayfirst = any(columns[c].dayfirst for c in dates)
    return ActivityGuess(a_id, timestamp, a_type, type_examples), dayfirst, notes


def _guess_sql(label: pd.Series | None, whole: float | None = None) -> SqlGuess | None:
    """Halfway between the win rate and 1 (within 0.5..0.9): SQLs should win clearly more often.
    `whole`: the whole file's win rate, when counted (else the sample's)."""
    closed = label.dropna() if label is not None else pd.Series(dtype=float)
    if not len(closed):
        return None
    base = float(closed.mean()) if whole is None else whole
    return SqlGuess(round(min(0.9, max(0.5, base + (1 - base) / 2)), 2), base)


def _guess_data(
    leads_table: Table, activities_table: Table | None, outcomes_table: Table | None
) -> tuple[DataGuess, list[str]]:
    """How to read the files; data.sep and data.encoding are one for all files, hence the note."""
    tables = [t for t in (leads_table, activities_table, outcomes_table) if t is not None]
    seps = {t.sep for t in tables if file_kind(t.path) != "parquet"}
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
        sep_used=file_kind(leads_table.path) != "parquet",
        encoding="cp1252" if any(t.encoding == "cp1252" for t in tables) else "utf-8",
        missing_values=["", "NA", *(p for p in found if p != "NA")],
        placeholders={**leads_table.placeholders},
        decimal=decimal_comma(leads_table.df),
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
    lead_ids = _id_set(leads_table.df[lead_id])
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
        sql=_guess_sql(label, whole_base_rate(leads_table.facts, outcomes_table, outcome)),
        leakage_suspects=list(suspects),
        scores_output=f"data/scored/{_stem(leads_table.path).lower().replace(' ', '_')}-scores.csv",
    )
    draft.labels = labels_for(leads_table.df, draft)
    numeric = [c.column for c in draft.numeric]
    found = context_columns(leads_table.df, numeric, created, dayfirst)
    draft.context = [Choice(c, why) for c, why in found.items()]
    if created is None:  # an export without dates may still run oldest to newest
        skip = {outcome.column or "", *(d.column for d in draft.drop)}
        data.time_order = time_order_evidence(leads_table.df, lead_id, skip)
    draft.notes = _draft_notes(
        draft, (leads_table, activities_table, outcomes_table), activity_notes + data_notes
    )
    return draft


def _draft_notes(draft: Draft, tables: tuple, extra: list[str]) -> list[str]:
    """What the terminal says after a draft: the summary, each table's notes and rows read, and
    what the user must still decide by hand."""
    created = draft.created_at.column if draft.created_at else None
    notes = [
        _summary(draft),
        *(note for t in tables if t is not None for note in t.notes),
        *(rows_note(t.path, t.facts, created, draft.dayfirst) for t in tables if t is not None),
        *extra,
    ]
    if draft.outcome.column is None and tables[2] is None:
        notes.append("no outcome-like column found: set schema.outcome by hand")
    if draft.leakage_suspects:
        notes.append(f"leakage suspects dropped: {', '.join(draft.leakage_suspects)}")
    return notes


def draft_config(
    leads: str | Path, activities: str | Path | None = None, outcomes: str | Path | None = None
) -> tuple[str, list[str]]:
    """The YAML text of a drafted config and short notes for the terminal."""
    draft = guess_config(leads, activities, outcomes)
    return render_yaml(draft), draft.notes


def _stem(path: Path) -> str:
    """The export's name without its suffixes: `Leads.csv.gz` and `Leads.csv` are `Leads`."""
    return Path(inner_name(path)).stem
