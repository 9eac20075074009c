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

Assay pipelines (a laboratory count, no sequencing: light microscopy of milk cells, 16S qPCR
of milk) are in :mod:`lactobiome.validation.assays`; :func:`run_pipeline` dispatches to them
and :func:`is_pipeline` knows both kinds.

``yoshioka1983/culture/log10_cfu_per_g`` (E10a, E10b): Yoshioka et al. (Pediatrics
1983;72:317-321) plated the stool of breastfed and formula-fed newborns on selective media and
reported bifidobacteria and enterobacteria as log10 counts per gram of faeces. The pipeline
reads the infant gut on the recorded day nearest day 6 as a plate count would: only
culturable taxa, each cell forming a colony with the culture recovery of the parameter
table, per gram of colonic content, a count below the plates' detection limit read at that
limit; the figure is the group mean of log10 Bifidobacteriaceae minus log10
Enterobacteriaceae counts (the log of the ratio of the groups' geometric-mean counts).

``foxman2002/provider_diagnosed`` (D19, D21): Foxman et al. (Am J Epidemiol 2002;155:103-114)
counted mastitis a provider diagnosed (64% of diagnoses by telephone), so an episode a woman
managed herself is not in its 9.5%. The pipeline counts a dyad when one of its episodes began
in the window and was taken to a provider: the woman had fever on one of its days, or it had
not begun to improve after a day of self-care (still inflamed on its third day, no less than at
onset: :func:`lactobiome.validation.measures.risk.consulted`, the consultation rule of the
clinical guidance). The truth (every inflamed episode) is beside it. Foxman's odds ratio of a
mastitis with a previous child (D21) came from a logistic model of the same provider-diagnosed
mastitis over the same 12 weeks, so it is read through the same count.

``amir2007/fever_or_flu_like`` (D20, D23, D27): Amir et al. (BMC Public Health 2007;7:62) defined
mastitis as at least two breast symptoms (pain, redness or lump) and at least one of fever or flu-like
symptoms, asked at a six-month telephone interview of first-time mothers. The pipeline counts the
episodes with fever on one of their days (the model's systemic sign; its threshold is fitted to
self-reported fever, D33): :func:`lactobiome.validation.measures.risk.febrile_onsets`. The truth beside
it counts every inflamed episode.

``kvist2007/first_visit_temperature`` (D35): Kvist et al. (Int Breastfeed J 2007;2:2) saw at a
midwife-led breastfeeding clinic every woman who contacted it with symptoms of breast inflammation
(two of erythema, tension, resistance, pain or pyrexia) and recorded her temperature at the first
visit. Her 205 women had 210 episodes: a woman was followed for six weeks after recovery, and only
symptoms after that made a new episode. The pipeline takes every episode that began on days 1-182 as a
clinic episode unless it began within six weeks of the end of the woman's last clinic episode
(:func:`lactobiome.validation.measures.risk.clinic_episodes`), and reads fever on the visit day, the
episode's first (:data:`lactobiome.validation.measures.risk.CLINIC_VISIT_EPISODE_DAY`); the truth
beside it is the share of all episodes with fever on any of their days.

``kinlay2001/proportional_hazards`` (D22, D39, D40): Kinlay et al. (Aust N Z J Public Health 2001;25:115-120)
recruited 1,075 breastfeeding women of every parity after delivery in Newcastle (NSW), followed them for
six months with questionnaires at 3, 8 and 26 weeks, and reported each factor's hazard ratio from one
proportional-hazards model holding every factor "statistically significantly and independently related
to mastitis": a past history of mastitis (HR 1.74), university or college education, a blocked duct
(HR 2.43), cracked nipples (HR 1.44), creams on the nipples and always starting with the alternate
breast. The pipeline fits that model (Breslow's ties, days 1-182, censored at day 182) to the breastfed
dyads with the three of those factors the simulation has: a mastitis in an earlier lactation, cracked
nipples (damage that opens the skin, ``nipple_fissure``) and a blocked duct (a day of ductal narrowing
in the six months, as the questionnaires recorded it over each interval); education, creams and the
breast a feed starts on are not modelled. Each of the three hazard ratios (D22, D39, D40) is read from
that one fit; the truth beside each is its factor's crude six-month risk ratio.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import xarray as xr

from lactobiome.validation.statistics import Measurement, Sample, bootstrap, nanmean

__all__ = [
    "CASE_DEFINITIONS", "PIPELINES", "READINGS", "TRUTH", "Pipeline", "composition_note", "is_pipeline",
    "pipeline_keys", "run_pipeline",
]

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

CaseCount = Callable[[xr.Dataset], Sample]
"""A study's case count on a simulated cohort, as a sample over dyads."""


def _provider_diagnosed(ds: xr.Dataset) -> Sample:
    from lactobiome.validation.measures.risk import provider_diagnosed_12_weeks

    return provider_diagnosed_12_weeks(ds)


def _clinic_first_visit(ds: xr.Dataset) -> Sample:
    from lactobiome.validation.measures.risk import febrile_at_clinic_visit_26wk

    return febrile_at_clinic_visit_26wk(ds)


def _reader(name: str) -> CaseCount:
    """A case count of :mod:`lactobiome.validation.measures.risk` by name (imported when called)."""

    def count(ds: xr.Dataset) -> Sample:
        from lactobiome.validation.measures import risk

        reader: CaseCount = getattr(risk, name)
        return reader(ds)

    return count


CASE_DEFINITIONS: dict[str, dict[str, CaseCount]] = {
    "amir2007/fever_or_flu_like": {
        "mastitis_cumulative_26_weeks_first_time": _reader("amir_cumulative_26_weeks_first_time"),
        "mastitis_or_nipple_damage_first_time_26wk": _reader("amir_or_nipple_damage_first_time_26wk"),
        "mastitis_onsets_first_4_weeks_first_time": _reader("amir_onsets_first_4_weeks_first_time"),
    },
    "foxman2002/provider_diagnosed": {
        "mastitis_cumulative_12_weeks": _provider_diagnosed,
        "mastitis_or_previous_mastitis_12wk": _reader("provider_diagnosed_or_previous_mastitis_12wk"),
    },
    "kvist2007/first_visit_temperature": {"mastitis_febrile_episodes_26wk": _clinic_first_visit},
    "kinlay2001/proportional_hazards": {
        "mastitis_rr_previous_mastitis_26wk": _reader("kinlay_adjusted_hr_previous_mastitis_26wk"),
        "mastitis_rr_nipple_fissure_26wk": _reader("kinlay_adjusted_hr_nipple_fissure_26wk"),
        "mastitis_rr_blocked_duct_26wk": _reader("kinlay_adjusted_hr_blocked_duct_26wk"),
    },
}
"""Pipelines that count cases as a study defined them: key -> target measurement -> its count."""


def pipeline_keys() -> list[str]:
    """Every ``measured_by`` key a target may name besides ``truth``: tracking and assay
    pipelines, readings of the cohort (:data:`READINGS`) and case definitions
    (:data:`CASE_DEFINITIONS`)."""
    from lactobiome.validation.assays import ASSAYS

    return [*PIPELINES, *ASSAYS, *READINGS, *CASE_DEFINITIONS]


def is_pipeline(key: str) -> bool:
    """Whether ``key`` names a tracking or an assay pipeline, a reading or a case definition."""
    return key in pipeline_keys()

MEASURE_SOURCE_DAY: dict[str, tuple[str, int]] = {
    "infant_gut_milk_share_d30": ("milk", 30),
    "infant_gut_areolar_share_d30": ("areolar_skin", 30),
}
"""Which source's share, on which day, a pipeline reports for a target's measurement."""


def composition_note(ds: xr.Dataset, key: str, day: int, dyads: list[int],
                     shares: dict[str, np.ndarray], contaminant_share: float) -> str:
    """Why the pipeline's share differs from the truth, in figures from the cohort.

    For each tracked source: its true share of the sink site's cells, the genus that makes
    most of those cells and that genus's share of the source site's own cells, the source
    site's dominant genus and its share of the sink site, and the pipeline's estimate. Then
    the sink's own dominant genus, its share of each source site's cells and the pipeline's
    Unknown share: a sink grown mostly from a genus that no source carries in like measure
    is read as Unknown, whatever the cells' true provenance.
    """
    from lactobiome.observation.design import SAMPLE_SITES

    p = PIPELINES[key]
    ab = ds["abundance"].sel(dyad=dyads, sample_day=day)
    genus = [str(g) for g in ds["genus"].values]
    sink_site = SAMPLE_SITES[p.sink]
    sink = ab.sel(site=sink_site)
    sink_total = float(sink.sum())
    by_genus_sink = _by_genus(sink.sum(["dyad", "origin"]).values, genus, max(sink_total, 1e-300))
    parts = []
    for source in p.sources:
        site = SAMPLE_SITES[source]
        if site not in [str(o) for o in ds["origin"].values] or sink_total <= 0:
            continue
        came = _by_genus(sink.sel(origin=site).sum("dyad").values, genus, sink_total)
        own_cells = ab.sel(site=site).sum(["dyad", "origin"]).values
        own = _by_genus(own_cells, genus, max(float(own_cells.sum()), 1e-300))
        top_came = max(came, key=lambda g: came[g])
        top_own = max(own, key=lambda g: own[g])
        est = shares.get(source)
        est_text = f"{np.nanmean(est):.3f}" if est is not None else "n/a"
        parts.append(
            f"{source}: true share {sum(came.values()):.3f} of {sink_site} cells, "
            f"{came[top_came]:.3f} of it {top_came} (which is {own[top_came]:.3f} of {site} "
            f"cells); {site} is {own[top_own]:.3f} {top_own}, which is "
            f"{by_genus_sink[top_own]:.3f} of {sink_site} cells; "
            f"{p.method} gives {est_text}"
        )
    if sink_total > 0:
        top_sink = max(by_genus_sink, key=lambda g: by_genus_sink[g])
        in_sources = []
        for source in p.sources:
            own_cells = ab.sel(site=SAMPLE_SITES[source]).sum(["dyad", "origin"]).values
            own = _by_genus(own_cells, genus, max(float(own_cells.sum()), 1e-300))
            in_sources.append(f"{own.get(top_sink, 0.0):.3f} of {SAMPLE_SITES[source]}")
        unknown = shares.get("Unknown")
        unknown_text = f"{np.nanmean(unknown):.3f}" if unknown is not None else "n/a"
        parts.append(
            f"{sink_site} is {by_genus_sink[top_sink]:.3f} {top_sink}, which is "
            f"{' and '.join(in_sources)} cells; {p.method} gives Unknown {unknown_text}"
        )
    return (f"{p.description}, day {day}, {len(dyads)} dyads. " + "; ".join(parts)
            + f". Kit contaminants are a median {contaminant_share:.2f} of milk reads.")


def _by_genus(values: np.ndarray, genus: list[str], total: float) -> dict[str, float]:
    """Cells summed by genus, as a share of ``total``."""
    out: dict[str, float] = {}
    for g, v in zip(genus, values, strict=True):
        out[g] = out.get(g, 0.0) + float(v) / total
    return out


Run = tuple[dict[str, np.ndarray], str, str]
"""Per-sink shares by source, the reason it could not run ("" when it ran), its note."""


def _shares(ds: xr.Dataset, key: str, day: int, seed: int) -> Run:
    """Shares by source through pipeline ``key`` on ``day``, with the reason or the note."""
    from lactobiome.errors import InputError
    from lactobiome.observation import load_design, observe
    from lactobiome.observation.design import parse_design
    from lactobiome.tracking import to_wide, track

    p = PIPELINES[key]
    base = load_design(p.design)
    recorded = [int(d) for d in ds["sample_day"].values]
    if day not in recorded:
        return {}, f"pipeline {key}: day {day} is not a recorded day of the result", ""
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
        return {}, f"pipeline {key}: no dyad of group {p.group!r} in the cohort", ""
    rng = np.random.default_rng(seed)
    chosen = sorted(rng.choice(in_group, size=min(p.max_dyads, len(in_group)), replace=False))
    obs = observe(ds, design, seed=seed, dyads=[int(d) for d in chosen])
    meta = obs.metadata
    try:
        est = track(obs.counts[meta.index], meta[["Env", "SourceSink", "id"]], method=p.method,
                    seed=seed, counts_name=f"pipeline {key}")
    except InputError as exc:
        return {}, str(exc), ""
    wide = to_wide(est)
    shares = {str(c): wide[c].to_numpy(dtype=np.float64) for c in wide.columns}
    milk = meta.loc[meta["Env"] == "milk", "contaminant_read_share"]
    contaminant = float(milk.median()) if len(milk) else math.nan
    note = composition_note(ds, key, day, [int(d) for d in chosen], shares, contaminant)
    return shares, "", note


STOOL_CONTENT_G = 10.0
"""Grams of colonic content that hold the infant-gut cells, to read cells as counts per gram
(the parameter table's mature infant-gut capacity: ~1e11 cells/g of infant stool x ~10 g)."""
STOOL_CULTURE_DETECTION_LOG10_CFU_PER_G = 3.0
"""Lowest count a serial-dilution stool plate series detects, log10 CFU per gram (one colony
on the least diluted plate of 1 mg of faeces; assumption for the plate counts of the period)."""
YOSHIOKA_CULTURE = "yoshioka1983/culture/log10_cfu_per_g"
"""Key of the stool-culture reading of Yoshioka et al. 1983 (E10a, E10b)."""
_YOSHIOKA_FAMILIES = ("Bifidobacteriaceae", "Enterobacteriaceae")


def _log10_cfu_per_g(ds: xr.Dataset, day: int, family: str, recovery: float) -> np.ndarray:
    """Per-dyad log10 colony count per gram of stool of one family's culturable taxa."""
    from lactobiome.model.taxa import load_taxa
    from lactobiome.validation.measures import _common as c

    taxa = load_taxa()
    names = [str(t) for t in ds["taxon"].values]
    culturable = np.array([bool(taxa["culturable"][taxa.index(t)]) for t in names])
    in_family = np.asarray(ds["family"].values).astype(str) == family
    cells = np.asarray(c.cells(ds, "infant_gut", day).values, dtype=np.float64)[:, culturable & in_family].sum(axis=1)
    with np.errstate(divide="ignore"):
        counts = np.log10(cells * recovery / STOOL_CONTENT_G)
    return np.maximum(counts, STOOL_CULTURE_DETECTION_LOG10_CFU_PER_G)


def _yoshioka(ds: xr.Dataset, measure: str, n_boot: int, seed: int) -> Measurement:
    """Yoshioka 1983's day-6 contrast read as plate counts of the feeding group of ``measure``."""
    from lactobiome.model.parameters import load_parameters
    from lactobiome.validation.measures import _common as c
    from lactobiome.validation.measures.infant_gut import BIF_ENTERO_DAY, BIF_ENTERO_GROUPS
    from lactobiome.validation.measures.registry import Unmeasurable

    if measure not in BIF_ENTERO_GROUPS:
        return Measurement(math.nan, reason=f"pipeline {YOSHIOKA_CULTURE} has no reading for measure {measure!r}")
    try:
        day = c.recorded_day(ds, BIF_ENTERO_DAY, tolerance=1)
    except Unmeasurable as exc:
        return Measurement(math.nan, reason=str(exc))
    recovery = load_parameters().value("obs_culture_recovery", "fraction")
    bif, ent = (_log10_cfu_per_g(ds, day, f, recovery) for f in _YOSHIOKA_FAMILIES)
    group = BIF_ENTERO_GROUPS[measure](ds)
    difference = (bif - ent)[group]
    return bootstrap(Sample(difference[np.isfinite(difference)], nanmean), n_boot, seed)


READINGS: dict[str, Callable[[xr.Dataset, str, int, int], Measurement]] = {YOSHIOKA_CULTURE: _yoshioka}
"""Pipelines that read the simulated cohort as an assay would, with no observation or tracking step."""


def run_pipeline(
    ds: xr.Dataset,
    key: str,
    measure: str,
    n_boot: int = 200,
    seed: int = 0,
    cache: dict[tuple[str, int], Run] | None = None,
) -> Measurement:
    """The value a target's study would have reported on the simulated cohort.

    Parameters
    ----------
    ds
        A simulation result (it must hold the pipeline's day).
    key
        A key of :data:`PIPELINES` or of :data:`lactobiome.validation.assays.ASSAYS`.
    measure
        The target's measurement key (which source and day, :data:`MEASURE_SOURCE_DAY`, for a
        tracking pipeline; the assay's reading of it for an assay pipeline).
    n_boot
        Bootstrap resamples over infants for the 95% interval.
    seed
        Seed of the dyads chosen, the observation, the tracking and the bootstrap.
    cache
        Shared between targets measured by the same pipeline on the same day; after the
        call it holds each run's shares, reason and composition note
        (:func:`composition_note`) by ``(key, day)``; an assay pipeline leaves its
        description under ``(key, 0)``.

    Returns
    -------
    Measurement
        Mean share over the infants tracked, with its interval; NaN with the reason when the
        pipeline cannot run on ``ds``.
    """
    from lactobiome.validation.assays import ASSAYS, run_assay

    cache = {} if cache is None else cache
    if key in ASSAYS:
        cache.setdefault((key, 0), ({}, "", ASSAYS[key].description))
        return run_assay(ds, key, measure, n_boot, seed)
    if key in READINGS:
        return READINGS[key](ds, measure, n_boot, seed)
    if key in CASE_DEFINITIONS:
        count = CASE_DEFINITIONS[key].get(measure)
        if count is None:
            return Measurement(math.nan, reason=f"pipeline {key} has no reading for measure {measure!r}")
        from lactobiome.validation.measures.registry import Unmeasurable

        try:
            return bootstrap(count(ds), n_boot, seed)
        except (Unmeasurable, KeyError) as exc:
            return Measurement(math.nan, reason=f"pipeline {key}: {exc}")
    if measure not in MEASURE_SOURCE_DAY:
        return Measurement(math.nan, reason=f"pipeline {key} has no reading for measure {measure!r}")
    source, day = MEASURE_SOURCE_DAY[measure]
    if (key, day) not in cache:
        cache[(key, day)] = _shares(ds, key, day, seed)
    shares, reason, _ = cache[(key, day)]
    if reason:
        return Measurement(math.nan, reason=reason)
    values = shares.get(source)
    if values is None:
        return Measurement(math.nan, reason=f"pipeline {key}: no {source} source tracked")
    return bootstrap(Sample(values[np.isfinite(values)], nanmean), n_boot, seed)
