"""Instrument models: pixel grid, PSF and noise, validated once.

Image unit: counts per second [counts/s] (ADU/s) per pixel, sky-subtracted. The zero point
``zp`` is the magnitude of a source that gives 1 count/s; the gain [e-/count] turns counts
into detected electrons, on which the Poisson noise acts; the read noise is [e-] rms per
exposure. This is lenstronomy's ``SimulationAPI`` convention (``magnitude_zero_point``,
``ccd_gain``, ``read_noise``, ``sky_brightness``, ``exposure_time``, ``num_exposures``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.ndimage import spline_filter

from mocklens.errors import ConfigError, KernelInputError
from mocklens.kernels.render.psf import PSF_GAUSSIAN, PSF_MOFFAT, PSF_PIXEL, kernel_bank

#: Largest supersampling factor accepted.
MAX_SUPERSAMPLING = 8
#: Gaussian stamps reach this many sigma beyond the pixel half-width (lenstronomy truncates
#: at 5 sigma; the flux beyond is 6e-7).
GAUSSIAN_TRUNCATION_SIGMA = 5.0
#: Moffat stamps reach the radius outside which this fraction of the flux lies; the stamp is
#: then renormalised to unit sum.
MOFFAT_FLUX_TAIL = 1e-3
#: Gauss-Legendre nodes per axis per pixel for the Moffat (analytic integrand: 1e-8 at 8).
MOFFAT_QUADRATURE_NODES = 8
#: Largest PSF stamp radius [pixel].
MAX_PSF_RADIUS = 128
#: Zero padding of a pixel kernel before its B-spline prefilter [pixel].
SPLINE_PAD = 12
#: Half-width of the quintic B-spline support [pixel].
SPLINE_SUPPORT = 3
#: A pixel kernel's total must exceed this before normalisation.
MIN_KERNEL_TOTAL = 1e-12

FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))


@dataclass(frozen=True)
class PixelGrid:
    """A frame of pixels centred on the optical axis.

    Attributes
    ----------
    n_rows, n_cols : int
        Frame size [pixel] (``image[row, col]``, ``col`` along +x, row 0 at the most negative y;
        pixel centres at ``x = (col - (n_cols - 1)/2) pixel_scale``, same for rows and y).
    pixel_scale : float
        Pixel side [arcsec].
    supersampling : int
        Sub-pixels per axis, 1-8 (midpoints, as lenstronomy).
    """

    n_rows: int
    n_cols: int
    pixel_scale: float
    supersampling: int = 1

    def __post_init__(self):
        for name in ("n_rows", "n_cols"):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or v < 1:
                raise KernelInputError(f"pixel grid {name} must be a positive integer, got {v!r}")
        if not (np.isfinite(self.pixel_scale) and self.pixel_scale > 0):
            raise KernelInputError(f"pixel_scale must be > 0 arcsec, got {self.pixel_scale!r}")
        s = self.supersampling
        if not isinstance(s, (int, np.integer)) or not 1 <= s <= MAX_SUPERSAMPLING:
            raise KernelInputError(
                f"supersampling must be an integer 1-{MAX_SUPERSAMPLING}, got {s!r}"
            )

    def pixel_centres(self) -> tuple[np.ndarray, np.ndarray]:
        """Pixel-centre coordinates ``x[col]``, ``y[row]`` [arcsec]."""
        x = (np.arange(self.n_cols) - (self.n_cols - 1) / 2.0) * self.pixel_scale
        y = (np.arange(self.n_rows) - (self.n_rows - 1) / 2.0) * self.pixel_scale
        return x, y

    def to_pixel(self, x, y) -> tuple[np.ndarray, np.ndarray]:
        """Continuous ``(col, row)`` of sky positions ``x, y`` [arcsec] (centres at integers)."""
        return (
            np.asarray(x) / self.pixel_scale + (self.n_cols - 1) / 2.0,
            np.asarray(y) / self.pixel_scale + (self.n_rows - 1) / 2.0,
        )


@dataclass(frozen=True)
class PreparedPSF:
    """A PSF in pixel units, ready for the kernels (see ``mocklens.kernels.render.psf``)."""

    kind: int
    params: np.ndarray
    kernel: np.ndarray
    nodes: np.ndarray
    weights: np.ndarray
    radius: int

    def bank(self, supersampling: int) -> np.ndarray:
        """Stamps at every sub-pixel offset, shape (s*s, 2 r + 1, 2 r + 1)."""
        return kernel_bank(
            self.kind, self.params, self.kernel, self.nodes, self.weights, supersampling,
            self.radius,
        )


@dataclass(frozen=True)
class PSF:
    """A point-spread function: ``GAUSSIAN`` (fwhm), ``MOFFAT`` (fwhm, beta) or ``PIXEL``.

    Build with :meth:`gaussian`, :meth:`moffat`, :meth:`pixel` or :meth:`from_file`.

    Attributes
    ----------
    kind : str
        ``"GAUSSIAN"``, ``"MOFFAT"`` or ``"PIXEL"``.
    fwhm : float
        Full width at half maximum [arcsec] (GAUSSIAN, MOFFAT).
    beta : float
        Moffat power index, > 1 [dimensionless].
    kernel : ndarray of float64, shape (2 R + 1, 2 R + 1) or None
        PIXEL: the pixel response at integer offsets (the image of a point at a pixel centre,
        sampled at the frame's pixel scale), normalised to unit sum.
    """

    kind: str
    fwhm: float = float("nan")
    beta: float = float("nan")
    kernel: np.ndarray | None = field(default=None, repr=False)

    @classmethod
    def gaussian(cls, fwhm: float) -> PSF:
        """Gaussian PSF of full width at half maximum ``fwhm`` [arcsec]."""
        if not (np.isfinite(fwhm) and fwhm > 0):
            raise KernelInputError(f"PSF fwhm must be > 0 arcsec, got {fwhm!r}")
        return cls("GAUSSIAN", fwhm=float(fwhm))

    @classmethod
    def moffat(cls, fwhm: float, beta: float) -> PSF:
        """Moffat PSF of ``fwhm`` [arcsec] and power index ``beta`` > 1."""
        if not (np.isfinite(fwhm) and fwhm > 0):
            raise KernelInputError(f"PSF fwhm must be > 0 arcsec, got {fwhm!r}")
        if not (np.isfinite(beta) and beta > 1):
            raise KernelInputError(f"Moffat beta must be > 1, got {beta!r}")
        return cls("MOFFAT", fwhm=float(fwhm), beta=float(beta))

    @classmethod
    def pixel(cls, kernel, where: str = "PSF kernel") -> PSF:
        """PSF from a pixel kernel (square, odd size, finite, positive total)."""
        k = np.asarray(kernel, dtype=np.float64)
        if k.ndim != 2 or k.shape[0] != k.shape[1]:
            raise KernelInputError(f"{where}: must be a square 2-D array, got shape {k.shape}")
        if k.shape[0] % 2 == 0:
            raise KernelInputError(f"{where}: size {k.shape[0]} is even; an odd size is needed")
        if not np.all(np.isfinite(k)):
            raise KernelInputError(f"{where}: non-finite values")
        total = float(k.sum())
        if not total > MIN_KERNEL_TOTAL:
            raise KernelInputError(f"{where}: total {total:g} is not positive")
        if (k.shape[0] - 1) // 2 + SPLINE_SUPPORT > MAX_PSF_RADIUS:
            raise KernelInputError(f"{where}: larger than {2 * MAX_PSF_RADIUS - 3} pixels")
        return cls("PIXEL", kernel=np.ascontiguousarray(k / total))

    @classmethod
    def from_file(cls, path) -> PSF:
        """PSF from a pixel kernel in a ``.npy`` or FITS file (primary HDU, or first image HDU)."""
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"PSF file not found: {path}")
        if path.suffix == ".npy":
            try:
                data = np.load(path, allow_pickle=False)
            except ValueError as exc:
                raise ConfigError(f"PSF file {path}: not a numpy array ({exc})") from None
        else:
            from astropy.io import fits

            try:
                with fits.open(path) as hdul:
                    data = next((h.data for h in hdul if h.data is not None), None)
            except OSError as exc:
                raise ConfigError(f"PSF file {path}: not readable as FITS ({exc})") from None
            if data is None:
                raise ConfigError(f"PSF file {path}: no image data")
        return cls.pixel(data, where=f"PSF file {path}")

    def prepare(self, pixel_scale: float) -> PreparedPSF:
        """Convert to pixel units and pick the stamp radius.

        Parameters
        ----------
        pixel_scale : float
            Pixel side [arcsec].

        Returns
        -------
        PreparedPSF
            Kernel code, parameters [pixel], quadrature rule and stamp radius [pixel].
        """
        dummy = np.zeros((1, 1))
        none = np.zeros(1)
        if self.kind == "GAUSSIAN":
            sigma = self.fwhm / FWHM_PER_SIGMA / pixel_scale
            radius = math.ceil(GAUSSIAN_TRUNCATION_SIGMA * sigma + 0.5)
            prepared = PreparedPSF(PSF_GAUSSIAN, np.array([sigma, 0.0]), dummy, none, none, radius)
        elif self.kind == "MOFFAT":
            alpha = self.fwhm / (2.0 * math.sqrt(2.0 ** (1.0 / self.beta) - 1.0)) / pixel_scale
            r_tail = alpha * math.sqrt(MOFFAT_FLUX_TAIL ** (1.0 / (1.0 - self.beta)) - 1.0)
            radius = math.ceil(r_tail + 0.5)
            x, w = np.polynomial.legendre.leggauss(MOFFAT_QUADRATURE_NODES)
            prepared = PreparedPSF(
                PSF_MOFFAT, np.array([alpha, self.beta]), dummy, 0.5 * x, 0.5 * w, radius
            )
        else:
            radius = (self.kernel.shape[0] - 1) // 2 + SPLINE_SUPPORT
            # zeros around the kernel: mirror boundary effects of the prefilter decay by
            # 0.43 per pixel for the quintic, below 1e-4 of the edge value after SPLINE_PAD
            coeffs = spline_filter(np.pad(self.kernel, SPLINE_PAD), order=5, mode="mirror")
            prepared = PreparedPSF(
                PSF_PIXEL, np.array([float(SPLINE_PAD), 0.0]), coeffs, none, none, radius
            )
        if prepared.radius > MAX_PSF_RADIUS:
            raise KernelInputError(
                f"PSF stamp radius {prepared.radius} px exceeds {MAX_PSF_RADIUS} px "
                "(fwhm too large for the pixel scale)"
            )
        return prepared


@dataclass(frozen=True)
class NoiseModel:
    """CCD noise: Poisson on source + sky electrons, Gaussian read noise.

    Attributes
    ----------
    sky_brightness : float
        Sky surface brightness [mag/arcsec^2].
    zero_point : float
        Magnitude of a source giving 1 count/s [mag].
    exposure_time : float
        Time per exposure [s].
    n_exposures : int
        Number of exposures combined.
    gain : float
        CCD gain [e-/count].
    read_noise : float
        Read noise per exposure [e-] rms.
    """

    sky_brightness: float
    zero_point: float
    exposure_time: float
    n_exposures: int = 1
    gain: float = 1.0
    read_noise: float = 0.0

    def __post_init__(self):
        for name in ("sky_brightness", "zero_point"):
            if not np.isfinite(getattr(self, name)):
                raise KernelInputError(f"noise {name} must be finite")
        for name in ("exposure_time", "gain"):
            v = getattr(self, name)
            if not (np.isfinite(v) and v > 0):
                raise KernelInputError(f"noise {name} must be > 0, got {v!r}")
        if not (np.isfinite(self.read_noise) and self.read_noise >= 0):
            raise KernelInputError(f"noise read_noise must be >= 0, got {self.read_noise!r}")
        if not isinstance(self.n_exposures, (int, np.integer)) or self.n_exposures < 1:
            raise KernelInputError(
                f"noise n_exposures must be an integer >= 1, got {self.n_exposures!r}"
            )

    @property
    def total_time(self) -> float:
        """Total exposure time [s]."""
        return self.exposure_time * self.n_exposures

    def sky_rate(self, pixel_scale: float) -> float:
        """Sky counts per second in one pixel [counts/s]."""
        return 10.0 ** (-0.4 * (self.sky_brightness - self.zero_point)) * pixel_scale**2

    def variance(self, model: np.ndarray, pixel_scale: float) -> np.ndarray:
        """Return the expected noise variance of each pixel [(counts/s)^2].

        ``var = (model + sky)/(T g) + N_exp rn**2/(T g)**2`` with ``T`` the total time and
        ``g`` the gain.
        """
        tg = self.total_time * self.gain
        return (np.maximum(model, 0.0) + self.sky_rate(pixel_scale)) / tg + (
            self.n_exposures * self.read_noise**2
        ) / tg**2

    def draw(self, model: np.ndarray, pixel_scale: float, rng: np.random.Generator) -> np.ndarray:
        """One noisy, sky-subtracted image.

        Parameters
        ----------
        model : ndarray of float, shape (n_rows, n_cols)
            Noise-free image [counts/s].
        pixel_scale : float
            Pixel side [arcsec].
        rng : numpy.random.Generator
            The sample's own stream (draw order: Poisson, then read noise).

        Returns
        -------
        ndarray of float32, shape (n_rows, n_cols)
            ``(Poisson((model + sky) T g) - sky T g + N(0, sqrt(N_exp) rn)) / (T g)``
            [counts/s].
        """
        tg = self.total_time * self.gain
        sky = self.sky_rate(pixel_scale)
        lam = (np.maximum(np.asarray(model, dtype=np.float64), 0.0) + sky) * tg
        electrons = rng.poisson(lam).astype(np.float64) - sky * tg
        if self.read_noise > 0:
            electrons += rng.normal(0.0, math.sqrt(self.n_exposures) * self.read_noise, lam.shape)
        return (electrons / tg).astype(np.float32)
