"""Agreement statistics of two readers: Cohen's kappa with its 95% CI (large-sample standard error of
Fleiss, Cohen & Everitt 1969), ICC(2,1) (two-way random effects, absolute agreement, single rater;
Shrout & Fleiss 1979, McGraw & Wong 1996 CI) and Bland-Altman bias with 95% limits of agreement.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

Z_95 = 1.959963984540054  # standard normal 97.5% quantile


@dataclass(frozen=True)
class Kappa:
    """Cohen's kappa over ``n`` pairs: estimate, standard error, 95% CI (clipped to [-1, 1]),
    observed and chance agreement. ``kappa`` is None (undefined, ``reason`` says why) with fewer
    than 2 pairs, or when a reader used one category throughout (no variance: chance agreement
    equals observed agreement by construction); ``se``/CI are None then."""

    kappa: float | None
    se: float | None
    ci_low: float | None
    ci_high: float | None
    n: int
    observed: float | None
    expected: float | None
    reason: str = ""

    def text(self, digits: int = 2) -> str:
        """The kappa as printed: "0.40", or "undefined (only 1 case with both values)"."""
        return f"{self.kappa:.{digits}f}" if self.kappa is not None else f"undefined ({self.reason})"


@dataclass(frozen=True)
class ICC:
    """ICC(2,1) over ``n`` targets and ``k`` raters with its 95% CI; None when not computable
    (n < 2, or no variance at all)."""

    icc: float | None
    ci_low: float | None
    ci_high: float | None
    n: int
    k: int


@dataclass(frozen=True)
class BlandAltman:
    """Bland-Altman of reader A - reader B over ``n`` pairs: bias (mean difference), SD of the
    differences (n - 1), and the 95% limits bias -/+ 1.96 SD (SD/limits None when n < 2)."""

    bias: float | None
    sd: float | None
    lower: float | None
    upper: float | None
    n: int


def cohen_kappa(a: Sequence[Any], b: Sequence[Any]) -> Kappa:
    """Take two equal-length sequences of category labels (pairs with a None are left out); return
    Cohen's kappa with the Fleiss-Cohen-Everitt (1969) large-sample SE and a 95% normal CI."""
    if len(a) != len(b):
        raise ValueError(f"kappa: reader A has {len(a)} values, reader B {len(b)}")
    pairs = [(x, y) for x, y in zip(a, b) if x is not None and y is not None]
    n = len(pairs)
    if n == 0:
        return Kappa(None, None, None, None, 0, None, None, "no case with both readers' values")
    categories = sorted({_label(v) for pair in pairs for v in pair})
    index = {c: i for i, c in enumerate(categories)}
    table = np.zeros((len(categories), len(categories)))
    for x, y in pairs:
        table[index[_label(x)], index[_label(y)]] += 1
    p = table / n
    rows, cols = p.sum(axis=1), p.sum(axis=0)
    observed = float(np.trace(p))
    expected = float(rows @ cols)
    if n < 2:
        return Kappa(None, None, None, None, n, observed, expected, "only 1 pair with both values")
    for name, margins in (("A", rows), ("B", cols)):
        if np.count_nonzero(margins) == 1 or math.isclose(expected, 1.0):
            return Kappa(None, None, None, None, n, observed, expected,
                         f"reader {name} used one category only (no variance)")
    kappa = (observed - expected) / (1 - expected)
    se = low = high = None
    if n >= 2:
        diag = np.diag(p)
        term1 = float((diag * (1 - (rows + cols) * (1 - kappa)) ** 2).sum())
        spread = (cols[:, None] + rows[None, :]) ** 2  # (p.i + pj.)^2 for cell (i, j)
        off = p * spread
        term2 = (1 - kappa) ** 2 * float(off.sum() - np.trace(off))
        term3 = (kappa - expected * (1 - kappa)) ** 2
        variance = max(0.0, (term1 + term2 - term3) / (n * (1 - expected) ** 2))
        se = math.sqrt(variance)
        low, high = max(-1.0, kappa - Z_95 * se), min(1.0, kappa + Z_95 * se)
    return Kappa(kappa, se, low, high, n, observed, expected)


def _label(value: Any) -> str:
    # booleans and strings in one sortable space; True and 1 stay apart
    return f"{type(value).__name__}:{value}"


def icc_2_1(ratings) -> ICC:
    """Take an (n targets, k raters) array of numbers (rows with a NaN are left out); return
    ICC(2,1) (two-way random, absolute agreement, single rater) with the McGraw & Wong (1996)
    95% CI. Shrout & Fleiss (1979): (BMS - EMS) / (BMS + (k-1) EMS + k (JMS - EMS) / n)."""
    from scipy.special import fdtri  # F quantile; lighter to import than scipy.stats

    x = np.asarray(ratings, dtype=float)
    if x.ndim != 2 or x.shape[1] < 2:
        raise ValueError(f"ICC: expected an (n targets, k >= 2 raters) array, got shape {x.shape}")
    x = x[~np.isnan(x).any(axis=1)]
    n, k = x.shape
    if n < 2:
        return ICC(None, None, None, n, k)
    grand = x.mean()
    ss_rows = k * ((x.mean(axis=1) - grand) ** 2).sum()
    ss_cols = n * ((x.mean(axis=0) - grand) ** 2).sum()
    ss_error = ((x - grand) ** 2).sum() - ss_rows - ss_cols
    bms = ss_rows / (n - 1)
    jms = ss_cols / (k - 1)
    ems = ss_error / ((n - 1) * (k - 1))
    denominator = bms + (k - 1) * ems + k * (jms - ems) / n
    if denominator <= 0:
        return ICC(None, None, None, n, k)
    icc = (bms - ems) / denominator
    low = high = None
    if ems > 0:
        # McGraw & Wong (1996) case 2A: F-based CI with Satterthwaite degrees of freedom
        a = k * icc / (n * (1 - icc))
        b = 1 + k * icc * (n - 1) / (n * (1 - icc))
        v_num = (a * jms + b * ems) ** 2
        v_den = (a * jms) ** 2 / (k - 1) + (b * ems) ** 2 / ((n - 1) * (k - 1))
        v = v_num / v_den if v_den > 0 else 1e12
        f_low = fdtri(n - 1, v, 0.975)
        f_high = fdtri(v, n - 1, 0.975)
        low = n * (bms - f_low * ems) / (f_low * (k * jms + (k * n - k - n) * ems) + n * bms)
        high = n * (f_high * bms - ems) / (k * jms + (k * n - k - n) * ems + n * f_high * bms)
        low, high = float(max(-1.0, low)), float(min(1.0, high))
    return ICC(float(icc), low, high, n, k)


def bland_altman(a: Sequence[float | None], b: Sequence[float | None]) -> BlandAltman:
    """Take two equal-length sequences of numbers (pairs with a None are left out); return the
    Bland-Altman bias (mean of a - b), SD of the differences and the 95% limits of agreement."""
    if len(a) != len(b):
        raise ValueError(f"Bland-Altman: reader A has {len(a)} values, reader B {len(b)}")
    diffs = np.array([x - y for x, y in zip(a, b) if x is not None and y is not None], dtype=float)
    n = int(diffs.size)
    if n == 0:
        return BlandAltman(None, None, None, None, 0)
    bias = float(diffs.mean())
    if n < 2:
        return BlandAltman(bias, None, None, None, n)
    sd = float(diffs.std(ddof=1))
    return BlandAltman(bias, sd, bias - Z_95 * sd, bias + Z_95 * sd, n)
