"""What each variable of a result means: CF-style attributes, and state codes with their labels.

A result file reads like documentation (``ncdump -h``): every variable and coordinate has a
``long_name``, ``units`` (``1`` for dimensionless, as CF writes it) and a ``description``; the
file has a ``title``, ``history`` (the command that made it), ``date_created`` and
``Conventions``. Categorical daily states are stored as small integer codes with CF
``flag_values`` / ``flag_meanings`` (a 21-character string per dyad-day took 30 MB at
3,000 × 120) and decoded back to their names when the result is read.
"""

from __future__ import annotations

import datetime as _dt
from typing import TYPE_CHECKING

import numpy as np

from lactobiome.model.contract import HOST_VARIABLES
from lactobiome.model.population import LOGNORMAL_FACTORS
from lactobiome.model.spectrum import MASTITIS_STATES, TREATMENTS

if TYPE_CHECKING:
    import xarray as xr

CONVENTIONS = "CF-1.8"

COORDINATES: dict[str, dict[str, str]] = {
    "dyad": {"long_name": "dyad id", "units": "1",
             "description": "global id of the mother-infant pair; with the seed it fixes every random number of "
                            "the dyad, whatever the chunk it was simulated in"},
    "day": {"long_name": "day of life", "units": "day",
            "description": "days since birth; day 1 is the first 24 hours of life"},
    "sample_day": {"long_name": "day of life of the recorded abundance", "units": "day",
                   "description": "days of life on which the full abundance array was recorded"},
    "site": {"long_name": "body site", "units": "1",
             "description": "maternal_gut, maternal_mouth, breast_stroma, milk (the ductal milk pool), areolar_skin, "
                            "infant_mouth, infant_gut"},
    "taxon": {"long_name": "taxon of the catalogue", "units": "1",
              "description": "catalogue taxon (species, or a strain for probiotics); traits in data/taxa.csv"},
    "origin": {"long_name": "origin of the cells (last donor)", "units": "1",
               "description": "the site a cell last came from (last donor), or its external source: resident, birth, "
                              "environment, probiotic"},
    "genus": {"long_name": "genus of the taxon", "units": "1",
              "description": "genus of each catalogue taxon (an auxiliary coordinate on taxon), to sum abundance "
                             "by genus as 16S studies report it"},
    "family": {"long_name": "family of the taxon", "units": "1",
               "description": "family of each catalogue taxon (an auxiliary coordinate on taxon)"},
}

ATTRIBUTES: dict[str, tuple[str, str]] = {
    "delivery_mode": ("1", "vaginal or caesarean birth"),
    "intrapartum_antibiotics": ("1", "the mother had intrapartum antibiotic prophylaxis"),
    "first_time_mother": ("1", "primiparous mother"),
    "previous_mastitis": ("1", "mastitis in an earlier lactation"),
    "oversupply": ("1", "hyperlactation"),
    "tight_bra": ("1", "a tight bra compresses the ducts"),
    "nipple_damage": ("1", "damaged nipples in the first weeks"),
    "secretor": ("1", "FUT2 secretor (alpha1-2 fucosylated HMOs in milk)"),
    "breast_milk_share": ("1", "share of the infant's milk that is breast milk in month 1"),
    "direct_breastfeeding_share": ("1", "share of breast-milk feeds given at the breast (not expressed)"),
    "feeding_group": ("1", "feeding group of the scenario the dyad was drawn into"),
    "probiotic": ("1", "probiotic strains the mother or infant takes, joined by '+', empty for none"),
    "preterm": ("1", "born before 37 weeks"),
    "gestational_age_weeks": ("week", "gestational age at birth"),
    "solids_start_day": ("day", "day of life complementary foods start"),
    "sleeps_through_day": ("day", "day of life the infant first sleeps through the night"),
    "treatment_covered": ("1", "the dyad is covered by the scenario's treatment policy"),
    "resident_seed": ("1", "seed of the draws of the resident taxa the mother carries (kept by her earlier lactation)"),
    "maternal_atopy": ("1", "the mother has an allergic (atopic) disease"),
    "biofilm_strain": ("1", "the mother's ductal flora carries a biofilm-forming (ica-positive) strain that attaches "
                            "to the duct wall"),
    "nipple_fissure": ("1", "the nipple damage opens the skin (a crack or fissure): the way in for skin bacteria"),
    "nipple_healing_day": ("day", "day of life by which a damaged nipple has healed (read where nipple_damage)"),
    "probiotic_strain_cells_maternal_gut_at_birth": (
        "cells", "cells of the scenario's probiotic strains in the maternal gut at birth (runs with pregnancy days)"),
    "probiotic_strain_cells_breast_stroma_at_birth": (
        "cells", "cells of the scenario's probiotic strains in the breast stroma at birth (runs with pregnancy days)"),
}
"""Dyad attributes: (units, description)."""

_FACTOR_DESCRIPTION = "per-dyad log-normal factor with mean 1 (between-mother variation), drawn once"

DERIVED_PANEL: dict[str, tuple[str, str]] = {
    "milk_bacteria_per_ml": ("cells/mL", "live bacteria per mL of the ductal milk pool at the end of the day"),
    "milk_staphylococci_per_ml": ("cells/mL", "live Staphylococcus cells per mL of milk (what a mastitis culture counts)"),
}


LONG_NAMES: dict[str, str] = {
    "milk_volume_ml": "breast milk volume taken",
    "formula_volume_ml": "formula volume taken",
    "milk_production_ml": "milk production",
    "residual_milk_ml": "residual milk in the breast",
    "milk_pool_ml": "ductal milk pool volume",
    "hmo_g_per_l": "milk HMO concentration",
    "siga_g_per_l": "milk sIgA concentration",
    "na_k_ratio": "milk Na:K ratio",
    "somatic_cells_per_ml": "milk somatic cell count",
    "leucocytes_recruited_per_ml": "leucocytes recruited into milk",
    "pathobiont_per_ml": "pathobiont load of milk",
    "ductal_biofilm_per_ml": "ductal biofilm load",
    "milk_bacteria_per_ml": "milk bacterial load",
    "milk_staphylococci_per_ml": "milk staphylococcal load",
    "gestational_age_weeks": "gestational age",
    "milk_hmo_factor": "milk HMO factor",
    "milk_siga_factor": "milk sIgA factor",
    "na_k_factor": "milk Na:K factor",
    "feeds_per_day": "feeds",
    "direct_feeds_per_day": "feeds at the breast",
}
"""``long_name`` of variables whose names carry units or abbreviations (the units go in
``units``; the others' long name is their name with spaces)."""


def _long_name(name: str) -> str:
    return LONG_NAMES.get(name, name.replace("_", " "))


def events_attributes(result_name: str) -> dict[str, str]:
    """Global attributes naming the mastitis episodes table written beside a result.

    Parameters
    ----------
    result_name
        The result file's name (``cohort.nc``); the table is ``cohort.nc.events.csv``.
    """
    from pathlib import Path

    from lactobiome.io.events import COLUMNS, events_path

    return {"events_file": events_path(Path(result_name)).name,
            "events_description": f"mastitis episodes, one row each ({', '.join(COLUMNS)}), in a CSV file "
                                  "in the folder of this result"}


def attributes_of(name: str) -> dict[str, str]:
    """The CF attributes of a result variable (empty for one this module does not know)."""
    if name in COORDINATES:
        return dict(COORDINATES[name])
    if name == "abundance":
        return {"long_name": "live cells by origin", "units": "cells",
                "description": "live cells of each taxon in each site on each recorded day, split by the origin "
                               "(last donor) of the cells: the model's truth, before any sampling or sequencing"}
    if name in HOST_VARIABLES:
        spec = HOST_VARIABLES[name]
        unit = "1" if spec.unit in ("fraction", "probability") else spec.unit
        return {"long_name": _long_name(name), "units": unit, "description": f"{spec.description} (daily)"}
    if name in DERIVED_PANEL:
        unit, text = DERIVED_PANEL[name]
        return {"long_name": _long_name(name), "units": unit, "description": text}
    if name in ATTRIBUTES:
        unit, text = ATTRIBUTES[name]
        return {"long_name": _long_name(name), "units": unit, "description": text}
    if name in LOGNORMAL_FACTORS:
        return {"long_name": _long_name(name), "units": "1",
                "description": f"{_FACTOR_DESCRIPTION} (sd from parameter {LOGNORMAL_FACTORS[name][1]})"}
    if name.startswith("intervention_") and name.endswith("_covered"):
        number = name[len("intervention_"):-len("_covered")]
        return {"long_name": _long_name(name), "units": "1",
                "description": f"the dyad is covered by intervention {number} of the scenario (one draw each)"}
    return {}


def describe(ds: xr.Dataset) -> None:
    """Add the CF attributes of every known variable and coordinate of ``ds`` (in place)."""
    for name in list(ds.variables):
        extra = attributes_of(str(name))
        if extra:
            ds[name].attrs.update({k: v for k, v in extra.items() if k not in ds[name].attrs})


def encode_mastitis_state(codes: np.ndarray) -> tuple[np.ndarray, dict[str, object]]:
    """Daily state codes as int8 with CF ``flag_values`` / ``flag_meanings``."""
    return codes.astype(np.int8), {
        "long_name": "mastitis-spectrum state",
        "units": "1",
        "flag_values": np.arange(len(MASTITIS_STATES), dtype=np.int8),
        "flag_meanings": " ".join(MASTITIS_STATES),
        "description": "state of the 2022 mastitis spectrum each day (Mitchell et al. 2022, ABM protocol #36)",
    }


def treatment_attributes() -> dict[str, object]:
    """CF ``flag_masks`` attributes of the daily treatment bitmask."""
    return {"long_name": "treatments active", "units": "1",
            "flag_masks": np.array([1 << i for i in range(len(TREATMENTS))], dtype=np.int8),
            "flag_meanings": " ".join(TREATMENTS),
            "description": "bitmask of the treatments a treatment policy has active that day"}


def decode_states(ds: xr.Dataset) -> xr.Dataset:
    """``ds`` with flag-coded categorical variables (``flag_values``/``flag_meanings``) as names."""
    for name in list(ds.data_vars):
        variable = ds[name]
        if "flag_values" in variable.attrs and "flag_meanings" in variable.attrs and variable.dtype.kind in "iu":
            labels = np.array(str(variable.attrs["flag_meanings"]).split(), dtype=object)
            values = np.asarray(variable.attrs["flag_values"]).astype(np.int64)
            lookup = np.empty(int(values.max()) + 1, dtype=object)
            lookup[values] = labels
            attrs = {k: v for k, v in variable.attrs.items() if k not in ("flag_values", "flag_meanings")}
            ds[name] = (variable.dims, lookup[variable.values.astype(np.int64)], attrs)
    return ds


def global_attributes(scenario_name: str, history: str | None = None,
                      now: _dt.datetime | None = None) -> dict[str, str]:
    """``title``, ``Conventions``, ``date_created`` and ``history`` of a result."""
    moment = (now or _dt.datetime.now(_dt.UTC)).replace(microsecond=0)
    stamp = moment.isoformat().replace("+00:00", "Z")
    attrs = {"title": f"lactobiome simulation: scenario {scenario_name}", "Conventions": CONVENTIONS,
             "date_created": stamp, "source": "lactobiome (mechanistic model; research and teaching use)"}
    if history:
        attrs["history"] = f"{stamp} {history}"
    return attrs
