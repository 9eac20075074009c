"""Measurements of milk volume (targets ``F07``-``F12``, system ``milk_volume``).

The mean daily milk volume by stage: exclusively breastfed dyads up to six months, dyads
given any breast milk after that.
"""

from __future__ import annotations

from lactobiome.validation.measures import _common as c
from lactobiome.validation.measures.registry import Registrar

register = Registrar("milk_volume")

_NEEDS = ("milk_volume_ml", *c.BREASTFED_NEEDS)

for _key, _first, _last in (("milk_volume_day1", 1, 1), ("milk_volume_day3", 3, 3), ("milk_volume_day5", 5, 5),
                            ("milk_volume_days14_28", 14, 28), ("milk_volume_month1", 28, 31),
                            ("milk_volume_month2", 58, 62), ("milk_volume_month4", 118, 122),
                            ("milk_volume_month6", 175, 182)):
    register(_key, f"median over exclusively breastfed dyads of the mean milk volume (mL/day), days "
             f"{_first}-{_last}", needs=_NEEDS)(c.stage_mean("milk_volume_ml", _first, _last, c.exclusive))
for _key, _first, _last in (("milk_volume_month9", 268, 272), ("milk_volume_month12", 361, 365)):
    register(_key, f"median over dyads with any breast milk of the mean milk volume (mL/day), days "
             f"{_first}-{_last}", needs=_NEEDS)(c.stage_mean("milk_volume_ml", _first, _last))
