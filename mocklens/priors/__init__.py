"""mocklens.priors layer."""
