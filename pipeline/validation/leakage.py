"""Leakage suspects: columns that flatter a model in history and do not exist for a new lead.

A field a salesperson fills after the sale (a "Tags" or "Lead quality" column, a closed-deal
detail) separates won from lost perfectly in history. Four rules name such columns with their
evidence: the name says sales or the CRM fills it (role), the name says it describes the lead as
of the export (snapshot, flat exports only), a single column separates the outcomes or is filled
mostly for one of them (data), and a quick model finds one column worth more than all the others
together (model). The names are judged by `vocabulary`, the data by `probe`.
"""

from __future__ import annotations

import hashlib
import warnings

import numpy as np
import pandas as pd

from pipeline.config import Config
from pipeline.validation.findings import Finding
from pipeline.validation.probe import quick_cv_auc, quick_frame, single_column_auc
from pipeline.validation.vocabulary import after_fact_role, is_snapshot

SNAPSHOT_WHY = (
    "the name says it describes the lead as of the export, which for a closed lead is after the "
    "outcome; without an activity table it cannot be replayed as of scoring time"
)


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
    X = quick_frame(lab, cfg)[list(aucs)]
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
    cols = cfg.schema.feature_columns()
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
    for c in cfg.schema.feature_columns():
        s = lab[c]
        filled = s.notna().to_numpy()
        fw, fl = filled[won].mean(), filled[lost].mean()
        cat = c in cfg.schema.categorical
        if filled.sum() == 0:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            auc = aucs[c] = single_column_auc(s, y, cat, cfg.training.seed)
            # where it is filled: a sales field left empty for half the leads still leaks
            both = len(np.unique(y[filled])) == 2 and filled.sum() >= 20
            auc_f = single_column_auc(s[filled], y[filled], cat, cfg.training.seed) if both else 0
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
