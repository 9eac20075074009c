"""The measurements, one module per system of targets, and their one registry.

Importing this package registers every measurement in :data:`MEASURES`:

* :mod:`.milk_microbiome` — milk bacteria, genera and families (targets ``A``);
* :mod:`.seeding` — contact routes and tight junctions (``B``);
* :mod:`.milk_cells` — leucocytes, epithelial and stem cells, SCC (``C``);
* :mod:`.mastitis` — mastitis incidence, recurrence, timing, organisms (``D``);
* :mod:`.risk` — mastitis risk factors, case definitions, subclinical mastitis (``D19``-``D33``);
* :mod:`.infant_gut` — provenance and composition of the infant gut (``E``);
* :mod:`.immune` — sIgA and HMOs (``F01``-``F06``);
* :mod:`.milk_volume` — milk volume by stage (``F07``-``F12``);
* :mod:`.infant_outcomes` — atopic dermatitis by 2 years (``H``).

Each measurement declares the dataset variables it reads (:attr:`Measure.needs`).
"""

from __future__ import annotations

from lactobiome.validation.measures import (  # noqa: F401 (imported to register their measurements)
    immune,
    infant_gut,
    infant_outcomes,
    mastitis,
    milk_cells,
    milk_microbiome,
    milk_volume,
    risk,
    seeding,
)
from lactobiome.validation.measures.registry import (
    MEASURES,
    Measure,
    MeasureFunction,
    Registrar,
    Unmeasurable,
    check_needs,
    measure,
    missing_variables,
)

__all__ = ["MEASURES", "Measure", "MeasureFunction", "Registrar", "Unmeasurable", "check_needs", "measure",
           "missing_variables"]
