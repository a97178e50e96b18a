"""Pipeline (layer L2): config + priors + models + io, orchestrated into runs.

Import rule: may import every lower layer; only ``parallel`` imports mpi4py, and only inside
a function. ``generate`` is the serial core, ``shards`` the on-disk plan, ``run`` the
orchestration shared by the serial and MPI drivers.
"""
