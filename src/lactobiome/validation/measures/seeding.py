"""Measurements of how milk is seeded (targets ``B``, system ``seeding``).

The contact routes of feeds at the breast (infant mouth and areolar skin in milk) and the
closing of the tight junctions after birth (the fall of the milk Na:K ratio).
"""

from __future__ import annotations

import math

import numpy as np
import xarray as xr

from lactobiome.validation.measures import _common as c
from lactobiome.validation.measures.registry import Registrar, Unmeasurable
from lactobiome.validation.statistics import Sample, difference_of_group_means, nanmedian

register = Registrar("seeding")


@register("milk_contact_origin_direct_minus_pumped_d30",
          "mean share of milk cells of infant-mouth or areolar-skin origin at day 30: breastfed dyads with "
          "direct share >= 0.85 minus pumping-only dyads",
          needs=(*c.COMPOSITION_NEEDS, "direct_breastfeeding_share", *c.BREASTFED_NEEDS))
def _direct_minus_pumped(ds: xr.Dataset) -> Sample:
    day = c.recorded_day(ds, 30)
    contact = c.origin_share(ds, "milk", day, ("infant_mouth", "areolar_skin"))
    direct = np.asarray(ds["direct_breastfeeding_share"].values, dtype=np.float64)
    bf = c.breastfed(ds)
    group = np.where(bf & (direct >= 0.85), 1.0, np.where(bf & (direct <= 0.0), 0.0, np.nan))
    if not (group == 0).any() or not (group == 1).any():
        raise Unmeasurable("the cohort lacks direct-breastfeeding or pumping-only dyads")
    keep = np.isfinite(group)
    return Sample(np.column_stack([contact[keep], group[keep]]), difference_of_group_means)


def _fall_done(x: np.ndarray) -> float:
    """(median of column 0 - median of column 1) / (median of column 0 - median of column 2)."""
    d1, d3, d7 = (nanmedian(x[:, j]) for j in range(3))
    return (d1 - d3) / (d1 - d7) if d1 != d7 else math.nan


@register("nak_fall_done_by_day3",
          "(median Na:K day 1 - day 3) / (median Na:K day 1 - day 7), breastfed dyads",
          needs=("na_k_ratio", *c.BREASTFED_NEEDS))
def _nak_fall(ds: xr.Dataset) -> Sample:
    nak = c.panel(ds, "na_k_ratio")
    simulated = c.days(ds)
    c.window(ds, 1, 7)  # unmeasurable before day 7
    cols = [nak[:, int(np.searchsorted(simulated, d))] for d in (1, 3, 7)]
    return Sample(np.column_stack(cols)[c.breastfed(ds)], _fall_done)


@register("nak_day7", "median Na:K on day 7, breastfed dyads", needs=("na_k_ratio", *c.BREASTFED_NEEDS))
def _nak7(ds: xr.Dataset) -> Sample:
    return c.panel_window(ds, "na_k_ratio", 7, 7, c.breastfed(ds))
