"""Exact path-dependent TreeSHAP for shallow LightGBM trees, vectorised over rows.

Reasons for every lead are the scorer's biggest cost: LightGBM's `pred_contrib` walks every tree
for every row (~10k rows/s per core for ~260 depth-3 trees). For shallow trees there is a much
cheaper exact route: a tree's SHAP values for a row depend only on which way the row goes at each
of the tree's m internal nodes, so there are at most 2^m different answers per tree. We compute
that table once per model (path-dependent TreeSHAP, the same algorithm as LightGBM/`shap`, with
node covers from the model), then each row costs m comparisons and one table lookup per tree.

Used when every tree has at most MAX_NODES internal nodes (depth-3 trees have 7); otherwise the
scorer falls back to LightGBM's `pred_contrib`. Tests check equality with `pred_contrib`. The
walk over the tables runs compiled and threaded (`compiled`) where numba works, else in numpy.

The same decision code also names the leaf each row reaches, so the walk adds the trees' leaf
values too: the booster's raw score comes with the SHAP values instead of from a second pass of
LightGBM over the rows. The leaf values are added in model order, starting from 0.0, as LightGBM's
`PredictRaw` does, so the raw score is LightGBM's to the last bit (tests check equality).
"""

from __future__ import annotations

import itertools
import weakref
from dataclasses import dataclass
from math import factorial

import numpy as np

from pipeline.explain import compiled

MAX_NODES = 10
K_ZERO = 1e-35
_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@dataclass
class _Node:
    feature: int
    categorical: bool
    threshold: float
    cats: np.ndarray
    default_left: bool
    missing: str  # "None", "Zero" or "NaN"


@dataclass
class _Tree:
    nodes: list[_Node]
    features: np.ndarray  # model feature index of each table column
    table: np.ndarray  # (len(features), 2^m) SHAP values per decision code
    leaf: np.ndarray  # (2^m,) value of the leaf that each decision code reaches


class FastTreeShap:
    """SHAP tables of a LightGBM booster; `contributions(X)` matches `pred_contrib` (last column
    is the expected value)."""

    def __init__(self, booster, num_iteration: int | None = None) -> None:
        dump = booster.dump_model()
        self.n_features = booster.num_feature()
        infos = dump["tree_info"]
        it = num_iteration if num_iteration is not None else booster.best_iteration
        if it and it > 0:
            infos = infos[:it]
        self.trees: list[_Tree] = []  # every tree in model order, a single leaf included
        self.base = 0.0
        for info in infos:
            tree, base = _build(info["tree_structure"])
            self.base += base
            self.trees.append(tree)
        self.packed = _pack(self.trees)

    def contributions(self, X: np.ndarray) -> np.ndarray:
        """SHAP values of each row (n, features + 1), the last column the expected value."""
        return self.contributions_and_raw(X)[0]

    def contributions_and_raw(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """SHAP values as `contributions`, and the booster's raw score (log-odds) of each row,
        equal to `booster.predict(X, raw_score=True)`, from the same walk."""
        X = np.asarray(X, dtype=np.float64)
        n = len(X)
        phi = np.zeros((self.n_features + 1, n))
        raw = np.zeros(n)
        if n and compiled.worth_it(n):
            compiled.walk(X, phi, raw, self.packed)
        elif n:
            self._numpy_walk(X, phi, raw)
        phi[-1] = self.base
        return phi.T, raw

    def _numpy_walk(self, X: np.ndarray, phi: np.ndarray, raw: np.ndarray) -> None:
        cols = [X[:, j] for j in range(X.shape[1])]
        for t in self.trees:
            code = np.zeros(len(X), dtype=np.intp)
            for j, node in enumerate(t.nodes):
                code |= _goes_left(cols[node.feature], node).astype(np.intp) << j
            raw += t.leaf[code]
            vals = t.table.take(code, axis=1)  # (k, n), rows contiguous
            for k, f in enumerate(t.features):
                phi[f] += vals[k]


def _pack(trees: list[_Tree]) -> tuple:
    """The trees as flat arrays for the compiled walk (argument order of `compiled.walk`)."""
    T, M = len(trees), max([1, *(len(t.nodes) for t in trees)])
    n_nodes = np.array([len(t.nodes) for t in trees], dtype=np.int64)
    feat = np.zeros((T, M), np.int64)
    thr = np.zeros((T, M))
    kind = np.zeros((T, M), np.int8)
    dleft = np.zeros((T, M), np.bool_)
    cstart = np.zeros((T, M), np.int64)
    cend = np.zeros((T, M), np.int64)
    cats: list[float] = []
    kinds = {"None": compiled.KIND_NONE, "Zero": compiled.KIND_ZERO, "NaN": compiled.KIND_NAN}
    for t, tree in enumerate(trees):
        for j, nd in enumerate(tree.nodes):
            feat[t, j], thr[t, j], dleft[t, j] = nd.feature, nd.threshold, nd.default_left
            kind[t, j] = compiled.KIND_CAT if nd.categorical else kinds.get(nd.missing, 0)
            cstart[t, j] = len(cats)
            cats.extend(nd.cats.tolist())
            cend[t, j] = len(cats)
    tk = np.array([len(t.features) for t in trees], dtype=np.int64)
    sizes = np.array([t.table.size for t in trees], dtype=np.int64)
    # per tree, (2^m, k) row-major: one row's entries for a code sit together
    tab = np.concatenate([np.zeros(0), *(t.table.T.ravel() for t in trees)])
    feats = np.concatenate([np.zeros(0, np.int64), *(t.features for t in trees)]).astype(np.int64)
    leaf = np.concatenate([np.zeros(0), *(t.leaf for t in trees)])
    nodes = (n_nodes, feat, thr, kind, dleft, cstart, cend, np.asarray(cats, dtype=np.float64))
    tables = (_offsets(sizes), tk, _offsets(tk), feats, tab)
    return (*nodes, *tables, _offsets(np.array([t.leaf.size for t in trees])), leaf)


def _offsets(sizes: np.ndarray) -> np.ndarray:
    """Where each tree's entries start in the flat array of all trees' entries."""
    return np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)


def for_booster(booster) -> FastTreeShap | None:
    """Cached tables for a booster, or None when its trees are too deep for tables."""
    if booster in _CACHE:
        return _CACHE[booster]
    try:
        fast = FastTreeShap(booster)
    except _TooDeep:
        fast = None
    _CACHE[booster] = fast
    return fast


class _TooDeep(Exception):
    pass


def _goes_left(f: np.ndarray, node: _Node) -> np.ndarray:
    if node.categorical:
        # LightGBM: NaN and negative codes go right; listed categories go left
        return np.isin(f, node.cats)
    if node.missing == "NaN":
        missing = np.isnan(f)
    else:
        f = np.where(np.isnan(f), 0.0, f)
        missing = (np.abs(f) <= K_ZERO) if node.missing == "Zero" else np.zeros(len(f), bool)
    with np.errstate(invalid="ignore"):
        left = f <= node.threshold
    return np.where(missing, node.default_left, left)


SplitPath = list[tuple[int, bool, float]]  # (node, went left, child cover / node cover) per split


def _build(root: dict) -> tuple[_Tree, float]:
    """Table of one tree, and its expected value (sum of leaf values weighted by cover). A tree
    of a single leaf has no split and no SHAP values, but its value is part of the raw score."""
    if "leaf_value" in root:
        value = float(root["leaf_value"])
        none = np.zeros(0, dtype=np.intp)
        return _Tree([], none, np.zeros((0, 1)), np.array([value])), value
    nodes, leaves = _flatten(root)
    m = len(nodes)
    codes = np.arange(2**m)
    bits = [((codes >> j) & 1).astype(float) for j in range(m)]
    feats = sorted({nd.feature for nd in nodes})
    col = {f: k for k, f in enumerate(feats)}
    table = np.zeros((2**m, len(feats)))
    leaf = np.zeros(2**m)
    base = 0.0
    for value, path in leaves:
        reached = np.ones(2**m, dtype=bool)  # codes whose decisions follow this leaf's path
        for j, left, _ in path:
            reached &= bits[j] == float(left)
        leaf[reached] = value
        one: dict[int, np.ndarray] = {}
        zero: dict[int, float] = {}
        cover_share = 1.0
        for j, left, ratio in path:
            f = nodes[j].feature
            o = bits[j] if left else 1.0 - bits[j]
            one[f] = one[f] * o if f in one else o
            zero[f] = zero.get(f, 1.0) * ratio
            cover_share *= ratio
        base += value * cover_share
        for i in one:
            table[:, col[i]] += value * (one[i] - zero[i]) * _shapley_weight(i, one, zero, m)
    tree = _Tree(nodes, np.array(feats, dtype=np.intp), table.T.copy(), leaf)
    return tree, base


def _flatten(root: dict) -> tuple[list[_Node], list[tuple[float, SplitPath]]]:
    """The split nodes of a tree in depth-first order, and each leaf's value with its path."""
    nodes: list[_Node] = []
    leaves: list[tuple[float, SplitPath]] = []

    def walk(d: dict, path: SplitPath) -> None:
        if "leaf_value" in d:
            leaves.append((float(d["leaf_value"]), path))
            return
        j = len(nodes)
        cat = d["decision_type"] == "=="
        thr = d["threshold"]
        nodes.append(
            _Node(
                feature=int(d["split_feature"]),
                categorical=cat,
                threshold=float("nan") if cat else float(thr),
                cats=np.array([float(v) for v in str(thr).split("||")]) if cat else np.zeros(0),
                default_left=bool(d["default_left"]),
                missing=str(d.get("missing_type", "None")),
            )
        )
        if len(nodes) > MAX_NODES:
            raise _TooDeep
        cover = _count(d)
        for child, left in ((d["left_child"], True), (d["right_child"], False)):
            walk(child, [*path, (j, left, _count(child) / cover if cover else 0.0)])

    walk(root, [])
    return nodes, leaves


def _shapley_weight(
    i: int, one: dict[int, np.ndarray], zero: dict[int, float], m: int
) -> np.ndarray:
    """Sum over coalitions S of the other path features of |S|!(p-|S|-1)!/p! times the product of
    'present' (one) and 'absent' (zero) factors, for every pattern of the 2**m split outcomes."""
    others = [d for d in one if d != i]
    p = len(one)
    total = np.zeros(2**m)
    for s in range(p):
        w = factorial(s) * factorial(p - s - 1) / factorial(p)
        for S in itertools.combinations(others, s):
            term = np.full(2**m, w)
            for d in others:
                term = term * (one[d] if d in S else zero[d])
            total += term
    return total


def _count(d: dict) -> float:
    return float(d["leaf_count"] if "leaf_count" in d else d["internal_count"])
