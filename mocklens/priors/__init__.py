"""Prior sampling with per-sample counter-based random streams (layer L1).

Import rule: ``mocklens.priors`` may import ``mocklens.config``, ``mocklens.models``,
``mocklens.errors``, numpy and scipy; never ``io``, ``pipeline``, ``cli``, h5py, click or
mpi4py.

Every uniform is a pure function of (seed, sample index, variable stream, attempt)
(:mod:`mocklens.priors.random`), mapped to draws by inverse CDF
(:mod:`mocklens.priors.distributions`), so a sample's values do not depend on how the run is
split into batches, ranks or restarts (:func:`draw_lenses`).
"""

from mocklens.priors.distributions import SAMPLERS, sample
from mocklens.priors.draw import draw_lenses, draw_placement_uniforms
from mocklens.priors.random import root_key, stream_id, uniform, uniform_pair

__all__ = [
    "SAMPLERS",
    "draw_lenses",
    "draw_placement_uniforms",
    "root_key",
    "sample",
    "stream_id",
    "uniform",
    "uniform_pair",
]
