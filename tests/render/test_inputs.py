"""Bad render inputs give one-line ``mocklens.errors`` messages before any work."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits

from mocklens.errors import ConfigError, KernelInputError
from mocklens.models.instrument import PSF, NoiseModel, PixelGrid
from mocklens.models.light import flux_from_magnitude, pack_light, sersic_amp_from_magnitude


def _kernel(n=7):
    k = np.exp(-0.5 * ((np.arange(n) - n // 2) ** 2)[:, None] / 2.0) * np.exp(
        -0.5 * ((np.arange(n) - n // 2) ** 2)[None, :] / 2.0
    )
    return k


def test_psf_files_load_and_normalise(tmp_path):
    k = 3.0 * _kernel()
    np.save(tmp_path / "k.npy", k)
    fits.PrimaryHDU(k).writeto(tmp_path / "k.fits")
    for name in ("k.npy", "k.fits"):
        psf = PSF.from_file(tmp_path / name)
        assert psf.kind == "PIXEL" and psf.kernel.sum() == pytest.approx(1.0, abs=1e-15)
        np.testing.assert_allclose(psf.kernel, k / k.sum())


@pytest.mark.parametrize(
    "data, message",
    [
        (np.ones((6, 6)), "even"),
        (np.ones((5, 7)), "square"),
        (np.ones((3, 3, 3)), "square"),
        (np.zeros((5, 5)), "not positive"),
        (-np.ones((5, 5)), "not positive"),
        (np.full((5, 5), np.nan), "non-finite"),
    ],
)
def test_bad_psf_kernels_are_refused(tmp_path, data, message):
    np.save(tmp_path / "bad.npy", data)
    with pytest.raises(KernelInputError, match=message) as err:
        PSF.from_file(tmp_path / "bad.npy")
    assert "\n" not in str(err.value) and "bad.npy" in str(err.value)
    assert err.value.exit_code == 2


def test_missing_or_unreadable_psf_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        PSF.from_file(tmp_path / "nope.fits")
    (tmp_path / "junk.fits").write_text("not fits")
    with pytest.raises(ConfigError, match="FITS"):
        PSF.from_file(tmp_path / "junk.fits")


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: PixelGrid(64, 64, 0.1, 9), "supersampling"),
        (lambda: PixelGrid(0, 64, 0.1), "n_rows"),
        (lambda: PixelGrid(64, 64, -0.1), "pixel_scale"),
        (lambda: PSF.gaussian(0.0), "fwhm"),
        (lambda: PSF.moffat(0.5, 1.0), "beta"),
        (lambda: PSF.gaussian(100.0).prepare(0.01), "radius"),
        (lambda: NoiseModel(22.0, 25.0, 0.0), "exposure_time"),
        (lambda: NoiseModel(22.0, 25.0, 10.0, n_exposures=0), "n_exposures"),
        (lambda: flux_from_magnitude(20.0, None), "zero point"),
        (lambda: sersic_amp_from_magnitude(20.0, float("nan"), 0.3, 1.0), "zero point"),
        (lambda: pack_light(("SERSIC",), [{}]), "unknown profile"),
        (
            lambda: pack_light(("SERSIC_ELLIPSE",), [dict(amp=1.0, R_sersic=0.0, n_sersic=1.0,
                                                          e1=0, e2=0, center_x=0, center_y=0)]),
            "R_sersic",
        ),
    ],
)
def test_bad_settings_are_refused(build, message):
    with pytest.raises(KernelInputError, match=message) as err:
        build()
    assert "\n" not in str(err.value)


def test_magnitude_round_trip():
    from mocklens.models.light import magnitude_from_flux, sersic_total_flux

    amp = sersic_amp_from_magnitude(21.5, 25.0, 0.3, 1.5)
    assert magnitude_from_flux(sersic_total_flux(amp, 0.3, 1.5), 25.0) == pytest.approx(21.5)
    assert flux_from_magnitude(25.0, 25.0) == pytest.approx(1.0)
