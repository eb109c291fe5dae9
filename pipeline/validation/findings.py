"""What a check found: one `Finding` per problem, gathered in a `Report` that train, score and
validate print or raise from. Shared by the data checks (`checks`) and the leakage rules
(`leakage`), which both judge a config's feature columns (`SchemaConfig.feature_columns`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from pipeline.errors import DataError

log = logging.getLogger(__name__)


@dataclass
class Finding:
    level: str  # error (stops training), warning (review it), info (counts)
    check: str  # short name of the check, stable for scripts: rows, min_outcomes, leakage, ...
    message: str
    column: str | None = None
    evidence: str | None = None  # leakage findings: why the column is a suspect, without advice


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)

    def add(self, level: str, check: str, message: str, column: str | None = None) -> None:
        self.findings.append(Finding(level, check, message, column))

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "warning"]

    def suspects(self) -> list[str]:
        """Columns reported as leakage suspects (what a user would put in schema.drop)."""
        return list(dict.fromkeys(f.column for f in self.findings if f.check == "leakage"))

    def lines(self) -> list[str]:
        order = {lvl: i for i, lvl in enumerate(("info", "warning", "error"))}
        return [
            f"{f.level}: {f.message}" for f in sorted(self.findings, key=lambda f: order[f.level])
        ]

    def log_and_raise(self) -> None:
        """At the start of train/score: the first error as a DataError (alone, so that it is
        the one line a refused run prints), else the warnings to stderr."""
        if self.errors:
            raise DataError(self.errors[0].message)
        for f in self.warnings:
            log.warning("warning: %s", f.message)
