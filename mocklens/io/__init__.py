"""mocklens.io layer."""
