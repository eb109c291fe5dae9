"""Words for the candidate choice (which model serves, by how much it won on validation) and for
the outcome's horizon (what the probabilities are of)."""

from __future__ import annotations

CANDIDATE_WORDS = {
    "lightgbm": "gradient-boosted trees (LightGBM)",
    "logistic": "logistic regression",
}


def candidate_sentence(info: dict, metrics: dict) -> str | None:
    """ "The model is a logistic regression: validation AUC 0.812 against 0.795 for ..." (None
    for a run from before candidates were compared)."""
    name, val = info.get("candidate"), info.get("candidate_val_roc_auc") or {}
    if not name or name not in val:
        return None
    others = [f"{CANDIDATE_WORDS.get(k, k)} {v:.3f}" for k, v in val.items() if k != name]
    text = (
        f"The serving model is {CANDIDATE_WORDS.get(name, name)}, chosen on the validation leads "
        f"(AUC {val[name]:.3f}"
    )
    if not others:
        return text + "; the only candidate configured)."
    margin = metrics.get("candidate_val_auc_margin", float("nan"))
    text += f", {margin:+.3f} over the next best; others: {', '.join(others)})."
    rows = info.get("candidate_logistic_fit_rows") or 0
    if "logistic" in val and rows:
        text += f" The logistic regression was fit on {rows:,} training snapshots."
    return text


def context_sentence(info: dict, metrics: dict) -> str | None:
    """Whether the market-condition columns (`schema.context`) are in the model, and on what
    evidence; None without such columns."""
    names = ", ".join(info.get("context_words") or [])
    used = info.get("context_in_model")
    if not names or used not in ("use", "leave_out"):
        return None
    with_, without = (metrics.get(f"context_val_roc_auc_{k}") for k in ("with", "without"))
    if with_ is None or without is None:  # set by hand (training.context), nothing compared
        verb = "are used by" if used == "use" else "are left out of"
        return f"Market conditions ({names}) {verb} the model (training.context: {used})."
    if used == "leave_out":
        return (
            f"Market conditions ({names}) are left out of the model: the validation leads, newer "
            f"than the ones it learnt from, ranked significantly better without them (AUC "
            f"{without:.3f} against {with_:.3f} with them{_p(metrics)}). Set training.context: "
            "use to keep them."
        )
    return (
        f"Market conditions ({names}) are used by the model: the validation leads did not rank "
        f"significantly better without them (AUC {without:.3f} without, {with_:.3f} with"
        f"{_p(metrics)})."
    )


def _p(metrics: dict) -> str:
    p = metrics.get("context_val_p")
    return "" if p is None else f"; DeLong p={'<0.0001' if p < 1e-4 else f'{p:.2g}'}"


def horizon_sentence(info: dict) -> str | None:
    """What the probabilities mean with `targets.horizon_days`, and what was censored."""
    n = info.get("horizon_days")
    if not n:
        return None
    return (
        f"Probabilities, cutoffs and the funnel are of conversion within {n} days of scoring; "
        f"{info.get('censored_snapshots', 0):,} recent snapshots whose {n} days were not over by "
        "the export date were left out (censored), so young leads never count as lost."
    )


SEGMENT_NOTE = (
    "A segment serves with its own model only when that model beat the pooled one on the "
    "segment's validation leads (DeLong's paired test, p < 0.05); every other lead is scored by "
    "the pooled model. Test AUCs are of the same test leads, for the record: they did not choose."
)


def segment_rows(t) -> list[dict]:
    """The segment table (pipeline.modeling.segments) as rows for the report; [] when segments are off."""
    return [] if t is None else t.to_dict("records")


def segment_lines(t) -> list[str]:
    """The model card's segment section: the table and what it means; nothing when off."""
    if t is None or not len(t):
        return []
    from pipeline.report.card import md_table

    cols = ["segment", "test_leads", "test_wins", "serves", "test_auc_segment", "test_auc_pooled"]
    why = [f"- {r.segment}: {r.why}" for r in t.itertuples()]
    return ["## Segments (test leads)", SEGMENT_NOTE, "", md_table(t[cols]), *why, ""]
