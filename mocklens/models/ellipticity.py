"""Conversions between ellipticity and shear conventions (pure numpy).

Conventions (all angles in [rad], counter-clockwise from +x; ``phi`` is the position angle
of the major axis):

- lenstronomy (stored): ``e = (1 - q)/(1 + q)``, ``e1 = e cos 2phi``, ``e2 = e sin 2phi``
  (``lenstronomy.Util.param_util.phi_q2_ellipticity``).
- research code: ``e = 1 - q`` (Oguri & Marshall 2010, MNRAS 405, 2579), components
  ``(ec, es) = (e cos 2phi, e sin 2phi)``.
- external shear: ``gamma1 = gamma cos 2phi``, ``gamma2 = gamma sin 2phi``
  (``lenstronomy.Util.param_util.shear_polar2cartesian``).

Unlike lenstronomy's ``ellipticity2phi_q``, nothing here clips ``e`` below 1: bounds are
checked once by the configuration.
"""

from __future__ import annotations

import numpy as np


def q_phi_to_e1e2(q, phi):
    """Return lenstronomy's ellipticity components from axis ratio and angle.

    Parameters
    ----------
    q : ndarray of float64, shape (n,)
        Axis ratio b/a in (0, 1] [dimensionless].
    phi : ndarray of float64, shape (n,)
        Position angle of the major axis [rad].

    Returns
    -------
    e1, e2 : ndarray of float64, shape (n,)
        Components [dimensionless].

    Notes
    -----
    ``e = (1 - q)/(1 + q)``, ``e1 = e cos 2phi``, ``e2 = e sin 2phi``.
    """
    q = np.asarray(q, dtype=np.float64)
    phi = np.asarray(phi, dtype=np.float64)
    e = (1.0 - q) / (1.0 + q)
    return e * np.cos(2.0 * phi), e * np.sin(2.0 * phi)


def e1e2_to_q_phi(e1, e2):
    """Return axis ratio and angle from lenstronomy's ellipticity components.

    Parameters
    ----------
    e1, e2 : ndarray of float64, shape (n,)
        Components with ``e1^2 + e2^2 < 1`` [dimensionless].

    Returns
    -------
    q : ndarray of float64, shape (n,)
        Axis ratio ``(1 - e)/(1 + e)`` with ``e = hypot(e1, e2)`` [dimensionless].
    phi : ndarray of float64, shape (n,)
        ``arctan2(e2, e1)/2`` in (-pi/2, pi/2] [rad].
    """
    e1 = np.asarray(e1, dtype=np.float64)
    e2 = np.asarray(e2, dtype=np.float64)
    e = np.hypot(e1, e2)
    return (1.0 - e) / (1.0 + e), 0.5 * np.arctan2(e2, e1)


def research_to_e1e2(ec, es):
    """Convert research-code components (e = 1 - q) to lenstronomy's e1, e2.

    Parameters
    ----------
    ec, es : ndarray of float64, shape (n,)
        ``(1 - q) cos 2phi`` and ``(1 - q) sin 2phi`` [dimensionless].

    Returns
    -------
    e1, e2 : ndarray of float64, shape (n,)
        lenstronomy components [dimensionless].

    Notes
    -----
    With ``e = 1 - q``, lenstronomy's magnitude is ``(1 - q)/(1 + q) = e/(2 - e)``, so each
    component is scaled by ``1/(2 - e)`` (no division by zero at ``e = 0``).
    """
    ec = np.asarray(ec, dtype=np.float64)
    es = np.asarray(es, dtype=np.float64)
    scale = 1.0 / (2.0 - np.hypot(ec, es))
    return ec * scale, es * scale


def e1e2_to_research(e1, e2):
    """Convert lenstronomy's e1, e2 to research-code components (e = 1 - q).

    Parameters
    ----------
    e1, e2 : ndarray of float64, shape (n,)
        lenstronomy components [dimensionless].

    Returns
    -------
    ec, es : ndarray of float64, shape (n,)
        ``(1 - q) cos 2phi`` and ``(1 - q) sin 2phi`` [dimensionless].

    Notes
    -----
    With ``e_l = hypot(e1, e2)``, ``1 - q = 2 e_l/(1 + e_l)``, so each component is scaled
    by ``2/(1 + e_l)``.
    """
    e1 = np.asarray(e1, dtype=np.float64)
    e2 = np.asarray(e2, dtype=np.float64)
    scale = 2.0 / (1.0 + np.hypot(e1, e2))
    return e1 * scale, e2 * scale


def shear_polar_to_cartesian(strength, angle):
    """Return external-shear components from strength and angle.

    Parameters
    ----------
    strength : ndarray of float64, shape (n,)
        Shear strength ``|gamma|`` [dimensionless].
    angle : ndarray of float64, shape (n,)
        Shear position angle [rad].

    Returns
    -------
    gamma1, gamma2 : ndarray of float64, shape (n,)
        ``strength cos 2angle``, ``strength sin 2angle`` [dimensionless].
    """
    strength = np.asarray(strength, dtype=np.float64)
    angle = np.asarray(angle, dtype=np.float64)
    return strength * np.cos(2.0 * angle), strength * np.sin(2.0 * angle)


def shear_cartesian_to_polar(gamma1, gamma2):
    """Return shear strength and angle from its components.

    Parameters
    ----------
    gamma1, gamma2 : ndarray of float64, shape (n,)
        Shear components [dimensionless].

    Returns
    -------
    strength : ndarray of float64, shape (n,)
        ``hypot(gamma1, gamma2)`` [dimensionless].
    angle : ndarray of float64, shape (n,)
        ``arctan2(gamma2, gamma1)/2`` in (-pi/2, pi/2] [rad].
    """
    gamma1 = np.asarray(gamma1, dtype=np.float64)
    gamma2 = np.asarray(gamma2, dtype=np.float64)
    return np.hypot(gamma1, gamma2), 0.5 * np.arctan2(gamma2, gamma1)
