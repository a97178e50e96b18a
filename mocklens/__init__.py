"""mocklens: reproducible, parallel, restartable simulated strong lenses for machine learning.

Layer rule: this top-level module must not import mpi4py, h5py or click, so that
``import mocklens`` stays light and works without MPI.
"""

from mocklens._version import __version__

__all__ = ["__version__"]
