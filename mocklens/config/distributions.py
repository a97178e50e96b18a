"""Typed prior distributions of the run configuration.

A distribution is a mapping with a ``dist`` key naming its kind; a bare number means a fixed
value. Each model validates its own parameters and reports its support, which the run
configuration checks against the parameter bounds of :mod:`mocklens.models.params`.
Sampling lives in :mod:`mocklens.priors.distributions` (inverse CDF of counter-based uniforms).

=========  ==========================  ===================================================
``dist``   keys                        meaning
=========  ==========================  ===================================================
fixed      value                       always ``value``
uniform    min, max                    U(min, max)
normal     mean, sd                    N(mean, sd^2)
truncnorm  mean, sd, min, max          N(mean, sd^2) restricted to [min, max]
lognormal  median, sigma_dex           log10(x) ~ N(log10(median), sigma_dex^2)
loguniform min, max                    log(x) ~ U(log(min), log(max)), 0 < min
=========  ==========================  ===================================================
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

#: A finite float (NaN and infinities are refused everywhere in the configuration).
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]


class _Dist(BaseModel):
    """Common base: frozen, no unknown keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def support(self) -> tuple[float, float]:
        """Return the closed support ``(lo, hi)`` of the distribution (may be infinite)."""
        raise NotImplementedError

    def tail_mass(self, lower: float, upper: float) -> float:
        """Return the probability of a draw outside the open interval ``(lower, upper)``.

        Parameters
        ----------
        lower, upper : float
            Open bounds of the allowed range (``-inf``/``inf`` for none).

        Returns
        -------
        float
            Probability mass outside ``(lower, upper)`` [dimensionless].
        """
        # Strict: a support that touches an open bound is refused (e.g. U(0, 1) for kappa < 1).
        lo, hi = self.support()
        return 0.0 if (lower < lo and hi < upper) else 1.0


class Fixed(_Dist):
    """A fixed value (a bare number in YAML means the same)."""

    dist: Literal["fixed"]
    value: FiniteFloat = Field(description="the value, in the unit of the parameter")

    def support(self) -> tuple[float, float]:  # noqa: D102
        return (self.value, self.value)

    def tail_mass(self, lower: float, upper: float) -> float:  # noqa: D102
        return 0.0 if lower < self.value < upper else 1.0


class Uniform(_Dist):
    """Uniform distribution on ``[min, max]``."""

    dist: Literal["uniform"]
    min: FiniteFloat = Field(description="lower end, in the unit of the parameter")
    max: FiniteFloat = Field(description="upper end, in the unit of the parameter")

    @model_validator(mode="after")
    def _check(self) -> Uniform:
        if not self.min < self.max:
            raise ValueError(f"uniform needs min < max, got min={self.min} max={self.max}")
        return self

    def support(self) -> tuple[float, float]:  # noqa: D102
        return (self.min, self.max)


class Normal(_Dist):
    """Gaussian distribution (unbounded support)."""

    dist: Literal["normal"]
    mean: FiniteFloat = Field(description="mean, in the unit of the parameter")
    sd: FiniteFloat = Field(description="standard deviation (> 0), in the unit of the parameter")

    @model_validator(mode="after")
    def _check(self) -> Normal:
        if not self.sd > 0:
            raise ValueError(f"normal needs sd > 0, got sd={self.sd}")
        return self

    def support(self) -> tuple[float, float]:  # noqa: D102
        return (-math.inf, math.inf)

    def tail_mass(self, lower: float, upper: float) -> float:  # noqa: D102
        return _phi((lower - self.mean) / self.sd) + _phi((self.mean - upper) / self.sd)


class TruncNorm(_Dist):
    """Gaussian restricted to ``[min, max]`` (``mean`` may lie outside the interval)."""

    dist: Literal["truncnorm"]
    mean: FiniteFloat = Field(description="mean of the parent Gaussian")
    sd: FiniteFloat = Field(description="standard deviation (> 0) of the parent Gaussian")
    min: FiniteFloat = Field(description="lower truncation point")
    max: FiniteFloat = Field(description="upper truncation point")

    @model_validator(mode="after")
    def _check(self) -> TruncNorm:
        if not self.sd > 0:
            raise ValueError(f"truncnorm needs sd > 0, got sd={self.sd}")
        if not self.min < self.max:
            raise ValueError(f"truncnorm needs min < max, got min={self.min} max={self.max}")
        return self

    def support(self) -> tuple[float, float]:  # noqa: D102
        return (self.min, self.max)


class LogNormal(_Dist):
    """Log-normal distribution with a base-10 scatter: ``log10 x ~ N(log10 median, sigma_dex)``."""

    dist: Literal["lognormal"]
    median: FiniteFloat = Field(description="median (> 0), in the unit of the parameter")
    sigma_dex: FiniteFloat = Field(description="standard deviation of log10(x) (> 0) [dex]")

    @model_validator(mode="after")
    def _check(self) -> LogNormal:
        if not self.median > 0:
            raise ValueError(f"lognormal needs median > 0, got median={self.median}")
        if not self.sigma_dex > 0:
            raise ValueError(f"lognormal needs sigma_dex > 0, got sigma_dex={self.sigma_dex}")
        return self

    def support(self) -> tuple[float, float]:  # noqa: D102
        return (0.0, math.inf)

    def tail_mass(self, lower: float, upper: float) -> float:  # noqa: D102
        m = math.log10(self.median)
        below = _phi((math.log10(lower) - m) / self.sigma_dex) if lower > 0 else 0.0
        above = _phi((m - math.log10(upper)) / self.sigma_dex) if upper > 0 else 1.0
        return below + above


class LogUniform(_Dist):
    """Log-uniform distribution on ``[min, max]`` with ``0 < min``."""

    dist: Literal["loguniform"]
    min: FiniteFloat = Field(description="lower end (> 0), in the unit of the parameter")
    max: FiniteFloat = Field(description="upper end, in the unit of the parameter")

    @model_validator(mode="after")
    def _check(self) -> LogUniform:
        if not self.min > 0:
            raise ValueError(f"loguniform needs min > 0, got min={self.min}")
        if not self.min < self.max:
            raise ValueError(f"loguniform needs min < max, got min={self.min} max={self.max}")
        return self

    def support(self) -> tuple[float, float]:  # noqa: D102
        return (self.min, self.max)


def _phi(z: float) -> float:
    """Return the standard normal CDF (pure Python, exact to double precision in the tails)."""
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


#: Registry of distribution models keyed by the ``dist`` string.
DISTRIBUTIONS: dict[str, type[_Dist]] = {
    "fixed": Fixed,
    "uniform": Uniform,
    "normal": Normal,
    "truncnorm": TruncNorm,
    "lognormal": LogNormal,
    "loguniform": LogUniform,
}

_DistUnion = Annotated[
    Union[Fixed, Uniform, Normal, TruncNorm, LogNormal, LogUniform],  # noqa: UP007
    Field(discriminator="dist"),
]


def _number_to_fixed(value: Any) -> Any:
    """Turn a bare number into ``{"dist": "fixed", "value": number}``."""
    if isinstance(value, bool):
        raise ValueError("a boolean is not a distribution")
    if isinstance(value, (int, float)):
        return {"dist": "fixed", "value": value}
    return value


#: A distribution, or a bare number meaning a fixed value.
Distribution = Annotated[
    _DistUnion,
    BeforeValidator(_number_to_fixed, json_schema_input_type=Union[float, _DistUnion]),  # noqa: UP007
]

#: Any distribution model instance.
DistModel = Union[Fixed, Uniform, Normal, TruncNorm, LogNormal, LogUniform]  # noqa: UP007
