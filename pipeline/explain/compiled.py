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
    XT,
    lo,
    hi,
    out,
    raw,
    n_nodes,
    feat,
    thr,
    kind,
    dleft,
    cstart,
    cend,
    cats,
    toff,
    tk,
    foff,
    feats,
    tab,
    loff,
    leaf,
):  # pragma: no cover - the compiled version runs; this is its source
    # Tiles of rows, each tree over the whole tile, node by node: the inner loops run over the
    # tile's rows with one split (or one table column) fixed, reading XT[f] and out[f]
    # contiguously, which the compiler turns into vector code. Every out[f, r] and raw[r] still
    # sums the trees in model order, as LightGBM adds its trees' leaf values.
    code = np.zeros(TILE, np.int64)
    for a in range(lo, hi, TILE):
        w = min(a + TILE, hi) - a
        for t in range(n_nodes.shape[0]):
            code[:w] = 0
            for j in range(n_nodes[t]):
                x = XT[feat[t, j], a : a + w]
                if kind[t, j] == KIND_CAT:
                    _cat_bits(x, code, j, cats[cstart[t, j] : cend[t, j]])
                else:
                    _num_bits(x, code, j, kind[t, j], thr[t, j], dleft[t, j])
            lf = leaf[loff[t] : loff[t] + (1 << n_nodes[t])]
            for i in range(w):
                raw[a + i] += lf[code[i]]
            k_t = tk[t]
            for k in range(k_t):
                col = out[feats[foff[t] + k], a : a + w]
                entries = tab[toff[t] + k :]
                for i in range(w):
                    col[i] += entries[code[i] * k_t]


def _cat_bits_py(x, code, j, listed):  # pragma: no cover - compiled; LightGBM's decision
    """Bit j of each row's code: set when its category is listed (NaN and others go right)."""
    for i in range(len(x)):
        hit = False
        for c in listed:
            hit |= x[i] == c
        code[i] |= np.int64(hit) << j


def _num_bits_py(x, code, j, kd, th, dl):  # pragma: no cover - compiled; LightGBM's decision
    """Bit j of each row's code: set when the row goes left at a numeric split. NaN is the
    missing value of a NaN split; elsewhere it counts as 0.0, and at a Zero split a value within
    K_ZERO of 0 is the missing value (LightGBM's `NumericalDecision`)."""
    for i in range(len(x)):
        f = x[i]
        nan = np.isnan(f)
        if kd == KIND_NAN:
            left = dl if nan else f <= th
        else:
            f = 0.0 if nan else f
            left = dl if (kd == KIND_ZERO and abs(f) <= K_ZERO) else f <= th
        code[i] |= np.int64(left) << j


def _compile():
    """The jitted walk, cached on disk when some cache directory is writable; None without numba
    or when it cannot compile here."""
    try:  # imported here: commands that never walk many rows do not pay for importing numba
        import numba
    except ImportError:
        return None
    global _cat_bits, _num_bits
    for cache in (True, False):
        try:
            _cat_bits = numba.njit(nogil=True, cache=cache, inline="always")(_cat_bits_py)
            _num_bits = numba.njit(nogil=True, cache=cache, inline="always")(_num_bits_py)
            fn = numba.njit(nogil=True, cache=cache)(_walk_py)
            _smoke(fn)
            return fn
        except (numba.core.errors.NumbaError, OSError, RuntimeError) as e:  # no compiler, no cache
            log.debug("numba walk (cache=%s) not usable: %s", cache, e)
    return None


def _smoke(fn) -> None:
    """Compile (or load from cache) on a one-node tree, so failures surface here, once."""
    i1 = np.ones(1, np.int64)
    i2 = np.zeros((1, 1), np.int64)
    out = np.zeros((2, 1))
    z = np.zeros(1, np.int64)
    nodes = (i1, i2, np.zeros((1, 1)), np.zeros((1, 1), np.int8), np.zeros((1, 1), np.bool_))
    tables = (i2, i2, np.zeros(1), z, i1, z, z, np.zeros(2), z, np.zeros(2))
    fn(np.zeros((1, 1)), 0, 1, out, np.zeros(1), *nodes, *tables)


_cat_bits, _num_bits = _cat_bits_py, _num_bits_py
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


def walk(X: np.ndarray, out: np.ndarray, raw: np.ndarray, arrays: tuple) -> None:
    """Add every tree's table entry for each row of X into `out` (features x rows) and its leaf
    value into `raw` (rows), in place; blocks of rows run on a thread pool (the compiled code
    holds no GIL)."""
    fn = walker()
    n = len(X)
    XT = np.ascontiguousarray(np.asarray(X, dtype=np.float64).T)  # a feature's rows contiguous
    workers = min(os.cpu_count() or 1, max(1, n // BLOCK))
    if workers <= 1:
        fn(XT, 0, n, out, raw, *arrays)
        return
    bounds = list(range(0, n, BLOCK)) + [n]
    with ThreadPoolExecutor(workers) as pool:
        jobs = [pool.submit(fn, XT, a, b, out, raw, *arrays) for a, b in itertools.pairwise(bounds)]
        for j in jobs:
            j.result()
