"""Measurements of the immune factors of milk (targets ``F01``-``F06``, system ``immune``).

Secretory IgA and human milk oligosaccharides by lactation stage, and the fall of sIgA
from colostrum to mature milk.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import xarray as xr

from lactobiome.validation.measures import _common as c
from lactobiome.validation.measures.registry import Registrar
from lactobiome.validation.statistics import Sample, ratio_of_column_medians

register = Registrar("immune")

for _key, _name, _first, _last in (
        ("siga_colostrum", "siga_g_per_l", 1, 5), ("siga_transitional", "siga_g_per_l", 6, 14),
        ("siga_mature", "siga_g_per_l", 15, 75), ("hmo_colostrum", "hmo_g_per_l", 1, 5),
        ("hmo_transitional", "hmo_g_per_l", 6, 14), ("hmo_mature_month1", "hmo_g_per_l", 15, 30),
        ("hmo_after_6_months", "hmo_g_per_l", 180, 182)):
    register(_key, f"median over breastfed dyads of the mean {_name}, days {_first}-{_last}",
             needs=(_name, *c.BREASTFED_NEEDS))(c.stage_mean(_name, _first, _last))


def _fold(first: tuple[int, int], second: tuple[int, int]) -> Callable[[xr.Dataset], Sample]:
    def function(ds: xr.Dataset) -> Sample:
        values = c.panel(ds, "siga_g_per_l")
        a = c.per_dyad(values, np.broadcast_to(c.window(ds, *first), values.shape), "mean")
        b = c.per_dyad(values, np.broadcast_to(c.window(ds, *second), values.shape), "mean")
        bf = c.breastfed(ds)
        return Sample(np.column_stack([a[bf], b[bf]]), ratio_of_column_medians)

    return function


register("siga_fold_d3_4_vs_d15_180", "median sIgA days 3-4 / median sIgA days 15-180 (per-dyad means), "
         "breastfed dyads", needs=("siga_g_per_l", *c.BREASTFED_NEEDS))(_fold((3, 4), (15, 180)))
register("siga_fold_d3_vs_week4", "median sIgA day 3 / median sIgA days 22-28 (per-dyad means), breastfed "
         "dyads", needs=("siga_g_per_l", *c.BREASTFED_NEEDS))(_fold((3, 3), (22, 28)))
