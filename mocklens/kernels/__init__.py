"""Numba kernels (layer L0): numpy, numba and math only.

No classes, I/O, logging, random numbers or global state live here; wrappers in
``mocklens.models`` validate inputs once and then call these kernels.

Conventions, stated once for every kernel:

- Image-plane coordinates ``x, y`` and source-plane coordinates ``beta_x, beta_y`` are angles
  on the sky in [arcsec], in a right-handed frame with +x to the right and +y up.
- Position angles ``phi`` are in [rad], counter-clockwise from +x.
- Ellipticity follows lenstronomy: ``e1 = e cos(2 phi)``, ``e2 = e sin(2 phi)`` with
  ``e = (1 - q) / (1 + q)`` and axis ratio ``q = b/a <= 1``.
- The lens equation is ``beta = theta - alpha(theta)``; the magnification is
  ``mu = 1 / det(I - H)`` where ``H`` is the Hessian of the lensing potential ``psi``.
- All arrays are float64 and C-contiguous unless a kernel says otherwise.
"""
