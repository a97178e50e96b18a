"""The typed run configuration :class:`RunConfig` and its cross-field checks.

Every model is frozen and refuses unknown keys. Field descriptions are the documentation of
each key: they are exported to ``schemas/run-config.schema.json`` and become the comments of
:func:`mocklens.config.presets.preset_yaml`.

Bounds policy: a parameter's bounds in :mod:`mocklens.models.params` are open, and a
distribution is accepted only if it puts no probability outside them (an unbounded normal for
a bounded parameter is refused; use truncnorm). The one exception is the polar shear
strength, a derived quantity, which may put at most ``TAIL_TOLERANCE`` above 1: the
originating recipe's lognormal (median 0.05, 0.2 dex) reaches 1 only at 6.5 sigma (P ~ 4e-11).
"""

from __future__ import annotations

import difflib
import math
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mocklens.config.distributions import DistModel, Distribution, FiniteFloat
from mocklens.models.params import PROFILES, ProfileSpec

#: Largest probability the polar shear strength may put at or above 1 [dimensionless].
TAIL_TOLERANCE = 1e-6
#: z_source is redrawn until it exceeds z_lens by this much [dimensionless].
Z_GAP = 1e-3
#: Profiles that accept the ``ellipticity`` alternative to ``params.e1/e2``.
ELLIPTICAL = ("EPL", "SIE")
#: Cosmologies known by name: (H0 [km/s/Mpc], Om0), equal to astropy's realizations.
COSMOLOGIES: dict[str, tuple[float, float]] = {
    "WMAP1": (72.0, 0.257),
    "WMAP3": (70.1, 0.276),
    "WMAP5": (70.2, 0.277),
    "WMAP7": (70.4, 0.272),
    "WMAP9": (69.32, 0.2865),
    "Planck13": (67.77, 0.30712),
    "Planck15": (67.74, 0.3075),
    "Planck18": (67.66, 0.30966),
}
_GROUP_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: Group names used by the output layout for non-component data.
RESERVED_GROUPS = ("source", "point", "images", "meta")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Ellipticity(_Model):
    """Ellipticity given as a magnitude and a position angle instead of ``params.e1/e2``."""

    convention: Literal["one_minus_q", "lenstronomy", "q"] = Field(
        description="meaning of e: one_minus_q: e = 1-q (research code; Oguri & Marshall 2010); "
        "lenstronomy: e = (1-q)/(1+q); q: e is the axis ratio q itself"
    )
    e: Distribution = Field(description="ellipticity magnitude in that convention [dimensionless]")
    angle: Distribution = Field(description="position angle of the major axis from +x [rad]")


class ShearPolar(_Model):
    """External shear given as strength and angle instead of ``params.gamma1/gamma2``."""

    strength: Distribution = Field(description="shear strength |gamma| [dimensionless]")
    angle: Distribution = Field(description="shear position angle from +x [rad]")


class Component(_Model):
    """One component of the composed mass model."""

    type: str = Field(
        description="profile type: " + ", ".join(PROFILES), json_schema_extra={"enum": [*PROFILES]}
    )
    name: str | None = Field(
        default=None, description="HDF5 group name (default: the profile's default group)"
    )
    params: dict[str, Distribution] = Field(
        default_factory=dict, description="one distribution per lenstronomy parameter"
    )
    ellipticity: Ellipticity | None = Field(
        default=None, description="alternative to params.e1/e2 (EPL, SIE only)"
    )
    polar: ShearPolar | None = Field(
        default=None, description="alternative to params.gamma1/gamma2 (SHEAR only)"
    )

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        if value not in PROFILES:
            raise ValueError(f"unknown profile type {value!r}{did_you_mean(value, PROFILES)}")
        return value

    @property
    def spec(self) -> ProfileSpec:
        """The :class:`~mocklens.models.params.ProfileSpec` of this component."""
        return PROFILES[self.type]


class LensConfig(_Model):
    """The composed mass model; component order is lenstronomy's ``kwargs_lens`` order."""

    components: list[Component] = Field(
        min_length=1, description="mass components in lenstronomy kwargs_lens order"
    )

    @model_validator(mode="before")
    @classmethod
    def _name_components(cls, data: Any) -> Any:
        # Default names are filled in here, on the raw input, so that the frozen models carry
        # their final group names and a dumped config states them explicitly.
        if not isinstance(data, dict) or not isinstance(data.get("components"), list):
            return data
        comps = [c.model_dump() if isinstance(c, Component) else c for c in data["components"]]
        taken = {c.get("name") for c in comps if isinstance(c, dict) and c.get("name")}
        named = []
        for comp in comps:
            if isinstance(comp, dict) and not comp.get("name") and comp.get("type") in PROFILES:
                base = PROFILES[comp["type"]].default_group
                name, k = base, 1
                while name in taken:
                    k += 1
                    name = f"{base}_{k}"
                taken.add(name)
                comp = {**comp, "name": name}
            named.append(comp)
        return {**data, "components": named}

    def parameter_keys(self) -> list[str]:
        """Return ``"<group>/<lenstronomy name>"`` of every drawn lens parameter, in order."""
        return [f"{c.name}/{p}" for c in self.components for p in c.spec.param_names]


class Redshifts(_Model):
    """Redshift priors."""

    z_lens: Distribution = Field(description="lens redshift [dimensionless]")
    z_source: Distribution = Field(
        description="source redshift, redrawn until above z_lens + 0.001 [dimensionless]"
    )


class Cosmology(_Model):
    """Background cosmology."""

    name: str = Field(
        description="astropy realization (" + ", ".join(COSMOLOGIES) + ") or FlatLambdaCDM",
        json_schema_extra={"enum": [*COSMOLOGIES, "FlatLambdaCDM"]},
    )
    H0: Distribution | None = Field(
        default=None, description="null: the realization's; else override per lens [km/s/Mpc]"
    )
    Om0: Distribution | None = Field(
        default=None, description="null: the realization's; else override per lens [dimensionless]"
    )

    @field_validator("name")
    @classmethod
    def _known_name(cls, value: str) -> str:
        allowed = [*COSMOLOGIES, "FlatLambdaCDM"]
        if value not in allowed:
            raise ValueError(f"unknown cosmology {value!r}{did_you_mean(value, allowed)}")
        return value

    @model_validator(mode="after")
    def _flat_needs_values(self) -> Cosmology:
        if self.name == "FlatLambdaCDM" and (self.H0 is None or self.Om0 is None):
            raise ValueError("FlatLambdaCDM needs both H0 and Om0")
        return self

    def default_H0(self) -> float:  # noqa: N802
        """Return the realization's H0 [km/s/Mpc] (NaN for FlatLambdaCDM)."""
        return COSMOLOGIES.get(self.name, (math.nan, math.nan))[0]

    def default_Om0(self) -> float:  # noqa: N802
        """Return the realization's Om0 [dimensionless] (NaN for FlatLambdaCDM)."""
        return COSMOLOGIES.get(self.name, (math.nan, math.nan))[1]


class Source(_Model):
    """Placement of the point source."""

    placement: Literal["image_plane", "source_plane", "caustic"] = Field(
        default="image_plane",
        description="image_plane: an image at radius sqrt(U(0, radius^2)) mapped back; "
        "source_plane: uniform in the disk; caustic: uniform inside the tangential caustic",
    )
    radius: FiniteFloat = Field(
        default=4.0, gt=0, description="radius of the sampled disk [arcsec]"
    )
    center: tuple[FiniteFloat, FiniteFloat] = Field(
        default=(0.0, 0.0), description="centre of the sampled disk [arcsec]"
    )


class Selection(_Model):
    """Cuts applied to each drawn system."""

    min_abs_mu: FiniteFloat = Field(
        default=1e-4, ge=0, description="images with |mu| below are dropped [dimensionless]"
    )
    min_images: int = Field(default=1, ge=1, description="fewer kept images: redraw [count]")
    max_images: int | None = Field(
        default=None, ge=1, description="more kept images: redraw; null = no cut [count]"
    )
    min_separation: FiniteFloat = Field(
        default=0.0, ge=0, description="minimum distance of every image pair [arcsec]"
    )
    redraw: Literal["system", "source"] = Field(
        default="system",
        description="system: redraw lens and source on rejection; source: redraw the source only",
    )
    max_attempts: int = Field(
        default=1000, ge=1, le=2**31, description="draws per sample before failing [count]"
    )

    @model_validator(mode="after")
    def _order(self) -> Selection:
        if self.max_images is not None and self.max_images < self.min_images:
            raise ValueError(f"max_images ({self.max_images}) < min_images ({self.min_images})")
        return self


class Solver(_Model):
    """Settings of the image finder."""

    n_angles: int = Field(default=512, ge=64, description="angular samples of the image search")
    tolerance: FiniteFloat = Field(
        default=1e-10, gt=0, description="accepted lens-equation residual [arcsec]"
    )
    series_tolerance: FiniteFloat = Field(
        default=1e-14, gt=0, lt=1, description="relative truncation of the EPL series"
    )


class Output(_Model):
    """Layout of the written dataset."""

    shard_size: int = Field(default=10000, ge=1, description="samples per shard [count]")
    max_images: int = Field(default=5, ge=1, description="width K of per-image arrays [count]")
    compression_level: int = Field(default=4, ge=0, le=9, description="gzip level (0 = off)")


class RunConfig(_Model):
    """A complete, validated run configuration."""

    n_samples: int = Field(ge=1, description="number of lenses (CLI --n overrides) [count]")
    seed: int = Field(ge=0, description="root seed (CLI --seed overrides)")
    family: Literal["shear", "ellipticity", "both", "custom"] = Field(
        default="custom", description="free label of the lens family"
    )
    lens: LensConfig = Field(description="composed mass model")
    redshifts: Redshifts = Field(description="redshift priors")
    cosmology: Cosmology = Field(description="background cosmology")
    source: Source = Field(default_factory=Source, description="source placement")
    selection: Selection = Field(default_factory=Selection, description="cuts on each system")
    solver: Solver = Field(default_factory=Solver, description="image-finder settings")
    output: Output = Field(default_factory=Output, description="output layout")

    @model_validator(mode="after")
    def _cross_checks(self) -> RunConfig:
        problems = cross_field_problems(self)
        if problems:
            raise ValueError("\n".join(problems))
        return self


def did_you_mean(word: str, allowed: Any) -> str:
    """Return ``"; did you mean 'x'?"`` for the closest allowed word, or ``""``."""
    match = difflib.get_close_matches(word, list(allowed), n=1, cutoff=0.6)
    if not match:
        low = {a.lower(): a for a in allowed}
        match = [low[word.lower()]] if word.lower() in low else []
    return f"; did you mean {match[0]!r}?" if match else ""


def _fmt(x: float) -> str:
    return f"{x:g}"


def _range_problem(
    where: str, dist: DistModel, label: str, lower: float, upper: float, closed: str = ""
) -> str | None:
    """Describe ``dist`` leaving ``(lower, upper)``; ``closed`` may hold 'l' and/or 'u'."""
    lo_b = math.nextafter(lower, -math.inf) if "l" in closed else lower
    hi_b = math.nextafter(upper, math.inf) if "u" in closed else upper
    tol = TAIL_TOLERANCE if label == "strength" else 0.0
    if dist.tail_mass(lo_b, hi_b) <= tol:
        return None
    rng = ("[" if "l" in closed else "(") + f"{_fmt(lower)}, {_fmt(upper)}"
    rng += "]" if "u" in closed else ")"
    lo, hi = dist.support()
    msg = f"{where}: {dist.dist} with support [{_fmt(lo)}, {_fmt(hi)}] is not inside the"
    msg += f" allowed range {rng} of {label}"
    if dist.dist in ("normal", "lognormal"):
        msg += "; use truncnorm with min/max inside the range"
    return msg


_E_RANGES = {"one_minus_q": (0.0, 1.0, "l"), "lenstronomy": (0.0, 1.0, "l"), "q": (0.0, 1.0, "u")}


def _component_problems(i: int, comp: Component) -> list[str]:
    spec = comp.spec
    where = f"lens.components[{i}]"
    head = f"{where} ({comp.type})"
    out: list[str] = []
    names = spec.param_names
    replaced: tuple[str, ...] = ()
    if comp.ellipticity is not None:
        if comp.type not in ELLIPTICAL:
            out.append(f"{where}.ellipticity: only {', '.join(ELLIPTICAL)} take an ellipticity")
        else:
            replaced = ("e1", "e2")
            lo, hi, closed = _E_RANGES[comp.ellipticity.convention]
            label = "e (convention " + comp.ellipticity.convention + ")"
            p = _range_problem(f"{where}.ellipticity.e", comp.ellipticity.e, label, lo, hi, closed)
            out += [p] if p else []
    if comp.polar is not None:
        if comp.type != "SHEAR":
            out.append(f"{where}.polar: only SHEAR takes a polar shear")
        else:
            replaced = ("gamma1", "gamma2")
            p = _range_problem(
                f"{where}.polar.strength", comp.polar.strength, "strength", 0, 1, "l"
            )
            out += [p] if p else []
    for key in comp.params:
        if key not in names:
            out.append(f"{where}.params.{key}: unknown key{did_you_mean(key, names)}")
        elif key in replaced:
            alt = "ellipticity" if key.startswith("e") else "polar"
            out.append(f"{head}: give either params.{key} or {alt}, not both")
    for pspec in spec.params:
        if pspec.name in replaced:
            continue
        if pspec.name not in comp.params:
            out.append(f"{head}: missing parameter {pspec.name!r}")
            continue
        label = f"{pspec.name} [{pspec.unit}]"
        p = _range_problem(
            f"{where}.params.{pspec.name}", comp.params[pspec.name], label, pspec.lower, pspec.upper
        )
        out += [p] if p else []
    if comp.name is not None:
        if not _GROUP_RE.match(comp.name):
            out.append(
                f"{where}.name: {comp.name!r} is not a valid group name ([A-Za-z_][A-Za-z0-9_]*)"
            )
        elif comp.name in RESERVED_GROUPS:
            out.append(f"{where}.name: {comp.name!r} is reserved by the output layout")
    return out


def cross_field_problems(cfg: RunConfig) -> list[str]:
    """Return one message per violated cross-field rule of ``cfg`` (empty if valid).

    Parameters
    ----------
    cfg : RunConfig
        A structurally valid configuration.

    Returns
    -------
    list of str
        Messages of the form ``"<dotted location>: <problem>"``.
    """
    out: list[str] = []
    seen_names: dict[str, int] = {}
    seen_types: dict[str, int] = {}
    for i, comp in enumerate(cfg.lens.components):
        out += _component_problems(i, comp)
        if comp.name in seen_names:
            out.append(
                f"lens.components[{i}].name: duplicate group name {comp.name!r} "
                f"(also lens.components[{seen_names[comp.name]}])"
            )
        seen_names.setdefault(comp.name or "", i)
        if comp.type in ("SHEAR", "CONVERGENCE"):
            if comp.type in seen_types:
                out.append(
                    f"lens.components[{i}] ({comp.type}): at most one {comp.type} component "
                    f"(already lens.components[{seen_types[comp.type]}])"
                )
            seen_types.setdefault(comp.type, i)
    z = cfg.redshifts
    for key in ("z_lens", "z_source"):
        p = _range_problem(f"redshifts.{key}", getattr(z, key), key, 0.0, math.inf)
        out += [p] if p else []
    zl_hi, zs_hi = z.z_lens.support()[1], z.z_source.support()[1]
    if not (zs_hi > zl_hi + Z_GAP or math.isinf(zs_hi)):
        out.append(
            f"redshifts.z_source: its range must reach above the z_lens range (max z_source "
            f"{_fmt(zs_hi)} <= max z_lens {_fmt(zl_hi)} + {Z_GAP:g})"
        )
    cos = cfg.cosmology
    if cos.H0 is not None:
        p = _range_problem("cosmology.H0", cos.H0, "H0 [km/s/Mpc]", 0.0, math.inf)
        out += [p] if p else []
    if cos.Om0 is not None:
        p = _range_problem("cosmology.Om0", cos.Om0, "Om0", 0.0, 1.0, "u")
        out += [p] if p else []
    if cfg.selection.min_images > cfg.output.max_images:
        out.append(
            f"selection.min_images: {cfg.selection.min_images} exceeds output.max_images "
            f"({cfg.output.max_images}), the width of the per-image arrays"
        )
    return out
