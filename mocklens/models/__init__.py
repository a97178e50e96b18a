"""Models (layer L1): parameter spec and validating wrappers around the kernels.

Import rule: may import ``mocklens.kernels``, numpy and the pure-Python modules
``errors``/``constants``; never ``io``, ``config``, ``priors``, ``pipeline`` or ``cli``.
"""
