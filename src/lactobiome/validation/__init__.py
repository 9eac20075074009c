"""The model held against published figures: targets, measurements, verdicts.

The targets file (``data/targets.yaml``) lists published figures, each with an acceptance
range and either the key of a measurement in :data:`MEASURES` or the reason it is not
modelled. A measurement computes the model's value from a simulation result (an
``xarray.Dataset`` as written by ``lactobiome simulate``) together with a 95% interval across
dyads (percentile bootstrap over dyads). The verdict is ``within`` when the value lies in
the acceptance range, ``outside`` when it does not, and ``not modelled`` when there is no
mechanism (or the cohort holds no dyad the figure applies to, with the reason said).

Modules:

* :mod:`.targets` — loading and checking the targets file, :class:`Target`;
* :mod:`.measures` — the measurements, one module per system, and their registry; each
  declares the dataset variables it needs, checked before measuring;
* :mod:`.statistics` — per-dyad samples, their statistics, the bootstrap interval;
* :mod:`.verdicts` — verdicts and the validation table;
* :mod:`.report` — the table as terminal text, CSV and Markdown;
* :mod:`.cohort` — simulating a cohort for validation;
* :mod:`.priors`, :mod:`.sensitivity`, :mod:`.calibration` — the one-at-a-time screen over
  the parameter priors and a bounded Nelder–Mead calibration of chosen parameters.

Mastitis episodes are those of :mod:`lactobiome.model.spectrum`. Research and teaching
output; not medical advice.
"""

from __future__ import annotations

from lactobiome.model.spectrum import BACTERIAL_STATES, INFLAMED_STATES
from lactobiome.validation.calibration import Calibration, calibrate, loss, write_parameter_table
from lactobiome.validation.cohort import VALIDATION_DAYS, model_values, run_cohort
from lactobiome.validation.measures import (
    MEASURES,
    Measure,
    check_needs,
    measure,
    missing_variables,
)
from lactobiome.validation.priors import free_parameters, prior_bounds
from lactobiome.validation.report import model_text, to_markdown, to_text, write_csv, write_tables
from lactobiome.validation.sensitivity import sensitivity, top_effects
from lactobiome.validation.statistics import Measurement, Sample, bootstrap
from lactobiome.validation.targets import Target, format_number, load_targets
from lactobiome.validation.verdicts import (
    BEYOND_HORIZON,
    COLUMNS,
    NOT_MODELLED,
    OUTSIDE,
    VERDICTS,
    WITHIN,
    check_dataset,
    counts,
    validate_dataset,
    verdict,
)

__all__ = [
    "BACTERIAL_STATES", "BEYOND_HORIZON", "COLUMNS", "Calibration", "INFLAMED_STATES", "MEASURES", "Measure", "Measurement",
    "NOT_MODELLED", "OUTSIDE", "Sample", "Target", "VALIDATION_DAYS", "VERDICTS", "WITHIN", "bootstrap",
    "calibrate", "check_dataset", "check_needs", "counts", "format_number", "free_parameters", "load_targets",
    "loss", "measure", "missing_variables", "model_text", "model_values", "prior_bounds", "run_cohort",
    "sensitivity", "to_markdown", "to_text", "top_effects", "validate_dataset", "verdict", "write_csv",
    "write_parameter_table", "write_tables",
]
