#!/usr/bin/env python3
"""Bjontegaard delta metrics (BD-rate, BD-PSNR) between two rate-distortion curves. Pure Python, no numpy.

Two interpolations of the curves, both in the log10-rate domain and integrated over the range where the curves
overlap:

  cubic  G. Bjontegaard, "Calculation of average PSNR differences between RD-curves", VCEG-M33 (2001): a
         least-squares third-order polynomial through all points of a curve (needs >= 4 points per curve). The
         classic definition, still what most neural-codec papers report.
  pchip  piecewise cubic Hermite interpolation (Fritsch-Carlson, with the slopes and end conditions of
         scipy.interpolate.PchipInterpolator), as in the JCT-VC / JVET common-test-conditions spreadsheets
         (JCTVC-L1100). Needs >= 2 points per curve and cannot overshoot between points, so it also works for the
         three-point nvc curves.

BD-rate: mean of log10(rate_test) - log10(rate_anchor) over the common quality range -> (10^mean - 1) * 100 %
(negative = the test codec needs fewer bits for the same quality). BD-PSNR (BD-quality): mean of quality_test -
quality_anchor over the common log10-rate range, in the unit of the quality (dB for PSNR).

When a metric does not apply (too few points, no overlap) the functions raise NotApplicable with the reason.

    python3 bench/bd.py --selftest
"""
import math
import sys

CUBIC = "cubic"
PCHIP = "pchip"
METHODS = (CUBIC, PCHIP)


class NotApplicable(ValueError):
    """The curves do not allow the metric (fewer points than the fit needs, no overlapping range)."""


# ---- polynomials (coefficients lowest order first) -----------------------------------------------------------------

def _solve(a, b):
    """Solves the small dense system a x = b by Gaussian elimination with partial pivoting."""
    n = len(b)
    m = [list(row) + [rhs] for row, rhs in zip(a, b)]
    for col in range(n):
        piv = max(range(col, n), key=lambda r: abs(m[r][col]))
        if abs(m[piv][col]) < 1e-300:
            raise NotApplicable("singular fit (repeated quality values)")
        m[col], m[piv] = m[piv], m[col]
        for r in range(col + 1, n):
            f = m[r][col] / m[col][col]
            for c in range(col, n + 1):
                m[r][c] -= f * m[col][c]
    x = [0.0] * n
    for r in range(n - 1, -1, -1):
        x[r] = (m[r][n] - sum(m[r][c] * x[c] for c in range(r + 1, n))) / m[r][r]
    return x


def _poly_integral(coef, a, b):
    """Integral of sum coef[k] t^k over [a, b]."""
    return sum(c * (b ** (k + 1) - a ** (k + 1)) / (k + 1) for k, c in enumerate(coef))


class _Cubic:
    """Least-squares cubic y(x). x is centred and scaled to [-1, 1] first: raw PSNR values (x^6 ~ 1e10 in the normal
    equations) would make the fit needlessly ill-conditioned; the fitted polynomial is the same."""

    def __init__(self, xs, ys):
        if len(set(xs)) < 4:
            raise NotApplicable("cubic fit needs >= 4 distinct points per curve, got %d" % len(set(xs)))
        self.c = (max(xs) + min(xs)) / 2
        self.s = (max(xs) - min(xs)) / 2
        t = [(x - self.c) / self.s for x in xs]
        ata = [[sum(ti ** (i + j) for ti in t) for j in range(4)] for i in range(4)]
        aty = [sum(ti ** i * yi for ti, yi in zip(t, ys)) for i in range(4)]
        self.coef = _solve(ata, aty)

    def __call__(self, x):
        t = (x - self.c) / self.s
        return sum(c * t ** k for k, c in enumerate(self.coef))

    def integrate(self, a, b):
        return self.s * _poly_integral(self.coef, (a - self.c) / self.s, (b - self.c) / self.s)


class _Pchip:
    """Piecewise cubic Hermite interpolant y(x) with scipy's PchipInterpolator slopes (weighted harmonic mean inside,
    non-centred three-point formula with shape-preserving limits at the ends, straight line for two points)."""

    def __init__(self, xs, ys):
        pts = sorted(zip(xs, ys))
        self.x = [p[0] for p in pts]
        self.y = [p[1] for p in pts]
        n = len(self.x)
        if n < 2:
            raise NotApplicable("pchip needs >= 2 points per curve, got %d" % n)
        if any(b <= a for a, b in zip(self.x, self.x[1:])):
            raise NotApplicable("repeated quality/rate values in a curve")
        h = [b - a for a, b in zip(self.x, self.x[1:])]
        m = [(self.y[k + 1] - self.y[k]) / h[k] for k in range(n - 1)]
        if n == 2:
            self.d = [m[0], m[0]]
            return
        d = [0.0] * n
        for k in range(1, n - 1):
            if m[k - 1] * m[k] > 0:  # same strict sign; a local extremum or a flat piece gets slope 0
                w1, w2 = 2 * h[k] + h[k - 1], h[k] + 2 * h[k - 1]
                d[k] = (w1 + w2) / (w1 / m[k - 1] + w2 / m[k])
        d[0] = self._edge(h[0], h[1], m[0], m[1])
        d[-1] = self._edge(h[-1], h[-2], m[-1], m[-2])
        self.d = d

    @staticmethod
    def _edge(h0, h1, m0, m1):
        d = ((2 * h0 + h1) * m0 - h0 * m1) / (h0 + h1)
        sign = lambda v: (v > 0) - (v < 0)
        if sign(d) != sign(m0):
            return 0.0
        if sign(m0) != sign(m1) and abs(d) > abs(3 * m0):
            return 3 * m0
        return d

    def _segment(self, k):
        """Coefficients (lowest order first) of segment k in t = x - x[k]."""
        h = self.x[k + 1] - self.x[k]
        y0, y1, d0, d1 = self.y[k], self.y[k + 1], self.d[k], self.d[k + 1]
        c2 = (3 * (y1 - y0) / h - 2 * d0 - d1) / h
        c3 = (d0 + d1 - 2 * (y1 - y0) / h) / (h * h)
        return [y0, d0, c2, c3]

    def integrate(self, a, b):
        """Integral over [a, b], a <= b, inside [x[0], x[-1]]."""
        total = 0.0
        for k in range(len(self.x) - 1):
            lo, hi = max(a, self.x[k]), min(b, self.x[k + 1])
            if hi > lo:
                total += _poly_integral(self._segment(k), lo - self.x[k], hi - self.x[k])
        return total


def _fit(method, xs, ys):
    if method == CUBIC:
        return _Cubic(xs, ys)
    if method == PCHIP:
        return _Pchip(xs, ys)
    raise ValueError("unknown BD method %r (cubic or pchip)" % method)


def _check(rate, quality, name):
    """Validates one curve; returns it as two lists of Python floats (numpy scalars welcome)."""
    rate, quality = [float(v) for v in rate], [float(v) for v in quality]
    if len(rate) != len(quality):
        raise ValueError("%s: %d rates but %d quality values" % (name, len(rate), len(quality)))
    if any(not (r > 0) or not math.isfinite(r) for r in rate):
        raise NotApplicable("%s: rates must be positive" % name)
    if any(not math.isfinite(q) for q in quality):
        raise NotApplicable("%s: quality values must be finite" % name)
    return rate, quality


def _mean_difference(method, xa, ya, xt, yt, what):
    """Mean of y_test(x) - y_anchor(x) over the common x range of the two curves."""
    lo, hi = max(min(xa), min(xt)), min(max(xa), max(xt))
    if not hi > lo:
        raise NotApplicable("the curves do not overlap in %s" % what)
    fa, ft = _fit(method, xa, ya), _fit(method, xt, yt)
    return (ft.integrate(lo, hi) - fa.integrate(lo, hi)) / (hi - lo)


def bd_rate(rate_anchor, quality_anchor, rate_test, quality_test, method=CUBIC):
    """BD-rate of test against anchor in percent (negative: test saves bits). Rates in any unit (bpp, bytes, kbps)
    as long as both curves use the same one."""
    rate_anchor, quality_anchor = _check(rate_anchor, quality_anchor, "anchor")
    rate_test, quality_test = _check(rate_test, quality_test, "test")
    la = [math.log10(r) for r in rate_anchor]
    lt = [math.log10(r) for r in rate_test]
    mean = _mean_difference(method, quality_anchor, la, quality_test, lt, "quality")
    return (10 ** mean - 1) * 100


def bd_quality(rate_anchor, quality_anchor, rate_test, quality_test, method=CUBIC):
    """BD-PSNR (or BD-MS-SSIM ...): mean quality difference test - anchor at equal rate, in the quality's unit."""
    rate_anchor, quality_anchor = _check(rate_anchor, quality_anchor, "anchor")
    rate_test, quality_test = _check(rate_test, quality_test, "test")
    la = [math.log10(r) for r in rate_anchor]
    lt = [math.log10(r) for r in rate_test]
    return _mean_difference(method, la, quality_anchor, lt, quality_test, "log rate")


bd_psnr = bd_quality


# ---- self-test -----------------------------------------------------------------------------------------------------

# Example data of the FAU-LMS `bjontegaard` package README (x265 at two presets, kbps and PSNR-Y). The expected values
# were computed with numpy.polyfit (cubic, the VCEG-M33 reference code) and scipy.interpolate.PchipInterpolator
# (pchip, which that package reports matches the JVET spreadsheet to 10 decimals); this file reimplements both.
_FAU = dict(rate_anchor=[9487.76, 4593.60, 2486.44, 1358.24], psnr_anchor=[40.037, 38.615, 36.845, 34.851],
            rate_test=[9787.80, 4469.00, 2451.52, 1356.24], psnr_test=[40.121, 38.651, 36.970, 34.987])
_FAU_EXPECTED = {CUBIC: (-4.4204627060956625, 0.12040941911496554),  # (BD-rate %, BD-PSNR dB)
                 PCHIP: (-4.417485350589045, 0.11969278542479489)}


def selftest(verbose=True):
    failures = []

    def expect(name, got, want, tol=1e-9):
        ok = abs(got - want) <= tol
        if verbose:
            print("%-4s %-58s got %+.10f  want %+.10f" % ("ok" if ok else "FAIL", name, got, want))
        if not ok:
            failures.append(name)

    def expect_na(name, fn):
        try:
            v = fn()
        except NotApplicable as e:
            if verbose:
                print("ok   %-58s n/a (%s)" % (name, e))
            return
        failures.append(name)
        if verbose:
            print("FAIL %-58s expected n/a, got %r" % (name, v))

    rate = [0.05, 0.08, 0.13, 0.2, 0.31]
    psnr = [30.1, 32.0, 33.7, 35.2, 36.4]
    for m in METHODS:
        expect("%s: identical curves -> BD-rate 0 %%" % m, bd_rate(rate, psnr, rate, psnr, m), 0.0)
        expect("%s: identical curves -> BD-PSNR 0 dB" % m, bd_psnr(rate, psnr, rate, psnr, m), 0.0)
        half = [r * 0.5 for r in rate]
        expect("%s: rates x 0.5 -> BD-rate -50 %%" % m, bd_rate(rate, psnr, half, psnr, m), -50.0)
        double = [r * 2 for r in rate]
        expect("%s: rates x 2 -> BD-rate +100 %%" % m, bd_rate(rate, psnr, double, psnr, m), 100.0)
        up = [p + 1 for p in psnr]
        expect("%s: PSNR + 1 dB -> BD-PSNR +1 dB" % m, bd_psnr(rate, psnr, rate, up, m), 1.0)
        # Unequal point counts and positions are allowed; a log-linear curve shifted by 1 dB is still +1 dB.
        lin_r = [0.04 * 1.5 ** k for k in range(7)]
        lin_p = [28 + 6 * math.log10(r / 0.04) for r in lin_r]
        sub_r = lin_r[1:6:2] + [lin_r[5] * 1.1]
        sub_p = [28 + 6 * math.log10(r / 0.04) + 1 for r in sub_r]
        expect("%s: log-linear curves, other points, +1 dB" % m, bd_psnr(lin_r, lin_p, sub_r, sub_p, m), 1.0)
        for name, want, fn in (("BD-rate", _FAU_EXPECTED[m][0], bd_rate), ("BD-PSNR", _FAU_EXPECTED[m][1], bd_psnr)):
            got = fn(_FAU["rate_anchor"], _FAU["psnr_anchor"], _FAU["rate_test"], _FAU["psnr_test"], m)
            expect("%s: FAU-LMS example %s" % (m, name), got, want, 1e-6)
        expect_na("%s: disjoint curves" % m, lambda m=m: bd_rate([1, 2], [30, 31], [3, 4], [35, 36], m))
    expect_na("cubic: 3 points", lambda: bd_rate(rate[:3], psnr[:3], rate, psnr, CUBIC))
    expect("pchip: 3 points (allowed)", bd_rate(rate[:3], psnr[:3], [r * 0.5 for r in rate[:3]], psnr[:3], PCHIP),
           -50.0)
    if verbose:
        print("bd.py self-test: %s" % ("all passed" if not failures else "%d FAILED" % len(failures)))
    return not failures


if __name__ == "__main__":
    if sys.argv[1:] == ["--selftest"]:
        sys.exit(0 if selftest() else 1)
    print("usage: python3 bench/bd.py --selftest   (import it for bd_rate / bd_psnr)", file=sys.stderr)
    sys.exit(2)
