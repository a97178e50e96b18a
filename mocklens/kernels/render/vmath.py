"""Vectorisable ``exp`` and ``log`` over short blocks of float64.

PyPI's llvmlite has no SVML, so ``math.exp``/``math.log`` in a numba loop are scalar library
calls that stop the loop from vectorising. These block functions do the same job with integer
bit manipulation and polynomials that LLVM vectorises (AVX2: 4 lanes, AVX-512: 8).

Accuracy: a few ulp (relative error below 1e-15, tested against ``numpy`` in
``tests/render/test_vmath.py``) for ``exp`` on [-700, 700] and ``log`` on positive normal
numbers. No special values: callers keep arguments finite (``exp``: clamped to [-700, 700];
``log``: positive, normal).

Each function works in place on ``buf[:n]`` and needs ``ibuf = buf.view(np.int64)`` (same
memory) and a second float scratch ``tmp`` of the same length: the integer view is how a
float's bits are read without a per-element call.
"""

from __future__ import annotations

from mocklens.kernels._jit import jit

_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_INV_LN2 = 1.44269504088896338700e00
#: 1.5 * 2**52: adding it rounds a float below 2**51 in magnitude to an integer.
_ROUND_MAGIC = 6755399441055744.0
#: Bit pattern of ``_ROUND_MAGIC`` (its low mantissa bits then hold the rounded integer).
_ROUND_MAGIC_BITS = 0x4338000000000000
#: 2**52 as bits; ``bits | _TWO52_BITS`` read as float is ``2**52 + bits`` for bits < 2**52.
_TWO52_BITS = 0x4330000000000000
_TWO52 = 4503599627370496.0
_MANT_MASK = 0x000FFFFFFFFFFFFF
_ONE_BITS = 0x3FF0000000000000
_SQRT2 = 1.4142135623730951
_EXP_CLAMP = 700.0


@jit
def vexp(buf, ibuf, tmp, n):
    """Replace ``buf[:n]`` by ``exp(buf[:n])``.

    Parameters
    ----------
    buf : ndarray of float64, shape (>= n,)
        Arguments, clamped to [-700, 700]; written in place with the results.
    ibuf : ndarray of int64, shape (>= n,)
        ``buf.view(np.int64)``.
    tmp : ndarray of float64, shape (>= n,)
        Scratch (overwritten).
    n : int
        Number of elements.

    Notes
    -----
    ``x = k ln2 + r`` with ``k = round(x / ln2)`` and ``|r| <= ln2 / 2``; ``exp(r)`` from its
    Taylor polynomial of degree 13 (truncation error below 1e-17) and ``2**k`` assembled in the
    exponent bits.
    """
    for j in range(n):
        x = min(max(buf[j], -_EXP_CLAMP), _EXP_CLAMP)
        kf = x * _INV_LN2 + _ROUND_MAGIC
        k = kf - _ROUND_MAGIC
        r = (x - k * _LN2_HI) - k * _LN2_LO
        p = 1.0 / 6227020800.0
        p = p * r + 1.0 / 479001600.0
        p = p * r + 1.0 / 39916800.0
        p = p * r + 1.0 / 3628800.0
        p = p * r + 1.0 / 362880.0
        p = p * r + 1.0 / 40320.0
        p = p * r + 1.0 / 5040.0
        p = p * r + 1.0 / 720.0
        p = p * r + 1.0 / 120.0
        p = p * r + 1.0 / 24.0
        p = p * r + 1.0 / 6.0
        p = p * r + 0.5
        p = p * r + 1.0
        p = p * r + 1.0
        tmp[j] = p
        buf[j] = kf
    for j in range(n):
        ibuf[j] = (ibuf[j] - _ROUND_MAGIC_BITS + 1023) << 52
    for j in range(n):
        buf[j] = buf[j] * tmp[j]


@jit
def vlog(buf, ibuf, tmp, itmp, n):
    """Replace ``buf[:n]`` by ``log(buf[:n])``.

    Parameters
    ----------
    buf : ndarray of float64, shape (>= n,)
        Positive normal arguments; written in place with the results.
    ibuf : ndarray of int64, shape (>= n,)
        ``buf.view(np.int64)``.
    tmp : ndarray of float64, shape (>= n,)
        Scratch (overwritten).
    itmp : ndarray of int64, shape (>= n,)
        ``tmp.view(np.int64)``.
    n : int
        Number of elements.

    Notes
    -----
    ``x = 2**e m`` with ``m`` in [sqrt(1/2), sqrt(2)); ``log m = 2 atanh(s)``,
    ``s = (m - 1)/(m + 1)``, ``|s| < 0.172``, from its odd series to ``s**23`` (truncation
    below 1e-19). The exponent becomes a float through the bits of ``2**52 + e``: AVX2 has no
    vector int64 -> float64 conversion.
    """
    for j in range(n):
        bits = ibuf[j]
        itmp[j] = (bits >> 52) | _TWO52_BITS
        ibuf[j] = (bits & _MANT_MASK) | _ONE_BITS
    for j in range(n):
        m = buf[j]
        e = tmp[j] - (_TWO52 + 1023.0)
        big = m > _SQRT2
        m = m * 0.5 if big else m
        e = e + 1.0 if big else e
        s = (m - 1.0) / (m + 1.0)
        s2 = s * s
        p = 2.0 / 23.0
        p = p * s2 + 2.0 / 21.0
        p = p * s2 + 2.0 / 19.0
        p = p * s2 + 2.0 / 17.0
        p = p * s2 + 2.0 / 15.0
        p = p * s2 + 2.0 / 13.0
        p = p * s2 + 2.0 / 11.0
        p = p * s2 + 2.0 / 9.0
        p = p * s2 + 2.0 / 7.0
        p = p * s2 + 2.0 / 5.0
        p = p * s2 + 2.0 / 3.0
        buf[j] = e * _LN2_HI + (s * s2 * p + e * _LN2_LO) + 2.0 * s
