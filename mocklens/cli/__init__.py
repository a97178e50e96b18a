"""mocklens.cli layer."""
