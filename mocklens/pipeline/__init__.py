"""mocklens.pipeline layer."""
