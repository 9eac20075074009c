"""Study designs as data: which samples a study takes, on which days, at what depth.

A design is a YAML file validated by pydantic; built-ins live in ``data/designs``. Errors
name the file and the field (:class:`lactobiome.errors.InputError`, one line).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from lactobiome.errors import InputError
from lactobiome.io.yamlfile import builtin_yaml_names, load_yaml_mapping, validate_mapping

# sample type -> simulated site it samples
SAMPLE_SITES: dict[str, str] = {
    "milk": "milk",
    "areolar_skin": "areolar_skin",
    "maternal_stool": "maternal_gut",
    "maternal_oral": "maternal_mouth",
    "infant_oral": "infant_mouth",
    "infant_stool": "infant_gut",
}
SampleTypeName = Literal[
    "milk", "areolar_skin", "maternal_stool", "maternal_oral", "infant_oral", "infant_stool"
]


Share = Annotated[float, Field(ge=0.0, le=1.0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SampleType(_Strict):
    """One kind of sample: its type, role in source tracking and sampling days."""

    type: SampleTypeName
    role: Literal["source", "sink"]
    days: Annotated[list[Annotated[int, Field(ge=1)]], Field(min_length=1)]


class Group(_Strict):
    """A group of dyads by the breast-milk share of infant intake in month 1."""

    name: str
    breast_milk_share: tuple[Share, Share]


class Design(_Strict):
    """A study design: sample types, days, sequencing depth and negative controls."""

    name: str
    description: str = ""
    reference: str = ""
    assay: Literal["16s", "shotgun"] = "16s"
    depth: Annotated[int, Field(ge=1, le=100_000_000)] = 20_000
    blanks: Annotated[int, Field(ge=0, le=1000)] = 4
    samples: Annotated[list[SampleType], Field(min_length=1)]
    groups: list[Group] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> Design:
        types = [s.type for s in self.samples]
        if len(set(types)) != len(types):
            raise ValueError("samples: each sample type may appear once")
        if not any(s.role == "sink" for s in self.samples):
            raise ValueError("samples: no sample type has role 'sink'")
        source_days = {d for s in self.samples if s.role == "source" for d in s.days}
        if not source_days:
            raise ValueError("samples: no sample type has role 'source'")
        for s in self.samples:
            lonely = sorted(set(s.days) - source_days) if s.role == "sink" else []
            if lonely:
                raise ValueError(f"samples: sink {s.type!r} on day {lonely[0]} has no source sample that day")
        return self

    @property
    def days(self) -> list[int]:
        """Every day on which some sample is taken, sorted."""
        return sorted({d for s in self.samples for d in s.days})

    def sample_list(self, dyads: list[int]) -> list[tuple[int, int, str]]:
        """``(dyad, day, sample type)`` of every sample, in a fixed order."""
        return [
            (int(dyad), day, s.type)
            for dyad in dyads
            for s in self.samples
            for day in sorted(set(s.days))
        ]

    def group_of(self, share: float) -> str:
        """Name of the first group whose breast-milk share range holds ``share`` ("" if none)."""
        for g in self.groups:
            if g.breast_milk_share[0] <= share <= g.breast_milk_share[1]:
                return g.name
        return ""


def restrict_days(design: Design, days: list[int]) -> Design:
    """``design`` with only the sampling days in ``days`` (sample types left without a day go).

    Parameters
    ----------
    design
        A study design.
    days
        Days to keep.

    Returns
    -------
    Design
        The restricted design, validated again.

    Raises
    ------
    InputError
        No sink or no source sample is left.
    """
    keep = set(days)
    samples = [
        {**s.model_dump(), "days": [d for d in s.days if d in keep]}
        for s in design.samples
        if any(d in keep for d in s.days)
    ]
    if not any(s["role"] == "sink" for s in samples):
        raise InputError(
            f"design {design.name!r}: no sink sample on day(s) {', '.join(map(str, sorted(keep)))}"
            f" (its days: {', '.join(map(str, design.days))})"
        )
    return parse_design({**design.model_dump(), "samples": samples}, f"design {design.name!r}")


_FOLDER = "designs"
_WHAT = "design fields"


def builtin_designs() -> list[str]:
    """Names of the built-in designs."""
    return builtin_yaml_names(_FOLDER)


def parse_design(data: object, origin: str) -> Design:
    """Validate a mapping into a :class:`Design`; errors name ``origin`` and the field."""
    return validate_mapping(Design, data, origin, _WHAT, InputError)


def load_design(name_or_path: str) -> Design:
    """Load a built-in design by name or a YAML design file by path.

    Parameters
    ----------
    name_or_path
        A name from :func:`builtin_designs` or the path of a YAML file.

    Returns
    -------
    Design
        The validated design.

    Raises
    ------
    InputError
        One line naming the file: unknown name, unreadable or malformed file (with the
        line), an empty file, a top level that is not a mapping, or a field that does not
        validate.
    """
    data, origin = load_yaml_mapping(name_or_path, _FOLDER, _WHAT, InputError)
    return parse_design(data, origin)
