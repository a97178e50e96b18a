"""``python -m mocklens`` (also ``mpiexec -n N python -m mpi4py -m mocklens``)."""

from mocklens.cli.main import main

main()
