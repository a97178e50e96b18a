"""Physical and unit constants (pure Python, importable from anywhere).

Values are CODATA/IAU exact or conventional definitions; they match astropy.constants and
lenstronomy's ``Util.constants`` to better than 1e-9 relative.
"""

import math

#: Radians per arcsecond [rad/arcsec].
RAD_PER_ARCSEC = math.pi / 180.0 / 3600.0
#: Arcseconds per radian [arcsec/rad].
ARCSEC_PER_RAD = 1.0 / RAD_PER_ARCSEC
#: Speed of light [m/s] (exact).
C_M_PER_S = 299_792_458.0
#: One megaparsec [m] (IAU 2015 parsec).
MPC_M = 3.0856775814913673e22
#: One day [s].
SECONDS_PER_DAY = 86_400.0
#: Conversion of D_dt [Mpc] x Fermat potential [arcsec^2] to a delay in days.
DAYS_PER_MPC_ARCSEC2 = MPC_M / C_M_PER_S * RAD_PER_ARCSEC**2 / SECONDS_PER_DAY

#: Name written in the root attribute ``format`` of every dataset.
FORMAT_NAME = "mocklens"
#: Version of the HDF5 layout (bump on any incompatible change).
FORMAT_VERSION = 1
