"""The drafted config as commented YAML text, from the guesses in `pipeline.onboarding.guesses.Draft`.

Written line by line rather than with a YAML library because the comments are the point: each
guess carries its reason on its own line, so a reviewer can check the draft without the data.
"""

from __future__ import annotations

import json

from pipeline.onboarding.guesses import ActivityGuess, Choice, DataGuess, Draft, SqlGuess
from pipeline.onboarding.labels import label_lines

GUESS = "# guess: "
HEADER = [
    "# Drafted by `leadscore init` from the whole export. Every '# guess' is a guess:",
    "# review it, then run `leadscore validate --config THIS_FILE`, `leadscore train`, `score`.",
]
FOOTER = [  # fixed lines around the guessed SQL target and the scores file
    "  mql: {recall: 0.8}      # MQL cutoff: MQLs keep 80% of future customers",
    "validation:",
    "  min_won: 100            # refuse to train below this many won leads",
    "  min_lost: 100",
    "scoring:",
]


def q(v: object) -> str:
    """A YAML scalar (JSON strings are valid YAML and quote everything that needs it)."""
    return json.dumps(v, ensure_ascii=False)


def _data_lines(data: DataGuess) -> list[str]:
    activities = q(str(data.activities)) if data.activities else "null"
    outcomes = q(str(data.outcomes)) if data.outcomes else "null"
    sep_note = "detected from the header" + ("" if data.sep_used else " (parquet: not used)")
    lines = [
        "data:",
        f"  leads: {q(str(data.leads))}",
        f"  activities: {activities}",
        f"  outcomes: {outcomes}",
        f"  sep: {q(data.sep)}  {GUESS}{sep_note}",
    ]
    if data.encoding != "utf-8":
        lines.append(f"  encoding: {data.encoding}  {GUESS}the file is not valid UTF-8")
    if data.decimal:
        lines.append(f"  decimal: {q(data.decimal)}  {GUESS}numbers have decimal commas (0,5)")
    seen = ", ".join(f"{k!r} x{v:,}" for k, v in data.placeholders.items())
    comment = (
        f"{GUESS}placeholders found in the sample: {seen}" if seen else "# strings meaning unknown"
    )
    lines.append(f"  missing_values: [{', '.join(q(v) for v in data.missing_values)}]  {comment}")
    if data.time_order:
        lines += [
            f"  {GUESS}the rows look oldest first: {data.time_order}.",
            "  # If the file really runs oldest to newest, uncomment the next line: the split is",
            "  # then out-of-time by position (the newest rows are the test), not random.",
            "  # rows_in_time_order: true",
        ]
    return lines


def _key_lines(draft: Draft) -> list[str]:
    lines = [f"  lead_id: {q(draft.lead_id.column)}  {GUESS}{draft.lead_id.why}"]
    if draft.created_at:
        lines.append(f"  created_at: {q(draft.created_at.column)}  {GUESS}{draft.created_at.why}")
    else:
        lines.append(
            "  created_at: null  # guess: no creation date found: the split will be "
            "stratified-random, not out-of-time"
        )
    if draft.dayfirst:
        lines.append(f"  dayfirst: true  {GUESS}dates are written day first (31.01.2026)")
    return lines


def _outcome_lines(draft: Draft) -> list[str]:
    """The outcome block; a failed guess still lists the likely columns so the fix is quick."""
    outcome, outcomes_file = draft.outcome, draft.data.outcomes
    lines = ["  outcome:"]
    if outcomes_file is not None and outcome.lead_id != draft.lead_id.column:
        lines.append(f"    lead_id: {q(outcome.lead_id)}  {GUESS}its values match the lead ids")
    if outcome.column:
        where = f"in {outcomes_file.name}" if outcomes_file is not None else "in the leads file"
        others = ", ".join(repr(o) for o in outcome.open_values[:5])
        extra = f"; other values ({others}) count as open" if outcome.open_values else ""
        lines += [
            f"    column: {q(outcome.column)}  {GUESS}outcome-like values {where}",
            f"    won: [{', '.join(q(v) for v in outcome.won)}]  {GUESS}values meaning converted",
            f"    lost: [{', '.join(q(v) for v in outcome.lost)}]  {GUESS}values meaning lost{extra}",
        ]
    elif outcomes_file is not None:
        lines += [
            f"    column: null  {GUESS}{outcomes_file.name} has no outcome column: it lists won leads",
            "    won: present   # a lead listed in data.outcomes is won",
            "    lost: absent   # every other lead is lost",
        ]
    else:
        lines.append("    column: CHANGE_ME  # guess failed: name the column that says won or lost")
        lines += [f"    # candidate {c!r}: values {ex}" for c, ex in outcome.candidates]
        lines += ['    won: ["won"]', '    lost: ["lost"]']
    if outcome.closed_at:
        lines.append(
            f"    closed_at: {q(outcome.closed_at)}  {GUESS}when the outcome was known "
            "(snapshots stop before it)"
        )
    if outcome.detail:
        more = " ..." if len(outcome.detail) > 6 else ""
        lines.append(f"    # {outcomes_file.name} also has {', '.join(outcome.detail[:6])}{more}:")
        lines.append("    # outcome detail known only after the deal, so never features")
    return lines


def _block(key: str, items: list[Choice], note: str) -> list[str]:
    """A list of columns, each with the reason it was put there.

    (Names typical of after-the-fact fields are not hinted here: `init` drops them with their
    evidence, by the same rule `validate` reports them with.)
    """
    if not items:
        return [f"  {key}: []"]
    return [f"  {key}:  {note}", *(f"    - {q(i.column)}  # {i.why}" for i in items)]


def _column_lines(draft: Draft) -> list[str]:
    lines = [
        *_block("categorical", draft.categorical, "# guess: text with few distinct values"),
        *_block("numeric", draft.numeric, "# guess: numbers"),
        *_block("flags", draft.flags, "# guess: Yes/No, Y/N, true/false columns, read as 1/0"),
        *_block(
            "engagement",
            draft.engagement,
            "# guess: behaviour columns: they make up engagement_score, the rest fit_score",
        ),
        *_block(
            "context",
            draft.context,
            "# guess: the period's columns (market conditions), said once in a lead's reasons",
        ),
    ]
    if draft.drop:
        lines.append("  drop:  # never used: PII, ids, dates, free text, leakage suspects")
        lines += [f"    - {q(d.column)}  # {d.why}" for d in draft.drop]
        lines.append("  drop_reasons:  # what init decided for each dropped column")
        lines += [f"    {q(d.column)}: {q(d.why)}" for d in draft.drop]
    else:
        lines.append("  drop: []")
    if draft.email:
        lines.append(
            f"  email: {q(draft.email)}  {GUESS}only business vs personal domain is derived from it"
        )
    return lines


def _activity_lines(activity: ActivityGuess | None) -> list[str]:
    if activity is None:
        return []
    lead_id = q(activity.lead_id) if activity.lead_id else "CHANGE_ME"
    timestamp = q(activity.timestamp) if activity.timestamp else "CHANGE_ME"
    kind = q(activity.type) if activity.type else "CHANGE_ME"
    examples = f" (e.g. {activity.type_examples})" if activity.type else ""
    return [
        "  activity:",
        f"    lead_id: {lead_id}  {GUESS}values match the lead ids",
        f"    timestamp: {timestamp}  {GUESS}a date/time column",
        f"    type: {kind}  {GUESS}activity types{examples}",
    ]


def _sql_line(sql: SqlGuess | None) -> str:
    if sql is None:
        return (
            "  sql: {precision: 0.5}   # SQL cutoff: half the SQLs convert "
            "(or {capacity_per_month: N})"
        )
    return (
        f"  sql: {{precision: {sql.precision}}}   # guess: {sql.base_rate:.0%} of closed leads "
        "in the export are won; SQLs should convert clearly more often (or {capacity_per_month: N})"
    )


def render_yaml(draft: Draft) -> str:
    """The drafted config: every guess on its own line with its reason as a YAML comment."""
    lines = [
        *HEADER,
        *_data_lines(draft.data),
        "schema:",
        *_key_lines(draft),
        *_outcome_lines(draft),
        *_column_lines(draft),
        *label_lines(draft.labels),
        *_activity_lines(draft.activity),
        "targets:",
        _sql_line(draft.sql),
        *FOOTER,
        f"  output: {q(draft.scores_output)}",
        "",
    ]
    return "\n".join(lines)
