"""mocklens.config layer."""
