"""The SHAP table walk of `fastshap` as compiled code (numba), threaded over blocks of rows.

Why: the numpy walk in `fastshap` makes ~10 array passes per tree, ~3,000 per chunk, each one
reading and writing a whole column; the compiled walk reads a row's few split features once per
tree and adds the table entry in place, ~10x less work, and releases the GIL so blocks of rows run
on every core. The arithmetic is the numpy walk's, in the same order (trees in model order, a
tree's features in table order), so the values are the same to the last bit.

numba is optional at run time: when it cannot be imported or cannot compile, `available()` is
False and `fastshap` keeps its numpy walk. The compiled code is cached on disk (`cache=True`) so a
run does not pay the ~1 s compile again; where the package directory is read-only numba uses its
user-wide cache, and where no cache is writable it compiles in memory once per process.
"""

from __future__ import annotations

import itertools
import logging
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

log = logging.getLogger(__name__)

BLOCK = 8_192  # rows per thread task: big enough to amortise the call, small enough to balance
TILE = 256  # rows walked tree by tree inside a task
KIND_NONE, KIND_ZERO, KIND_NAN, KIND_CAT = 0, 1, 2, 3
K_ZERO = 1e-35

SMALL = 5_000  # fewer rows than this do not load numba just for themselves (numpy walk instead)


def _walk_py(
    X, lo, hi, out, n_nodes, feat, thr, kind, dleft, cstart, cend, cats, toff, tk, foff, feats, tab
):  # pragma: no cover - the compiled version runs; this is its source
    # tiles of rows, each tree over the whole tile: the tree's nodes stay in registers and the
    # tile's rows of X and of `out` stay in cache; every out[f, r] still sums trees in order
    for a in range(lo, hi, TILE):
        b = min(a + TILE, hi)
        for t in range(n_nodes.shape[0]):
            for r in range(a, b):
                base = (
                    toff[t]
                    + _code(X, r, t, n_nodes, feat, thr, kind, dleft, cstart, cend, cats) * tk[t]
                )
                for k in range(tk[t]):
                    out[feats[foff[t] + k], r] += tab[base + k]


def _code_py(X, r, t, n_nodes, feat, thr, kind, dleft, cstart, cend, cats):  # pragma: no cover
    """Which way row r goes at each split of tree t, as bits (bit j set = left at node j)."""
    code = 0
    for j in range(n_nodes[t]):
        f = X[r, feat[t, j]]
        kd = kind[t, j]
        if kd == KIND_CAT:  # listed categories go left; NaN and others go right
            hit = False
            for q in range(cstart[t, j], cend[t, j]):
                hit |= f == cats[q]
            code |= np.int64(hit) << j
            continue
        nan = np.isnan(f)
        if kd == KIND_NAN:
            missing = nan
        else:
            f = 0.0 if nan else f
            missing = (kd == KIND_ZERO) & (abs(f) <= K_ZERO)
        left = (missing & dleft[t, j]) | (~missing & (f <= thr[t, j]))
        code |= np.int64(left) << j
    return code


def _compile():
    """The jitted walk, cached on disk when some cache directory is writable; None without numba
    or when it cannot compile here."""
    try:  # imported here: commands that never walk many rows do not pay for importing numba
        import numba
    except ImportError:
        return None
    global _code
    for cache in (True, False):
        try:
            _code = numba.njit(nogil=True, cache=cache, inline="always")(_code_py)
            fn = numba.njit(nogil=True, cache=cache)(_walk_py)
            _smoke(fn)
            return fn
        except Exception as e:  # noqa: BLE001 - any numba failure means: use the numpy walk
            log.debug("numba walk (cache=%s) not usable: %s", cache, e)
    return None


def _smoke(fn) -> None:
    """Compile (or load from cache) on a one-node tree, so failures surface here, once."""
    i1 = np.ones(1, np.int64)
    i2 = np.zeros((1, 1), np.int64)
    out = np.zeros((2, 1))
    z = np.zeros(1, np.int64)
    nodes = (i1, i2, np.zeros((1, 1)), np.zeros((1, 1), np.int8), np.zeros((1, 1), np.bool_))
    tables = (i2, i2, np.zeros(1), z, i1, z, z, np.zeros(2))
    fn(np.zeros((1, 1)), 0, 1, out, *nodes, *tables)


_code = _code_py
_FN: list = []


def walker():
    """The compiled walk (compiled on first use), or None."""
    if not _FN:
        _FN.append(None if os.environ.get("LEADSCORE_NO_NUMBA") else _compile())
    return _FN[0]


def available() -> bool:
    return walker() is not None


def worth_it(n: int) -> bool:
    """Whether n rows should take the compiled walk: always once it is loaded (a server warms it
    up at load), else only for batches big enough to repay loading numba (~1 s)."""
    return (bool(_FN) or n >= SMALL) and available()


def walk(X: np.ndarray, out: np.ndarray, arrays: tuple) -> None:
    """Add every tree's table entry for each row of X into `out` (features x rows), in place;
    blocks of rows run on a thread pool (the compiled code holds no GIL)."""
    fn = walker()
    n = len(X)
    X = np.ascontiguousarray(X, dtype=np.float64)
    workers = min(os.cpu_count() or 1, max(1, n // BLOCK))
    if workers <= 1:
        fn(X, 0, n, out, *arrays)
        return
    bounds = list(range(0, n, BLOCK)) + [n]
    with ThreadPoolExecutor(workers) as pool:
        jobs = [pool.submit(fn, X, a, b, out, *arrays) for a, b in itertools.pairwise(bounds)]
        for j in jobs:
            j.result()
