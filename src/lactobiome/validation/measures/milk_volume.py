"""Measurements of milk volume (targets ``F07``-``F12``, system ``milk_volume``).

The mean daily milk volume by stage: exclusively breastfed dyads up to six months, dyads
given any breast milk after that. Saint et al. 1984's late figure (F07d) is read through its
design: each mother weighed over 24 h on either day 14 or day 28.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from lactobiome.validation.measures import _common as c
from lactobiome.validation.measures.registry import Registrar
from lactobiome.validation.statistics import Sample, nanmean

register = Registrar("milk_volume")

_NEEDS = ("milk_volume_ml", *c.BREASTFED_NEEDS)

for _key, _first, _last in (("milk_volume_day1", 1, 1), ("milk_volume_day3", 3, 3), ("milk_volume_day5", 5, 5),
                            ("milk_volume_month1", 28, 31),
                            ("milk_volume_month2", 58, 62), ("milk_volume_month4", 118, 122),
                            ("milk_volume_month6", 175, 182)):
    register(_key, f"median over exclusively breastfed dyads of the mean milk volume (mL/day), days "
             f"{_first}-{_last}", needs=_NEEDS)(c.stage_mean("milk_volume_ml", _first, _last, c.exclusive))
for _key, _first, _last in (("milk_volume_month9", 268, 272), ("milk_volume_month12", 361, 365)):
    register(_key, f"median over dyads with any breast milk of the mean milk volume (mL/day), days "
             f"{_first}-{_last}", needs=_NEEDS)(c.stage_mean("milk_volume_ml", _first, _last))


SAINT_1984_WEIGHING_DAYS = (14, 28)
"""Days on which Saint, Smith & Hartmann (Br J Nutr 1984;52:87-95) weighed each mother over 24 h
("on either day 14 or 28 post-partum"); the paper pools the two days into one mean."""


@register("milk_volume_days14_28",
          "mean over exclusively breastfed dyads of the milk removed in 24 h (the infant's intake) on one "
          "day each, day 14 or day 28 (alternating between dyads), as Saint 1984 weighed each mother once",
          needs=_NEEDS)
def _saint_mother_weighing(ds: xr.Dataset) -> Sample:
    # weighing the mother before and after each feed measures the milk the infant removed, both
    # breasts, over 24 h; Saint found it agreed with weighing the infant (r 0.85, n 42)
    values = c.panel(ds, "milk_volume_ml")
    simulated = c.days(ds)
    c.window(ds, SAINT_1984_WEIGHING_DAYS[0], SAINT_1984_WEIGHING_DAYS[-1])
    columns = [int(np.flatnonzero(simulated == day)[0]) for day in SAINT_1984_WEIGHING_DAYS]
    # each dyad is weighed on one of the two days (the study does not say which mother on which)
    which = np.arange(values.shape[0]) % len(columns)
    per = values[np.arange(values.shape[0]), np.asarray(columns)[which]][c.exclusive(ds)]
    return Sample(per[np.isfinite(per)], nanmean)
