"""Rendering kernels (layer L0): ray shooting, light, PSF stamps, point sources.

Import rule: numpy, numba, math and ``mocklens.kernels`` only; no classes, I/O, random numbers
or global state. ``mocklens.models.render`` validates inputs once and calls these kernels; the
FFT convolution and the noise draws live there (numba has no FFT; noise needs the sample's
random stream).

Conventions, stated once for the rendering kernels (the sky conventions of
``mocklens.kernels`` hold: +x right, +y up, [arcsec]):

- Images are ``image[row, col]``: ``col`` runs along +x and ``row`` along +y; row 0 is the most
  negative y. Pixel centres are ``x = (col - (n_cols - 1)/2) d``, ``y = (row - (n_rows - 1)/2)
  d`` for pixel side ``d`` [arcsec]: the frame is centred on the optical axis (``grid``).
- Pixel values are flux per pixel (surface brightness integrated over the pixel) in the flux
  unit of the light amplitudes; ``mocklens.models`` uses [counts/s] (ADU/s) for images.
- Supersampling ``s``: ``s x s`` sub-pixels at midpoints, stored as ``(s*s, rows, cols)``
  planes (``grid``); a pixel's flux is the sum of its sub-pixels' surface brightness x
  sub-pixel area (the midpoint rule, as lenstronomy).
- A PSF enters as its pixel response (PSF convolved with the pixel box), stamped at the exact
  sub-pixel position of each point (``psf``) and, for extended light, once per sub-pixel
  offset (a polyphase convolution), so extended light and points see the same PSF.
"""
