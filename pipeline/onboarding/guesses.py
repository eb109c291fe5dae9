"""The guess: every decision `leadscore init` makes, as data, before any YAML is written.

Kept apart from the guessing (`draft`) and the YAML (`render`) so a guess can be tested, edited by
a reviewer and rendered without either module knowing the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


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
    decimal: str | None = None  # "," when the leads' numbers are written with a decimal comma
    time_order: str | None = None  # no dates: why the rows look oldest first (onboarding.order)


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
    labels: dict = field(default_factory=dict)  # schema.labels: column/value -> words
    context: list[Choice] = field(default_factory=list)  # schema.context: the period's columns
