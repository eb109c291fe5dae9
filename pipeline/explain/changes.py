"""Why a lead's score moved since it was last scored, in the words of its reasons.

Each scoring keeps, per lead, the log-odds part of every business field (the sums its reasons are
ranked by), the as-of time and a hash of the lead's data, packed in one short text cell
(`score_parts`). The next scoring of the same lead compares its own parts with them: the one or two
fields whose part moved most are the change's reason ("[+] requested a demo since last scored",
"[-] 12 more days without activity"). When the model version changed and the lead's data did not,
the reason is the model ("new model version 3 (was 2)").

Stored, not recomputed: recomputing the earlier parts would need the earlier model loaded and the
earlier export as it was at that as-of time, which a scores history does not keep (an activities
file is replaced, a lead's row is edited). The packed cell is what was said then, ~60 characters a
lead, written at array speed (one base64 pass over the whole block, no per-lead Python).
"""

from __future__ import annotations

import base64
import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.explain.reasons import activity_phrases, phrase
from pipeline.features.builder import ACTIVITY_FIELD, AGE_FIELD

PARTS = "score_parts"  # output column: the packed parts of this scoring
PART_PREFIX = "_part:"  # columns of `score_features(..., parts=True)`: one per business field
STEP = 1e-3  # log-odds resolution of a stored part
MOVED = 0.01  # a field's part that moved less than this (log-odds) is no reason
SECOND = 0.5  # a second field is named when it moved at least this share of the first
# base64 with '.' and '_' for '+' and '/': no cell starts as a spreadsheet formula (=, +, -, @)
ALTCHARS = b"._"
_HEAD = 20  # bytes before the parts: fields fingerprint u4, as-of seconds i8, data hash u8
_TIME_FEATURES = ("_days_since_last", "lead_age_days")


def fields_fingerprint(fields: list[str]) -> int:
    """A number naming the list of business fields (and their order) the parts are in."""
    return zlib.crc32("\x1f".join(fields).encode())


def data_hash(X: pd.DataFrame) -> np.ndarray:
    """Per row, a hash of the features that change only when the lead's data does (its columns,
    its event counts), not when time passes (windows, recency, age)."""
    cols = [c for c in X.columns if not _moves_with_time(c)]
    if not cols:
        return np.zeros(len(X), np.uint64)
    return pd.util.hash_pandas_object(X[cols], index=False).to_numpy(np.uint64)


def _moves_with_time(name: str) -> bool:
    windowed = name.endswith("d") and ("_count_" in name or "_decay_" in name)
    return name.endswith(_TIME_FEATURES) or windowed


def encode(fingerprint: int, as_of: pd.Timestamp, hashes: np.ndarray, fc: np.ndarray) -> np.ndarray:
    """The packed cell of each row: header and int16 parts (units of `STEP`), base64 of the
    whole block at once (a row's width is a multiple of 3 bytes, so rows stay aligned)."""
    n, k = fc.shape
    width = -(-(_HEAD + 2 * k) // 3) * 3
    block = np.zeros((n, width), np.uint8)
    block[:, 0:4] = np.frombuffer(np.uint32(fingerprint).tobytes(), np.uint8)
    block[:, 4:12] = np.frombuffer(np.int64(as_of.value // 10**9).tobytes(), np.uint8)
    block[:, 12:20] = np.ascontiguousarray(hashes, "<u8").view(np.uint8).reshape(n, 8)
    q = np.clip(np.round(np.nan_to_num(fc) / STEP), -32767, 32767)
    q = np.ascontiguousarray(q, "<i2")
    block[:, 20 : 20 + 2 * k] = q.view(np.uint8).reshape(n, 2 * k)
    text = base64.b64encode(block.tobytes(), altchars=ALTCHARS)
    return np.frombuffer(text, f"S{width // 3 * 4}").astype(str).astype(object)


@dataclass
class Earlier:
    """Decoded packed cells: per row whether it decoded, and its header and parts."""

    ok: np.ndarray
    fingerprint: np.ndarray
    as_of_s: np.ndarray
    hashes: np.ndarray
    fc: np.ndarray  # (n, k) log-odds parts; k of the current model's fields


def decode(cells: pd.Series | np.ndarray, k: int) -> Earlier:
    """The packed cells of an earlier scoring, for a model with `k` fields; a missing or foreign
    cell (another width, not base64) decodes as not ok."""
    s = pd.Series(np.asarray(cells, dtype=object)).astype("string")
    n, width = len(s), -(-(_HEAD + 2 * k) // 3) * 3
    good = (s.str.len() == width // 3 * 4).fillna(False).to_numpy()
    block = np.zeros((n, width), np.uint8)
    if good.any():
        try:
            raw = base64.b64decode("".join(s[good].tolist()), altchars=ALTCHARS, validate=True)
            block[good] = np.frombuffer(raw, np.uint8).reshape(-1, width)
        except (ValueError, TypeError):
            good[:] = False
    parts = block[:, 20 : 20 + 2 * k].copy().view("<i2").astype(float) * STEP
    return Earlier(
        ok=good,
        fingerprint=block[:, 0:4].copy().view("<u4")[:, 0],
        as_of_s=block[:, 4:12].copy().view("<i8")[:, 0],
        hashes=block[:, 12:20].copy().view("<u8")[:, 0],
        fc=parts,
    )


@dataclass
class Context:
    """What phrasing a change needs of the model: its fields, whether there are dates, its
    version, and the reason words (flags, categories, labels) the scorer keeps."""

    fields: list[str]
    activity_fields: set[str]
    has_time: bool
    version: str
    words: dict


def change_reasons(
    ctx: Context,
    X: pd.DataFrame,
    fc: np.ndarray,
    now: pd.Timestamp,
    earlier: Earlier,
    was: np.ndarray,
    score_change: np.ndarray,
) -> np.ndarray:
    """`change_reason` of each row of X (object; None when nothing is worth saying): `fc` the
    rows' field parts now, `earlier` their decoded cells, `was` their earlier model versions,
    `score_change` their 0-100 score moves (a same-model lead whose score did not move has no
    field reason: its parts moved below what the score shows)."""
    n = len(X)
    out = np.full(n, None, dtype=object)
    same_fields = earlier.ok & (earlier.fingerprint == fields_fingerprint(ctx.fields))
    new_model = pd.Series(was, dtype="string").fillna("").to_numpy(object) != ctx.version
    has_was = pd.notna(pd.Series(was, dtype=object)).to_numpy()
    model_words = np.array(
        [f"new model version {ctx.version} (was {w})" for w in np.asarray(was, dtype=object)],
        dtype=object,
    )
    same_data = earlier.hashes == data_hash(X)
    only_model = new_model & has_was & ((same_fields & same_data) | (earlier.ok & ~same_fields))
    out[only_model] = model_words[only_model]
    moved = np.asarray(score_change, float) != 0  # a part that moved without the score: noise
    rows = np.flatnonzero(same_fields & ~only_model & (moved | new_model))
    if len(rows):
        gap = np.maximum(0, (now.value // 10**9 - earlier.as_of_s[rows]) / 86400.0)
        said = _field_changes(ctx, X.iloc[rows], fc[rows] - earlier.fc[rows], gap)
        add_model = new_model[rows] & has_was[rows]
        out[rows] = _joined(said, np.where(add_model, model_words[rows], None))
    return out


def _field_changes(ctx: Context, X: pd.DataFrame, delta: np.ndarray, gap: np.ndarray) -> np.ndarray:
    """The one or two fields whose part moved most, phrased and joined with '; '."""
    a = np.abs(delta)
    order = np.argsort(-a, axis=1, kind="stable")[:, :2]
    r = np.arange(len(X))
    first, second = a[r, order[:, 0]], a[r, order[:, 1]] if a.shape[1] > 1 else np.zeros(len(X))
    take = np.stack([first >= STEP, (second >= MOVED) & (second >= SECOND * first)], axis=1)
    text = np.full((len(X), 2), None, dtype=object)
    for j, field in enumerate(ctx.fields):
        for slot in range(2):
            hit = np.flatnonzero(take[:, slot] & (order[:, slot] == j))
            if len(hit):
                words = _phrase_change(ctx, field, X.iloc[hit], delta[hit, j], gap[hit])
                sign = np.where(delta[hit, j] >= 0, "[+] ", "[-] ").astype(object)
                text[hit, slot] = _joined(sign, words, "", both=True)
    return _joined(text[:, 0], text[:, 1])


def _joined(a: np.ndarray, b: np.ndarray, sep: str = "; ", both: bool = False) -> np.ndarray:
    """`a + sep + b` where both are said, else the one that is (None: not said); `both`: None
    unless both are said."""
    a, b = np.asarray(a, dtype=object), np.asarray(b, dtype=object)
    has_a, has_b = a != None, b != None  # noqa: E711 - elementwise
    out = np.full(len(a), None, dtype=object)
    two = has_a & has_b
    out[two] = a[two] + sep + b[two]
    if not both:
        out[has_a & ~has_b] = a[has_a & ~has_b]
        out[has_b & ~has_a] = b[has_b & ~has_a]
    return out


def _days(gap: np.ndarray) -> np.ndarray:
    g = np.round(gap).astype(np.int64)
    return np.where(g == 1, "1 more day", g.astype(str).astype(object) + " more days").astype(
        object
    )


def _phrase_change(
    ctx: Context, field: str, X: pd.DataFrame, delta: np.ndarray, gap: np.ndarray
) -> np.ndarray:
    """One field's change in words: a new event since the last scoring, days gone by without one,
    the lead's age, or the field's value now."""
    if field in ctx.activity_fields or field == ACTIVITY_FIELD:
        is_all = field == ACTIVITY_FIELD
        deed, one, _, _ = ("was active", "activity", "", "") if is_all else activity_phrases(field)
        prefix = "activity" if is_all else field
        since = np.full(len(X), deed + " since last scored", dtype=object)
        if not ctx.has_time:
            return since
        d = X[f"{prefix}_days_since_last"].to_numpy(float)
        fresh = ~np.isnan(d) & (d < gap)
        article = "an " if one[:1] in "aeiou" else "a "
        quiet = _days(gap) + f" without {'activity' if is_all else article + one}"
        absent = ("no activity yet" if is_all else activity_phrases(field)[3]) + " after "
        quiet = np.where(np.isnan(d), absent + _days(gap), quiet)
        return np.where(fresh, since, np.where(np.round(gap) >= 1, quiet, since)).astype(object)
    if field == AGE_FIELD:
        return ("lead " + _days(gap) + " older").astype(object)
    words = {k: v for k, v in ctx.words.items() if k != "context"}  # phrase() says one column
    now = phrase(field, X, np.zeros((len(X), 0)), delta, ctx.has_time, **words)
    return _joined(np.full(len(X), "now", dtype=object), now, " ", both=True)
