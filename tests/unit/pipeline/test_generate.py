"""The serial core: determinism, independence of batching, selection and physics bookkeeping."""

import numpy as np
import pytest

from mocklens.constants import DAYS_PER_MPC_ARCSEC2
from mocklens.errors import ConfigError
from mocklens.pipeline.generate import compute_range
from tests.conftest import small_config


def _same(a, b):
    for group in ("params", "system", "source", "images"):
        da, db = getattr(a, group), getattr(b, group)
        assert da.keys() == db.keys()
        for key in da:
            np.testing.assert_array_equal(da[key], db[key], err_msg=f"{group}/{key}")


def test_same_samples_whatever_the_batching():
    cfg = small_config(n=400)
    whole = compute_range(cfg, 0, 400)
    parts = [compute_range(cfg, a, b) for a, b in ((0, 7), (7, 250), (250, 400))]
    for group in ("params", "system", "source", "images"):
        for key, val in getattr(whole, group).items():
            joined = np.concatenate([getattr(p, group)[key] for p in parts])
            np.testing.assert_array_equal(val, joined, err_msg=f"{group}/{key}")


def test_seed_changes_samples():
    a = compute_range(small_config(seed=1), 0, 50)
    b = compute_range(small_config(seed=2), 0, 50)
    assert not np.array_equal(a.params["lens/theta_E"], b.params["lens/theta_E"])


def test_delays_follow_fermat_and_ddt():
    r = compute_range(small_config(), 0, 300)
    f = r.images["fermat"]
    expected = (f - f[:, :1]) * r.system["D_dt"][:, None] * DAYS_PER_MPC_ARCSEC2
    np.testing.assert_allclose(r.images["dt"], expected, rtol=1e-14)
    n = r.images["n_images"]
    assert np.all(r.images["dt"][n > 0, 0] == 0.0)
    finite = np.isfinite(r.images["dt"])
    assert np.all(np.nan_to_num(np.diff(r.images["dt"], axis=1), nan=0.0)[finite[:, 1:]] >= 0)


def test_selection_min_images_redraws_and_counts_attempts():
    cfg = small_config(n=200, selection={"min_images": 2})
    r = compute_range(cfg, 0, 200)
    assert np.all(r.images["n_images"] >= 2)
    assert r.attempts_total > 200  # about 60% of default draws are single images
    assert np.all(r.sample["attempts"] >= 1)


def test_selection_source_redraw_keeps_the_lens():
    cfg = small_config(n=100, selection={"min_images": 2, "redraw": "source"})
    r = compute_range(cfg, 0, 100)
    first = compute_range(small_config(n=100), 0, 100)
    np.testing.assert_array_equal(r.params["lens/theta_E"], first.params["lens/theta_E"])
    assert np.all(r.images["n_images"] >= 2)


def test_min_separation_cut():
    cfg = small_config(n=100, selection={"min_images": 2, "min_separation": 1.5})
    r = compute_range(cfg, 0, 100)
    x, y = r.images["x"], r.images["y"]
    d = np.hypot(x[:, :, None] - x[:, None, :], y[:, :, None] - y[:, None, :])
    k = x.shape[1]
    d[:, np.arange(k), np.arange(k)] = np.inf
    assert np.nanmin(d) >= 1.5


def test_impossible_selection_fails_with_clear_message():
    cfg = small_config(n=5, selection={"min_images": 5, "max_attempts": 3})
    with pytest.raises(ConfigError, match="rejected 3 times"):
        compute_range(cfg, 0, 5)


@pytest.mark.parametrize("placement", ["source_plane", "caustic"])
def test_other_placements(placement):
    cfg = small_config(n=200, source={"placement": placement, "radius": 1.0})
    r = compute_range(cfg, 0, 200)
    assert np.all(r.source["density"] * r.source["area"] == pytest.approx(1.0))
    if placement == "caustic":
        # inside the tangential caustic every source has at least three images
        assert np.all(r.images["n_images"] >= 3)
        assert np.all(r.source["area"] > 0.0)


def test_image_plane_density_is_consistent():
    r = compute_range(small_config(n=300), 0, 300)
    # the drawn image is one of the images, so the density is at least |mu| / area of one image
    assert np.all(r.source["density"] > 0.0)
