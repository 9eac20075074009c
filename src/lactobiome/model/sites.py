"""Sites of the dyad and the origin tags of provenance (docs/design.md §3, §4)."""

from __future__ import annotations

SITES: tuple[str, ...] = (
    "maternal_gut",
    "maternal_mouth",
    "breast_stroma",
    "milk",
    "areolar_skin",
    "infant_mouth",
    "infant_gut",
)
"""Site names in array order (axis ``site`` of the state)."""

EXTERNAL_ORIGINS: tuple[str, ...] = ("resident", "birth", "environment", "probiotic")
"""Origins that are not sites: a site's founders, the birth inoculum, background, dosing."""

ORIGINS: tuple[str, ...] = SITES + EXTERNAL_ORIGINS
"""Origin tags in array order (axis ``origin`` of the state)."""

MATERNAL_SITES: tuple[str, ...] = ("maternal_gut", "maternal_mouth", "breast_stroma", "areolar_skin")
"""Sites that carry a resident community from before birth."""

SITE_INDEX: dict[str, int] = {name: i for i, name in enumerate(SITES)}
ORIGIN_INDEX: dict[str, int] = {name: i for i, name in enumerate(ORIGINS)}
