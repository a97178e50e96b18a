"""Counter-based uniforms: known answers, split invariance, uniformity, independence."""

import numpy as np
import pytest
from scipy import stats

from mocklens.priors.random import (
    philox4x32,
    root_key,
    stream_id,
    uniform,
    uniform_pair,
)

#: KS p-value below which a uniformity test fails; 1e-3 keeps false alarms rare over the suite.
KS_P_MIN = 1e-3
#: |Pearson r| allowed between streams/neighbours for 1e5 pairs (~ 6 sigma of 1/sqrt(1e5)).
CORR_MAX = 0.02
N = 100_000


@pytest.mark.parametrize(
    ("counter", "key", "expected"),
    [
        ([0, 0, 0, 0], [0, 0], [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]),
        ([0xFFFFFFFF] * 4, [0xFFFFFFFF] * 2, [0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD]),
        (
            [0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344],
            [0xA4093822, 0x299F31D0],
            [0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1],
        ),
    ],
)
def test_philox_known_answers(counter, key, expected):
    # Random123 kat_vectors for philox4x32-10 (Salmon et al. 2011)
    out = philox4x32(*[np.array([c], dtype=np.uint64) for c in counter], *key)
    assert [int(o[0]) for o in out] == expected


def test_stream_id_stable():
    # a changed stream number would silently change every published dataset
    assert stream_id("lens/theta_E") == 0x6AD785DF
    assert stream_id("lens/theta_E") == stream_id("lens/theta_E")
    assert stream_id("lens/theta_E") != stream_id("lens/gamma")
    assert 0 <= stream_id("x") < 2**32


def test_root_key():
    assert root_key(1) == root_key(1)
    assert root_key(1) != root_key(2)
    assert root_key(1).dtype == np.uint64
    with pytest.raises(ValueError):
        root_key(-1)


def test_bit_identical_for_any_split():
    key, s = root_key(7), stream_id("lens/theta_E")
    idx = np.arange(1000, dtype=np.int64)
    att = (idx % 3).astype(np.int64)
    whole = uniform(key, idx, s, att)
    rng = np.random.default_rng(0)
    perm = rng.permutation(idx.size)
    shuffled = uniform(key, idx[perm], s, att[perm])
    np.testing.assert_array_equal(shuffled, whole[perm])
    pieces = np.concatenate(
        [uniform(key, idx[a:b], s, att[a:b]) for a, b in [(0, 1), (1, 17), (17, 500), (500, 1000)]]
    )
    np.testing.assert_array_equal(pieces, whole)
    one = np.array([uniform(key, idx[i : i + 1], s, att[i : i + 1])[0] for i in (0, 999)])
    np.testing.assert_array_equal(one, whole[[0, 999]])


def test_large_indices_and_scalar_attempt():
    key, s = root_key(1), 3
    idx = np.array([0, 2**32, 2**32 + 1, 2**62], dtype=np.int64)
    u = uniform(key, idx, s, 0)
    assert len(set(u.tolist())) == 4
    np.testing.assert_array_equal(u, uniform(key, idx, s, np.zeros(4, dtype=np.int64)))


@pytest.mark.parametrize("stream", ["lens/theta_E", "shear/polar/angle", "lens/z_source"])
def test_uniformity(stream):
    u = uniform(root_key(1), np.arange(N, dtype=np.int64), stream_id(stream), 0)
    assert stats.kstest(u, "uniform").pvalue > KS_P_MIN
    assert np.all((u > 0) & (u < 1))


def test_pair_and_sub_uniform():
    idx = np.arange(N, dtype=np.int64)
    u1, u2 = uniform_pair(root_key(2), idx, 5, 0)
    np.testing.assert_array_equal(u1, uniform(root_key(2), idx, 5, 0))
    for u in (u2, uniform(root_key(2), idx, 5, 0, sub=1)):
        assert stats.kstest(u, "uniform").pvalue > KS_P_MIN
    assert abs(np.corrcoef(u1, u2)[0, 1]) < CORR_MAX


def test_no_correlation_between_neighbours_streams_attempts():
    key = root_key(3)
    idx = np.arange(N, dtype=np.int64)
    base = uniform(key, idx, 1, 0)
    others = {
        "neighbour index": uniform(key, idx + 1, 1, 0),
        "next stream": uniform(key, idx, 2, 0),
        "next attempt": uniform(key, idx, 1, 1),
        "next sub": uniform(key, idx, 1, 0, sub=1),
        "next seed": uniform(root_key(4), idx, 1, 0),
    }
    for name, other in others.items():
        assert abs(np.corrcoef(base, other)[0, 1]) < CORR_MAX, name
        assert not np.any(base == other), name
    # serial correlation along the index
    assert abs(np.corrcoef(base[:-1], base[1:])[0, 1]) < CORR_MAX


def test_extremes_never_zero_or_one():
    # the smallest and largest attainable values map to (m + 1/2) 2^-52 for m = 0 and 2^52 - 1
    lo, hi = (0 + 0.5) * 2.0**-52, (2**52 - 1 + 0.5) * 2.0**-52
    assert 0.0 < lo and hi < 1.0


def test_argument_checks():
    key = root_key(1)
    with pytest.raises(ValueError):
        uniform(key, np.array([-1]), 1, 0)
    with pytest.raises(ValueError):
        uniform(key, np.array([[1]]), 1, 0)
    with pytest.raises(ValueError):
        uniform(key, np.array([1]), 1, -1)
    with pytest.raises(ValueError):
        uniform(key, np.array([1.0]), 1, 0)
