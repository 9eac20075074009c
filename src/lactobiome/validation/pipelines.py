"""What a study would have measured: a target's figure taken through its study's pipeline.

A target's ``measured_by`` (``data/targets.yaml``) says how its study measured the quantity:
``truth`` when no pipeline applies (the model's own value is compared), otherwise the key
of a pipeline here, ``design/assay/analysis``. ``validate`` then reports the pipeline's value
as the model value and the truth beside it (``truth_value``).

``pannaraj2017/16S/sourcetracker`` (E01, E02): Pannaraj et al. (JAMA Pediatr 2017;171:647-654)
sequenced the 16S gene of infant stool, breast milk and areolar skin swabs of the same visit
and ran SourceTracker with milk and areolar skin as the sources. The pipeline observes the
simulated cohort with the ``pannaraj2017`` design (16S reads, kit contamination, 20,000 reads
a sample) on the target's day, keeps the design's two published sources (the design adds
maternal stool for the closed loop; the study had none), takes at most the study's 107
dyads of the target's breast-milk group, runs ``track --method sourcetracker`` (SourceTracker2
defaults) and averages the source's share over the infants; the interval is a percentile
bootstrap over infants.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import xarray as xr

from lactobiome.validation.statistics import Measurement, Sample, bootstrap, nanmean

__all__ = ["PIPELINES", "TRUTH", "Pipeline", "run_pipeline"]

TRUTH = "truth"
"""``measured_by`` of a target compared with the model's true value."""
PANNARAJ_DYADS = 107
"""Dyads in Pannaraj et al. 2017 (JAMA Pediatr 171:647-654), the most the pipeline observes."""


@dataclass(frozen=True)
class Pipeline:
    """A study's measurement: design, the sources it tracked, the tracking method, its cohort."""

    design: str
    sink: str
    sources: tuple[str, ...]
    method: str
    group: str
    max_dyads: int
    description: str


PIPELINES: dict[str, Pipeline] = {
    "pannaraj2017/16S/sourcetracker": Pipeline(
        design="pannaraj2017", sink="infant_stool", sources=("milk", "areolar_skin"),
        method="sourcetracker", group="breast_milk_ge75", max_dyads=PANNARAJ_DYADS,
        description="pannaraj2017 design, 16S reads, SourceTracker (milk and areolar skin as "
                    "sources), infants with >= 75% breast milk",
    ),
}
"""Pipelines by ``measured_by`` key."""

MEASURE_SOURCE_DAY: dict[str, tuple[str, int]] = {
    "infant_gut_milk_share_d30": ("milk", 30),
    "infant_gut_areolar_share_d30": ("areolar_skin", 30),
}
"""Which source's share, on which day, a pipeline reports for a target's measurement."""


def _shares(ds: xr.Dataset, key: str, day: int, seed: int) -> tuple[dict[str, np.ndarray], str]:
    """Per-sink shares by source through pipeline ``key`` on ``day`` ("" or the reason)."""
    from lactobiome.errors import InputError
    from lactobiome.observation import load_design, observe
    from lactobiome.observation.design import parse_design
    from lactobiome.tracking import to_wide, track

    p = PIPELINES[key]
    base = load_design(p.design)
    recorded = [int(d) for d in ds["sample_day"].values]
    if day not in recorded:
        return {}, f"pipeline {key}: day {day} is not a recorded day of the result"
    samples = [
        {**s.model_dump(), "days": [day]}
        for s in base.samples
        if day in s.days and (s.type == p.sink or s.type in p.sources)
    ]
    design = parse_design({**base.model_dump(), "samples": samples}, f"pipeline {key}")
    share = ds["breast_milk_share"].values
    in_group = [
        int(d) for d, v in zip(ds["dyad"].values, share, strict=True)
        if design.group_of(float(v)) == p.group
    ]
    if not in_group:
        return {}, f"pipeline {key}: no dyad of group {p.group!r} in the cohort"
    rng = np.random.default_rng(seed)
    chosen = sorted(rng.choice(in_group, size=min(p.max_dyads, len(in_group)), replace=False))
    obs = observe(ds, design, seed=seed, dyads=[int(d) for d in chosen])
    meta = obs.metadata
    try:
        est = track(obs.counts[meta.index], meta[["Env", "SourceSink", "id"]], method=p.method,
                    seed=seed, counts_name=f"pipeline {key}")
    except InputError as exc:
        return {}, str(exc)
    wide = to_wide(est)
    return {str(c): wide[c].to_numpy(dtype=np.float64) for c in wide.columns}, ""


def run_pipeline(
    ds: xr.Dataset,
    key: str,
    measure: str,
    n_boot: int = 200,
    seed: int = 0,
    cache: dict[tuple[str, int], tuple[dict[str, np.ndarray], str]] | None = None,
) -> Measurement:
    """The value a target's study would have reported on the simulated cohort.

    Parameters
    ----------
    ds
        A simulation result (it must hold the pipeline's day).
    key
        A key of :data:`PIPELINES`.
    measure
        The target's measurement key (which source and day, :data:`MEASURE_SOURCE_DAY`).
    n_boot
        Bootstrap resamples over infants for the 95% interval.
    seed
        Seed of the dyads chosen, the observation, the tracking and the bootstrap.
    cache
        Shared between targets measured by the same pipeline on the same day.

    Returns
    -------
    Measurement
        Mean share over the infants tracked, with its interval; NaN with the reason when the
        pipeline cannot run on ``ds``.
    """
    if measure not in MEASURE_SOURCE_DAY:
        return Measurement(math.nan, reason=f"pipeline {key} has no reading for measure {measure!r}")
    source, day = MEASURE_SOURCE_DAY[measure]
    cache = {} if cache is None else cache
    if (key, day) not in cache:
        cache[(key, day)] = _shares(ds, key, day, seed)
    shares, reason = cache[(key, day)]
    if reason:
        return Measurement(math.nan, reason=reason)
    values = shares.get(source)
    if values is None:
        return Measurement(math.nan, reason=f"pipeline {key}: no {source} source tracked")
    return bootstrap(Sample(values[np.isfinite(values)], nanmean), n_boot, seed)
