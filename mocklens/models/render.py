"""Render a batch of lenses: validate once, shoot rays, convolve by FFT, stamp point images.

Use::

    renderer = Renderer.build(PixelGrid(64, 64, 0.08, supersampling=2), PSF.gaussian(0.2))
    images = renderer.render(lens, source=src, lens_light=ll, points=(x, y, flux))
    observed = noise.draw(images.model[i], 0.08, rng_i)

Extended light is rendered on the frame plus a margin (default: the PSF stamp radius) and
cropped after the convolution, so light from outside the frame is folded in exactly and the
edges are right (``margin=0`` gives zero padding: no light from outside the frame). The
convolution is polyphase: each of the ``s*s`` sub-pixel planes is convolved with the PSF stamp
of its sub-pixel offset (``mocklens.kernels.render.psf.kernel_bank``) and the results summed,
so the pixel integration of the PSF is exact and no point-sampled kernel is used. Point images
are stamped at their exact positions on the frame (their wings outside it are dropped).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft

from mocklens.errors import KernelInputError
from mocklens.kernels.render.extended import render_extended_batch
from mocklens.kernels.render.grid import subpixel_grid
from mocklens.kernels.render.pointsource import add_points_batch
from mocklens.kernels.render.psf import PSF_GAUSSIAN
from mocklens.kernels.render.separable import convolve_separable_batch, gaussian_factors
from mocklens.models.instrument import PSF, PixelGrid, PreparedPSF
from mocklens.models.lenses import PackedLens
from mocklens.models.light import PackedLight, no_light

#: Systems per FFT call in the convolution.
FFT_CHUNK = 8


@dataclass(frozen=True)
class RenderedImages:
    """Noise-free images of a batch, float32 [counts/s per pixel], shape (n, n_rows, n_cols).

    ``model`` is always set; the planes ``source`` (lensed source), ``lens_light`` and
    ``point`` (quasar images) only when ``planes=True`` was asked.
    """

    model: np.ndarray
    source: np.ndarray | None = None
    lens_light: np.ndarray | None = None
    point: np.ndarray | None = None


@dataclass(frozen=True)
class Renderer:
    """Everything that depends only on grid and PSF, computed once per run.

    Attributes
    ----------
    grid : PixelGrid
        The frame.
    psf : PreparedPSF
        PSF in pixel units.
    margin : int
        Rendered pixels beyond each frame edge.
    fft_shape : tuple of int
        FFT size (rows, cols).
    x, y : ndarray of float64, shape (s*s*rows*cols,)
        Sub-pixel centres of the padded frame [arcsec], polyphase order.
    bank_hat : ndarray of complex128, shape (s*s, L_rows, L_cols // 2 + 1)
        FFT of the per-offset PSF stamps, placed circularly.
    factors : tuple of ndarray or None
        Gaussian PSF: its separable 1-D responses ``(kx, ky)``, each (s*s, 2 r + 1), used for a
        direct convolution instead of the FFT (same result, ~5x faster at these sizes).
    """

    grid: PixelGrid
    psf: PreparedPSF
    margin: int
    fft_shape: tuple[int, int]
    x: np.ndarray
    y: np.ndarray
    bank_hat: np.ndarray
    factors: tuple[np.ndarray, np.ndarray] | None = None

    @classmethod
    def build(cls, grid: PixelGrid, psf: PSF, margin: int | None = None) -> Renderer:
        """Prepare a renderer.

        Parameters
        ----------
        grid : PixelGrid
            Frame, pixel scale and supersampling.
        psf : PSF
            Point-spread function.
        margin : int, optional
            Pixels rendered beyond each edge (default: the PSF stamp radius, exact edges;
            0: zero padding).

        Returns
        -------
        Renderer
        """
        prepared = psf.prepare(grid.pixel_scale)
        r = prepared.radius
        m = r if margin is None else int(margin)
        if m < 0:
            raise KernelInputError(f"render margin must be >= 0, got {margin!r}")
        s = grid.supersampling
        shape = (
            scipy.fft.next_fast_len(grid.n_rows + 2 * max(m, r), real=True),
            scipy.fft.next_fast_len(grid.n_cols + 2 * max(m, r), real=True),
        )
        x, y = subpixel_grid(grid.n_rows, grid.n_cols, grid.pixel_scale, s, m)
        bank = prepared.bank(s)
        placed = np.zeros((s * s, *shape))
        idx = np.arange(-r, r + 1)
        placed[:, (idx % shape[0])[:, None], (idx % shape[1])[None, :]] = bank
        bank_hat = scipy.fft.rfft2(placed, axes=(-2, -1))
        factors = None
        if prepared.kind == PSF_GAUSSIAN:
            factors = gaussian_factors(prepared.params[0], s, r)
        return cls(grid, prepared, m, shape, x, y, bank_hat, factors)

    @property
    def padded_shape(self) -> tuple[int, int]:
        """Rendered (rows, cols) including the margin."""
        return self.grid.n_rows + 2 * self.margin, self.grid.n_cols + 2 * self.margin

    @property
    def bytes_per_system(self) -> int:
        """Working memory of one system during :meth:`render` [bytes] (for batch sizing)."""
        s2 = self.grid.supersampling**2
        rows, cols = self.padded_shape
        lr, lc = self.fft_shape
        return 8 * (3 * s2 * rows * cols + 3 * s2 * lr * (lc // 2 + 1) + 6 * lr * lc)

    def _convolve(self, flux: np.ndarray) -> np.ndarray:
        """Polyphase convolution of (n, s*s, rows, cols) sub-pixel flux; returns (n, H, W).

        Done :data:`FFT_CHUNK` systems at a time so the transforms stay in cache (one call on
        the whole batch was 2-4x slower per plane, from allocating and faulting in its output).
        """
        m = self.margin
        out = np.empty((flux.shape[0], self.grid.n_rows, self.grid.n_cols))
        if self.factors is not None:
            convolve_separable_batch(np.ascontiguousarray(flux), *self.factors, m, out)
            return out
        for i in range(0, flux.shape[0], FFT_CHUNK):
            f_hat = scipy.fft.rfft2(flux[i : i + FFT_CHUNK], s=self.fft_shape, axes=(-2, -1))
            acc = np.einsum("nkij,kij->nij", f_hat, self.bank_hat)
            conv = scipy.fft.irfft2(acc, s=self.fft_shape, axes=(-2, -1))
            out[i : i + FFT_CHUNK] = conv[:, m : m + self.grid.n_rows, m : m + self.grid.n_cols]
        return out

    def render(
        self,
        lens: PackedLens,
        source: PackedLight | None = None,
        lens_light: PackedLight | None = None,
        points: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
        planes: bool = False,
    ) -> RenderedImages:
        """Noise-free images of a batch of systems.

        Parameters
        ----------
        lens : PackedLens
            Lens models, n systems (``mocklens.models.lenses.pack``).
        source : PackedLight, optional
            Source light, evaluated at ``beta`` (lensed), n systems.
        lens_light : PackedLight, optional
            Lens light, evaluated at ``theta`` (not lensed), n systems.
        points : (x, y, flux), each ndarray of float64, shape (n, K), optional
            Image positions [arcsec] and fluxes [counts/s] of point images (e.g. from
            ``solve_images`` and ``light.point_image_flux``); NaN entries are padding.
        planes : bool, optional
            Also return the component planes.

        Returns
        -------
        RenderedImages
            float32 images [counts/s per pixel].
        """
        n = lens.n_systems
        src = source if source is not None else no_light(n)
        ll = lens_light if lens_light is not None else no_light(n)
        for name, light in (("source", src), ("lens_light", ll)):
            if light.n_systems != n:
                raise KernelInputError(f"{name}: {light.n_systems} systems, lens has {n}")
        g = self.grid
        s2 = g.supersampling**2
        rows, cols = self.padded_shape
        area = (g.pixel_scale / g.supersampling) ** 2
        shape = (n, s2 * rows * cols)
        # the kernel writes every element of a non-empty plane
        out_src = np.empty(shape) if src.codes.size else np.zeros((n, 0))
        out_ll = np.empty(shape) if ll.codes.size else np.zeros((n, 0))
        render_extended_batch(
            self.x, self.y, lens.codes, lens.packed, src.codes, src.packed, ll.codes,
            ll.packed, area, out_src, out_ll,
        )
        point = np.zeros((n, g.n_rows, g.n_cols))
        if points is not None:
            px, py, pf = (np.ascontiguousarray(a, dtype=np.float64) for a in points)
            if px.ndim != 2 or px.shape[0] != n or px.shape != py.shape or px.shape != pf.shape:
                raise KernelInputError(f"points: x, y, flux must have the same shape (n={n}, K)")
            col, row = g.to_pixel(px, py)
            p = self.psf
            add_points_batch(
                np.ascontiguousarray(col), np.ascontiguousarray(row), pf, p.kind, p.params,
                p.kernel, p.nodes, p.weights, p.radius, point,
            )
        blank = np.zeros((n, g.n_rows, g.n_cols))
        if planes:
            img_src = blank
            img_ll = blank
            if src.codes.size:
                img_src = self._convolve(out_src.reshape(n, s2, rows, cols))
            if ll.codes.size:
                img_ll = self._convolve(out_ll.reshape(n, s2, rows, cols))
            model = img_src + img_ll + point
            return RenderedImages(
                model.astype(np.float32), img_src.astype(np.float32),
                img_ll.astype(np.float32), point.astype(np.float32),
            )
        if src.codes.size and ll.codes.size:
            out_src += out_ll
            ext = self._convolve(out_src.reshape(n, s2, rows, cols))
        elif src.codes.size or ll.codes.size:
            flux = out_src if src.codes.size else out_ll
            ext = self._convolve(flux.reshape(n, s2, rows, cols))
        else:
            ext = blank
        return RenderedImages((ext + point).astype(np.float32))
