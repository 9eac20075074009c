"""Measurements of infant health outcomes (targets ``H``, system ``infant_outcomes``).

The cumulative incidence of atopic dermatitis by 2 years: the share of infants whose drawn
eczema (:func:`lactobiome.outcomes.atopic_dermatitis`) began by 24 months, as a birth cohort
counts its cases; the mean risk is its truth value.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from lactobiome.errors import InputError
from lactobiome.outcomes import atopic_dermatitis
from lactobiome.outcomes.atopic_dermatitis import NEEDS
from lactobiome.validation.measures.registry import Registrar, Unmeasurable
from lactobiome.validation.statistics import Sample, nanmean

register = Registrar("infant_outcomes")


@register("atopic_dermatitis_incidence_24mo",
          "share of infants with atopic dermatitis (drawn from the eczema risk model) by 24 months",
          needs=NEEDS)
def _incidence(ds: xr.Dataset) -> Sample:
    try:
        cases = atopic_dermatitis(ds, months=24)["atopic_dermatitis"].to_numpy()
    except InputError as exc:  # a cohort too short for the model's window (or without day 30)
        raise Unmeasurable(str(exc).removeprefix("atopic_dermatitis: ")) from None
    return Sample(cases.astype(np.float64), nanmean)
