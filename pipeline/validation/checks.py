"""Checks on a user's export before a model is trained on it (or scores it).

A model trained on a bad export fails silently: it looks fine in its metrics and is wrong in use.
The worst case is leakage: a field a salesperson fills after the sale (a "Tags" or "Lead quality"
column, a closed-deal detail) separates won from lost perfectly in history and does not exist for
new leads. These checks name such columns with their evidence so the user can drop them
(`schema.drop`); data too thin to learn from is refused with the numbers found.

`leadscore validate` prints the whole report; `train` runs the same checks first and stops on an
error; `score` runs the checks that make sense without outcomes.
"""

from __future__ import annotations

import hashlib
import logging
import re
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from pipeline.config import Config
from pipeline.errors import DataError
from pipeline.io.keys import present_in

log = logging.getLogger(__name__)
LEVELS = ("error", "warning", "info")


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


def _feature_columns(cfg: Config) -> list[str]:
    sc = cfg.schema
    return [*sc.categorical, *sc.numeric, *sc.flags]


def check_config_columns(cfg: Config, report: Report) -> None:
    """A column cannot be both a feature and the id, the outcome, a date, PII or dropped."""
    sc = cfg.schema
    feats = _feature_columns(cfg)
    seen: set[str] = set()
    for c in feats:
        if c in seen:
            report.add(
                "error",
                "config",
                f"config: column '{c}' is listed twice under schema.categorical/numeric/flags; keep one",
                c,
            )
        seen.add(c)
    for c in sc.engagement:
        if c not in seen:
            report.add(
                "error",
                "config",
                f"config: schema.engagement lists '{c}', which is not a feature; add it to "
                "schema.categorical/numeric/flags or remove it from schema.engagement",
                c,
            )
    roles = {
        "schema.lead_id": [sc.lead_id],
        "schema.outcome.column": [sc.outcome.column] if sc.outcome.column else [],
        "schema.outcome.closed_at": [sc.outcome.closed_at] if sc.outcome.closed_at else [],
        "schema.created_at": [sc.created_at] if sc.created_at else [],
        "schema.email": [sc.email] if sc.email else [],
        "schema.drop": list(sc.drop),
    }
    for key, cols in roles.items():
        for c in cols:
            if c in seen:
                report.add(
                    "error",
                    "config",
                    f"config: column '{c}' is {key} and also a feature; remove it from "
                    "schema.categorical/numeric/flags",
                    c,
                )


def check_training_data(
    cfg: Config, leads: pd.DataFrame, events: pd.DataFrame, now: pd.Timestamp | None = None
) -> Report:
    """Every check on canonical leads + events; nothing is raised, everything is reported."""
    v = cfg.validation
    path = cfg.data.leads
    report = Report()
    check_config_columns(cfg, report)
    lab = leads["_label"]
    n_won, n_lost, n_open = int((lab == 1).sum()), int((lab == 0).sum()), int(lab.isna().sum())
    report.add(
        "info", "rows", f"leads: {len(leads):,} ({n_won:,} won, {n_lost:,} lost, {n_open:,} open)"
    )
    if cfg.data.activities:
        without = int((~present_in(leads.index, events["lead_id"])).sum())
        report.add(
            "info",
            "rows",
            f"activities: {len(events):,} events of {events['type'].nunique()} types; "
            f"{without:,} leads have none",
        )
    if n_won == 0 or n_lost == 0:
        only = "won" if n_lost == 0 else "lost"
        report.add(
            "error",
            "one_class",
            f"{cfg.data.outcomes or path}: only one outcome class: all {n_won + n_lost:,} "
            f"labelled leads are {only}; check schema.outcome.won/lost against the outcome values",
        )
    elif n_won < v.min_won or n_lost < v.min_lost:
        report.add(
            "error",
            "min_outcomes",
            f"{path}: found {n_won:,} won and {n_lost:,} lost leads; at least {v.min_won} won "
            f"and {v.min_lost} lost are needed to learn from (validation.min_won/min_lost); "
            "export more history",
        )
    _dates(cfg, leads, events, report, now or pd.Timestamp.now())
    _columns(cfg, leads, report)
    if n_won and n_lost:
        for f in leakage_suspects(leads, cfg):
            report.findings.append(f)
    return report


def _dates(
    cfg: Config, leads: pd.DataFrame, events: pd.DataFrame, report: Report, now: pd.Timestamp
) -> None:
    sc = cfg.schema
    created = leads["_created_at"]
    if created.isna().all():
        report.add(
            "warning",
            "no_dates",
            f"{cfg.data.leads}: no creation date (schema.created_at): the split will be "
            "stratified-random, not out-of-time; test metrics may be optimistic",
        )
    elif created.isna().any():
        report.add(
            "warning",
            "dates_missing",
            f"{cfg.data.leads}: column '{sc.created_at}' is empty for {int(created.isna().sum()):,} "
            "leads: the split falls back to stratified-random; fill the dates",
            sc.created_at,
        )
    future = created > now
    if future.any():
        first = leads.index[future.to_numpy()][0]
        report.add(
            "warning",
            "future_dates",
            f"{cfg.data.leads}: column '{sc.created_at}': {int(future.sum()):,} dates lie in the "
            f"future (first: lead '{first}', {created[future].iloc[0]}); check the date format",
            sc.created_at,
        )
    closed = leads["_closed_at"]
    before = (closed < created).fillna(False)
    if before.any():
        report.add(
            "warning",
            "close_before_create",
            f"column '{sc.outcome.closed_at}': {int(before.sum()):,} leads closed before they "
            "were created; check both date columns",
            sc.outcome.closed_at,
        )
    if len(events):
        ev_future = events["ts"] > now
        if ev_future.any():
            report.add(
                "warning",
                "future_dates",
                f"{cfg.data.activities}: column '{sc.activity.timestamp}': "
                f"{int(ev_future.sum()):,} events lie in the future; check the date format",
                sc.activity.timestamp,
            )


def _columns(cfg: Config, leads: pd.DataFrame, report: Report) -> None:
    v = cfg.validation
    n = len(leads)
    for c in _feature_columns(cfg):
        s = leads[c]
        miss = float(s.isna().mean())
        if miss == 1.0:
            report.add("warning", "missing", f"column '{c}' is empty in every row; drop it", c)
            continue
        if miss > v.max_missing_share:
            report.add(
                "warning",
                "missing",
                f"column '{c}' is {miss:.0%} missing (placeholders in data.missing_values "
                "count as missing)",
                c,
            )
        nun = s.nunique(dropna=True)
        if nun <= 1 and miss == 0:  # one value plus blanks still says filled vs not
            report.add(
                "warning",
                "constant",
                f"column '{c}' has one value ('{s.dropna().iloc[0]}') in every row: it "
                "cannot help; drop it",
                c,
            )
        elif (
            c in cfg.schema.categorical
            and nun > 50
            and nun / max(s.notna().sum(), 1) > v.id_like_share
        ):
            report.add(
                "warning",
                "id_like",
                f"column '{c}' looks like an id or free text ({nun:,} distinct values in "
                f"{n:,} rows): a model cannot generalise from it; add it to schema.drop",
                c,
            )


def _single_column_auc(s: pd.Series, y: np.ndarray, categorical: bool, seed: int = 0) -> float:
    """How well one column alone ranks won above lost (0.5 = not at all, 1 = perfectly).

    Categories are target-encoded out of fold, so a column with a fresh value per lead (an id)
    does not look predictive just because every value has one outcome.
    """
    if categorical:
        key = s.astype("string").fillna("__missing__").to_numpy(dtype=object)
        fold = np.random.default_rng(seed).integers(0, 2, len(s))
        enc = np.full(len(s), y.mean())
        prior = y.mean()
        for k in (0, 1):
            tr = pd.DataFrame({"k": key[fold != k], "y": y[fold != k]}).groupby("k")["y"]
            stats = tr.agg(["sum", "count"])
            rate = (stats["sum"] + prior * 5) / (stats["count"] + 5)
            enc[fold == k] = pd.Series(key[fold == k]).map(rate).fillna(prior).to_numpy()
        x = enc
    else:
        x = s.astype(float).to_numpy()
        x = np.where(np.isnan(x), np.nanmin(x) - 1 if np.isfinite(np.nanmin(x)) else 0, x)
    if len(np.unique(x)) < 2:
        return 0.5
    auc = float(roc_auc_score(y, x))
    return max(auc, 1 - auc)


# ---- Leakage by name and role: what a salesperson or the CRM fills during or after the sale. ----
# Matched on the words of a column name ("LeadQuality", "lead_quality", "Lead Quality" all give
# lead + quality), so "Lead Source" or "Total Time Spent on Website" never match by a substring.
ROLE_WORDS = {
    "a rating set by sales after talking to the lead": {"quality", "rating", "rated", "grade"},
    "tags set by sales during follow-up": {"tag", "tags"},
    "a profile filled in by sales during qualification": {"profile"},
    "the lead's status or stage in the sales process": {"status", "stage", "disposition"},
    "a won/lost reason": {"reason", "reasons"},
    "who works the lead, assigned during the sales process": {"owner", "assigned", "assignee"},
    "notes written during the sales process": {"note", "notes", "comment", "comments", "remarks"},
    "a score or index computed by the company, often from sales activity": {
        "score",
        "scores",
        "scoring",
        "index",
    },
    "how the deal closed": {"close", "closed", "closing", "won", "lost"},
}
CONTACT_WORDS = {"call", "contact", "meeting", "talk"}
SNAPSHOT_FIRST = {"last", "latest", "current"}
SNAPSHOT_AFTER_LAST = {
    "activity", "contact", "contacted", "touch", "visit", "action", "event", "engagement",
    "interaction", "update", "updated", "modified", "notable", "login", "seen",
}  # fmt: skip
SNAPSHOT_WHY = (
    "the name says it describes the lead as of the export, which for a closed lead is after the "
    "outcome; without an activity table it cannot be replayed as of scoring time"
)
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")


def name_words(name: str) -> list[str]:
    """Lower-case words of a column name: camelCase, snake_case, dots and spaces all split."""
    return re.findall(r"[a-z0-9]+", _CAMEL.sub(" ", str(name)).lower())


def after_fact_role(name: str) -> str | None:
    """What the name says the column is, when that is filled during or after the sales process.

    One rule for `init` (which drops such columns) and `validate` (which names them).
    """
    words = name_words(name)
    for role, vocab in ROLE_WORDS.items():
        if vocab & set(words):
            return role
    if "duration" in words and (len(words) == 1 or CONTACT_WORDS & set(words)):
        return "the length of the sales contact itself, known only once it is over"
    return None


def is_snapshot(name: str) -> bool:
    """'Last Activity', 'latest_stage', 'Most Recent Visit': the lead as of the export."""
    w = name_words(name)
    if not w:
        return False
    after_last = any(
        a in {"last", "latest"} and b in SNAPSHOT_AFTER_LAST for a, b in zip(w, w[1:], strict=False)
    )
    return w[0] in SNAPSHOT_FIRST or w[:2] == ["most", "recent"] or after_last


def name_suspects(columns: list[str], flat: bool) -> list[Finding]:
    """Columns whose name says they are filled after the fact (and, on a flat export, snapshots)."""
    out = []
    for c in columns:
        role = after_fact_role(c)
        if role:
            ev = f"the name suggests {role}, not known when a new lead is scored"
            todo = "add it to schema.drop unless it is filled before the first sales contact"
            out.append(_suspect(c, ev, todo))
        elif flat and is_snapshot(c):
            out.append(_suspect(c, SNAPSHOT_WHY, "add it to schema.drop"))
    return out


# ---- Leakage by model: one column worth more than all the others together. ----
MODEL_ROWS = 10_000  # a seeded sample of this many labelled leads is plenty for the comparison
MODEL_MIN_AUC = 0.8  # a column alone below this is not judged a leak by the model rules
FAR_ABOVE = 0.15  # single-column AUC this far above every other column's
_CACHE: dict[str, list[Finding]] = {}


def _cache_key(lab: pd.DataFrame, cols: list[str], cfg: Config) -> str:
    h = hashlib.sha256(pd.util.hash_pandas_object(lab[[*cols, "_label"]], index=True).to_numpy())
    h.update(repr((cols, sorted(cfg.schema.categorical), cfg.training.seed)).encode())
    h.update(cfg.validation.model_dump_json().encode())  # the data rules' thresholds
    return h.hexdigest()


def _quick_frame(lab: pd.DataFrame, cfg: Config) -> pd.DataFrame:
    X = pd.DataFrame(index=lab.index)
    for c in _feature_columns(cfg):
        if c in cfg.schema.categorical:
            X[c] = lab[c].astype("string").astype("category")
        else:
            X[c] = pd.to_numeric(lab[c], errors="coerce").astype(float)
    return X


def quick_cv_auc(X: pd.DataFrame, y: np.ndarray, seed: int) -> float:
    """Out-of-fold AUC of a small LightGBM (40 trees, 3 folds): cheap, and enough to compare."""
    import lightgbm as lgb
    from sklearn.model_selection import StratifiedKFold

    p = np.zeros(len(y))
    folds = StratifiedKFold(3, shuffle=True, random_state=seed)
    for tr, te in folds.split(X, y):
        m = lgb.LGBMClassifier(
            n_estimators=40, learning_rate=0.15, num_leaves=15, min_child_samples=20,
            max_bin=63, n_jobs=1, random_state=seed, verbose=-1,
        )  # fmt: skip
        m.fit(X.iloc[tr], y[tr])
        p[te] = m.predict_proba(X.iloc[te])[:, 1]
    return float(roc_auc_score(y, p))


def model_suspects(
    lab: pd.DataFrame, y: np.ndarray, cfg: Config, aucs: dict[str, float]
) -> list[Finding]:
    """Drop-column lift of a quick model among `aucs`' columns (the features no other rule flags,
    i.e. what would remain once the user drops those): a column is a suspect when dropping it
    costs more than dropping all the others (alone it beats them together), or when its
    single-column AUC stands far above every other column's. Only the top columns by single AUC
    can beat all the others, so only they are refitted; after a suspect is found the rest is
    judged again without it (one leak hides the next), at most three rounds."""
    if len(aucs) < 2 or min(np.bincount(y, minlength=2)) < 15:
        return []
    seed = cfg.training.seed
    if len(y) > MODEL_ROWS:
        pick = np.sort(np.random.default_rng(seed).choice(len(y), MODEL_ROWS, replace=False))
        lab, y = lab.iloc[pick], y[pick]
    X = _quick_frame(lab, cfg)[list(aucs)]
    aucs, out = dict(aucs), []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(3):
            found = _model_round(X, y, aucs, seed)
            if found is None:
                break
            out.append(found)
            aucs.pop(found.column)
            X = X.drop(columns=found.column)
    return out


def _model_round(
    X: pd.DataFrame, y: np.ndarray, aucs: dict[str, float], seed: int
) -> Finding | None:
    """The first of the top two columns (by single AUC) that a quick model judges a suspect."""
    if len(aucs) < 2:
        return None
    ranked = sorted(aucs, key=aucs.get, reverse=True)
    full = None
    for c in ranked[:2]:
        if aucs[c] < MODEL_MIN_AUC - 0.1:
            continue
        full = quick_cv_auc(X, y, seed) if full is None else full
        alone, without = quick_cv_auc(X[[c]], y, seed), quick_cv_auc(X.drop(columns=c), y, seed)
        nxt = max(aucs[d] for d in ranked if d != c)
        beats = alone >= MODEL_MIN_AUC and alone > without
        far = aucs[c] >= MODEL_MIN_AUC and aucs[c] - nxt >= FAR_ABOVE
        if beats or far:
            ev = (
                f"a quick model with all {len(aucs)} remaining columns has AUC {full:.3f}, "
                f"without it {without:.3f} (lift {full - without:+.3f}); alone it has "
                f"{alone:.3f}{', more than all the others together' if beats else ''}; the next "
                f"best column alone has {nxt:.3f}"
            )
            todo = (
                "a pre-sale field is rarely worth this much: if it is filled after the outcome "
                "add it to schema.drop"
            )
            return _suspect(c, ev, todo)
    return None


def leakage_suspects(leads: pd.DataFrame, cfg: Config, flat: bool | None = None) -> list[Finding]:
    """Every leakage suspect among the feature columns, each with its evidence.

    Four rules: the name says a salesperson or the CRM fills it (role), the name says it describes
    the lead as of the export (snapshot, flat exports only), the single-column separation and
    fill-pattern checks (data), and, among the columns none of these flags, a quick model that
    finds one column worth more than all the others together (model). `flat` defaults to "no
    activity table configured".
    """
    flat = cfg.data.activities is None if flat is None else flat
    cols = _feature_columns(cfg)
    out = [*name_suspects(cols, flat)]
    lab = leads[leads["_label"].notna()]
    y = lab["_label"].to_numpy().astype(int)
    if len(np.unique(y)) < 2:
        return out
    key = _cache_key(lab, cols, cfg) + str(flat)
    if key not in _CACHE:
        _CACHE.clear()  # one entry: train's closing line reuses the check run at its start
        aucs, data = _data_suspects(lab, y, cfg)
        flagged = {f.column for f in [*out, *data]}
        rest = {c: a for c, a in aucs.items() if c not in flagged}
        _CACHE[key] = [*model_suspects(lab, y, cfg, rest), *data]
    return [*out, *_CACHE[key]]


def suspect_evidence(findings: list[Finding]) -> dict[str, str]:
    """Leakage suspects -> their evidence, several rules on one column joined with ' | '."""
    out: dict[str, list[str]] = {}
    for f in findings:
        if f.check == "leakage" and f.column:
            out.setdefault(f.column, []).append(f.evidence or f.message)
    return {c: " | ".join(ev) for c, ev in out.items()}


def suspects_in_features(leads: pd.DataFrame, cfg: Config) -> list[dict[str, str]]:
    """The leakage suspects a config still uses as features, as {"column", "evidence"}: what
    `train` names at its end and the model card and the run tag list."""
    ev = suspect_evidence(leakage_suspects(leads, cfg))
    return [{"column": c, "evidence": e} for c, e in ev.items()]


def _suspect(c: str, evidence: str, todo: str) -> Finding:
    return Finding("warning", "leakage", f"leakage suspect '{c}': {evidence}; {todo}", c, evidence)


def _data_suspects(
    lab: pd.DataFrame, y: np.ndarray, cfg: Config
) -> tuple[dict[str, float], list[Finding]]:
    """Single-column AUC of every feature, and the columns that alone separate won from lost or
    are filled mostly for one outcome."""
    v = cfg.validation
    won, lost = y == 1, y == 0
    out: list[Finding] = []
    aucs: dict[str, float] = {}
    for c in _feature_columns(cfg):
        s = lab[c]
        filled = s.notna().to_numpy()
        fw, fl = filled[won].mean(), filled[lost].mean()
        cat = c in cfg.schema.categorical
        if filled.sum() == 0:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            auc = aucs[c] = _single_column_auc(s, y, cat, cfg.training.seed)
            # where it is filled: a sales field left empty for half the leads still leaks
            both = len(np.unique(y[filled])) == 2 and filled.sum() >= 20
            auc_f = _single_column_auc(s[filled], y[filled], cat, cfg.training.seed) if both else 0
        if abs(fw - fl) >= v.leakage_fill_gap:
            ev = (
                f"filled for {fw:.0%} of won and {fl:.0%} of lost leads, typical of a field "
                "filled after the outcome"
            )
            out.append(_suspect(c, ev, "if so add it to schema.drop"))
        elif max(auc, auc_f) >= v.leakage_auc:
            where = (
                ""
                if auc >= v.leakage_auc
                else f" where it is filled ({filled.mean():.0%} of leads)"
            )
            ev = (
                f"alone it separates won from lost with AUC {max(auc, auc_f):.3f}{where}"
                f"{_evidence(s, y) if cat else ''}"
            )
            out.append(
                _suspect(c, ev, "if it is known only after the outcome add it to schema.drop")
            )
    return aucs, out


def _evidence(s: pd.Series, y: np.ndarray) -> str:
    """The purest frequent values, e.g. " ('Closed by Horizzon': 80 won / 0 lost, ...)"."""
    df = pd.DataFrame({"v": s.astype("string").fillna("(empty)").to_numpy(), "y": y})
    g = df.groupby("v")["y"].agg(["sum", "count"])
    g["purity"] = np.maximum(g["sum"], g["count"] - g["sum"]) / g["count"]
    g = g[g["count"] >= 5].sort_values(["purity", "count"], ascending=False).head(2)
    if g.empty:
        return ""
    parts = [
        f"'{str(k)[:30]}': {int(r['sum'])} won / {int(r['count'] - r['sum'])} lost"
        for k, r in g.iterrows()
    ]
    return " (" + ", ".join(parts) + ")"


def check_scoring_data(leads: pd.DataFrame, columns: list[str], path: object) -> Report:
    """What can be checked without outcomes: empty feature columns and future creation dates."""
    report = Report()
    report.add("info", "rows", f"{path}: {len(leads):,} leads to score")
    for c in columns:
        if c in leads.columns and len(leads) and leads[c].isna().all():
            report.add(
                "warning",
                "missing",
                f"{path}: column '{c}' is empty in every row; scores will treat it as unknown",
                c,
            )
    future = leads["_created_at"] > pd.Timestamp.now()
    if future.any():
        report.add(
            "warning",
            "future_dates",
            f"{path}: {int(future.sum()):,} creation dates lie in the future; check the format",
        )
    return report
