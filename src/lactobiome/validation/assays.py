"""Assay pipelines: a milk figure read the way its study's laboratory read it.

These pipelines need no sequencing or source tracking (those are in
:mod:`lactobiome.validation.pipelines`); they take what the model carries in milk and apply
what the study's assay counts. Each pipeline is keyed ``study/assay`` in a target's
``measured_by`` and reads one or more measurement keys; the measurement of the truth is
the same key in the registry (:mod:`lactobiome.validation.measures`), aggregated the same
way, so the two differ only by what the assay counts.

``microscopy/morphology`` (C03, C04, C05): milk cells counted in a chamber and classified by
morphology on stained smears, as in Ho, Wong & Lawton (Acta Paediatr Scand 1979;68:389-396)
and the other counts of the 1970s-80s. Ho et al. found that macrophages "usually
predominated" in colostrum and carried many lipid droplets; epithelial cells were named as
such only after one to two weeks, when cytoplasmic fragments also appeared. Lipid-laden
lactocytes cannot be told from milk macrophages by routine or cytochemical stains (Liapis,
Xanthou & Mandyla, Adv Exp Med Biol 1987;216A), and immunostaining and flow cytometry
later showed most of these cells to be epithelial (Hassiotou et al., Clin Transl Immunology
2013;2:e3: CD45+ leucocytes 13-70% of colostral cells, 0-2% of mature milk cells). What a
morphological "leucocyte" count can hold is therefore at most every nucleated cell: the
pipeline counts the model's leucocytes, epithelial and stem cells together. This is an
upper bound of the assay on the model's cells (chamber counting noise of ~100 cells a
chamber is left out: it does not move a median across dyads).

``schwab2019/qpcr`` (A03): total bacteria by qPCR of the 16S gene in 1 mL of fresh mature
milk, reported as cells/mL (Schwab et al., Front Microbiol 2019;10:2666). DNA amplifies
whether the cell that carried it is alive or dead, and the reagents of every extraction carry
bacterial DNA of their own (Salter et al. 2014). The model carries live cells
(``milk_bacteria_per_ml``); the pipeline adds the DNA of dead cells at
``obs_milk_dead_per_live_cell`` per live cell and the kit background
``obs_kit_contaminant_cells`` per extraction of ``obs_milk_sample_ml``, converts with the
study's standard (one genome per cell, so 16S copy numbers cancel) and adds qPCR noise
(``obs_qpcr_sd_log10``), seeded per dyad and day.

``culture/plate`` (A01, A02, A04): the live bacteria of milk grown on agar or in broth and
counted as colonies (CFU/mL; A04's most-probable-number count of Schwab et al. 2019 reads
the same way). Only taxa that grow on standard media form colonies (the taxa catalogue's
``culturable``), each live cell with probability ``obs_culture_recovery``, and the colonies
on ``obs_culture_plated_ml`` are Poisson (the observation model's
:func:`lactobiome.observation.models.culture_cfu_per_ml`). Which taxa a sample holds is
known on the recorded days only, so the pipeline plates the recorded days in the window;
a plate with no colony is read at its detection limit (one colony in the volume plated).
The same assay reads the milk of infectious mastitis at diagnosis (A06, A07): Arroyo et al.
2010 and Jimenez et al. 2008 plated the milk of enrolled women and reported CFU/mL (all
bacteria; staphylococci). On the day of diagnosis the daily panel holds the live
staphylococci (all culturable) and the live total; the culturable share of the other cells is
that of the dyad's recorded milk sample nearest the diagnosis day (the only days whose taxa
are known).

``biagi2017/16s`` (A13a, A13b, A13c) and ``williams2019/16s`` (A11): taxon shares of milk 16S
amplicon reads, as Biagi et al. (Front Microbiol 2017;8:1214) sequenced the milk of 36 mothers and
Williams et al. (J Nutr 2019) that of 21. The reads come from the DNA
extracted from ``obs_milk_sample_ml`` of milk: the live cells' and that of the dead cells still in
milk (``obs_milk_dead_per_live_cell``, the same DNA the qPCR pipeline counts), and the kit's own
background (``obs_kit_contaminant_cells``, an even mix of the catalogue's kit contaminants, the
mean of the observation model's per-extraction profile); each genome gives reads in proportion to
its 16S copy number (the catalogue's ``copies_16s``). The expected read shares are read (no
sequencing noise: a mean over dyads does not move with it), aggregated as the truth is: for Biagi
the family's share, mean over breastfed dyads on the recorded day nearest day 30; for Williams
(nine visits from day 2 to 6 months) the Streptococcus share of each
visit weighted by the milk samples sequenced at it.

``marin2017/culture`` (D14a, D14b, D14c): the organisms "found" in the milk of mastitis, as
Marin et al. (Front Microbiol 2017;8:1258) described the culturable microbial diversity of 647
milk samples of breastfeeding women with clinical symptoms of mastitis: the milk was grown on
plates and the isolates identified to species by MALDI-TOF (VITEK MS); a species counts as
found in a sample when at least one of its isolates was identified. Only culturable taxa form
colonies (``obs_culture_recovery`` of their live cells, Poisson on ``obs_culture_plated_ml``),
and only some colonies of a plate are identified: ``obs_colonies_identified`` of them, drawn at
random from the plate's colonies (without replacement; every colony when the plate holds fewer).
A taxon making a share ``p`` of the colonies is found with probability about ``1 - (1 - p)^k``,
so a minority taxon is missed more often than by a fixed 1% abundance threshold, and a
plate on which colonies were picked by morphotype would find minority taxa more often than
random picking does (the upper bound is a colony of the taxon anywhere on the plate). The
samples are those of the truth's measurement (the recorded days in bacterial mastitis, phlegmon
or abscess); the expected share found is read (the colony draws seeded per seed).

The pipelines read their ``obs_*`` values from the scenario the result was simulated with
(its ``parameters`` overrides, which ``calibrate`` sets) over the shipped table.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import xarray as xr

from lactobiome.validation.measures import _common as c
from lactobiome.validation.measures.registry import Unmeasurable
from lactobiome.validation.statistics import (
    Measurement,
    Sample,
    bootstrap,
    nanmean,
    nanmedian,
    ratio_of_sums,
)

__all__ = [
    "ASSAYS", "Assay", "amplicon_read_shares", "assay_parameter", "colonies_identified_detection", "culture_reading",
    "microscopy_cells_per_ml", "qpcr_cells_per_ml", "run_assay",
]

Reading = Callable[[xr.Dataset, int], Sample]
"""An assay's reading of one measurement: (result, seed) -> per-dyad sample."""

CULTURE_STREAM = 1
"""Distinguishes the colony draws' random stream from the qPCR noise of the same window."""


@dataclass(frozen=True)
class Assay:
    """A study's laboratory measurement: what it counts and which measurements it reads."""

    description: str
    readings: dict[str, Reading]


def assay_parameter(ds: xr.Dataset, name: str, unit: str) -> float:
    """A parameter of the assay: the result's scenario override if it has one, else the value of
    the parameter table the result was made with (``assay_parameters_yaml``), else the shipped value.

    ``calibrate`` passes the values it tries as scenario overrides, which the result keeps in
    its ``scenario_yaml`` attribute, so a fitted measurement parameter reaches the pipeline;
    ``simulate --parameters`` and ``trial --parameters`` record their table's assay values.
    """
    import yaml

    from lactobiome.model.parameters import load_parameters

    value = load_parameters().value(name, unit)
    recorded = ds.attrs.get("assay_parameters_yaml")
    if recorded:
        table = yaml.safe_load(str(recorded)) or {}
        if name in table:
            value = float(table[name])
    text = ds.attrs.get("scenario_yaml")
    if text:
        overrides = (yaml.safe_load(str(text)) or {}).get("parameters") or {}
        if name in overrides:
            value = float(overrides[name])
    return value


def microscopy_cells_per_ml(somatic_cells_per_ml: np.ndarray) -> np.ndarray:
    """What a morphological leucocyte count reports, cells/mL: every nucleated milk cell.

    Parameters
    ----------
    somatic_cells_per_ml
        The model's milk cells (leucocytes, epithelial and stem cells) per mL, any shape.

    Returns
    -------
    numpy.ndarray
        The count, same shape: the microscope cannot tell lipid-laden epithelial cells from
        macrophages, so none of the nucleated cells is left out.
    """
    return np.asarray(somatic_cells_per_ml, dtype=np.float64)


def qpcr_cells_per_ml(
    live_per_ml: np.ndarray,
    dead_per_live: float,
    kit_cells: float,
    sample_ml: float,
    sd_log10: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Bacterial cells/mL that a 16S qPCR of milk reports (genome equivalents).

    Parameters
    ----------
    live_per_ml
        Live bacteria per mL in the milk, any shape.
    dead_per_live
        Dead cells whose DNA is still in the milk, per live cell.
    kit_cells
        Bacterial DNA of the extraction reagents, cell equivalents per extraction.
    sample_ml
        Milk extracted, mL.
    sd_log10
        qPCR measurement noise, standard deviation on the log10 scale.
    rng
        Random generator of the measurement noise.

    Returns
    -------
    numpy.ndarray
        Reported cells/mL, same shape as ``live_per_ml``.
    """
    live = np.asarray(live_per_ml, dtype=np.float64)
    extracted = live * (1.0 + dead_per_live) * sample_ml + kit_cells
    noise = 10.0 ** (sd_log10 * rng.standard_normal(live.shape))
    return extracted / sample_ml * noise


def amplicon_read_shares(
    live_per_ml: np.ndarray,
    copies_16s: np.ndarray,
    contaminant: np.ndarray,
    dead_per_live: float,
    kit_cells: float,
    sample_ml: float,
) -> np.ndarray:
    """Expected share of 16S amplicon reads of each taxon in one milk extract per dyad.

    Parameters
    ----------
    live_per_ml
        Live cells per mL of each taxon, shape (dyad, taxon).
    copies_16s
        16S rRNA gene copies per genome of each taxon, shape (taxon,).
    contaminant
        Boolean mask over taxa of the kit contaminants (the background is an even mix of them).
    dead_per_live
        Dead cells whose DNA is still in the milk, per live cell (every taxon alike).
    kit_cells
        Bacterial DNA of the extraction reagents, cell equivalents per extraction.
    sample_ml
        Milk extracted, mL.

    Returns
    -------
    numpy.ndarray
        Read shares, shape (dyad, taxon), each row summing to 1 (NaN for an extract with no DNA).
    """
    live = np.asarray(live_per_ml, dtype=np.float64)
    mask = np.asarray(contaminant, dtype=bool)
    kit = np.where(mask, kit_cells / max(int(mask.sum()), 1), 0.0)
    genomes = live * (1.0 + dead_per_live) * sample_ml + kit[None, :]
    reads = genomes * np.asarray(copies_16s, dtype=np.float64)[None, :]
    total = reads.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0.0, reads / total, np.nan)


def _milk_read_shares(ds: xr.Dataset, day: int) -> tuple[np.ndarray, np.ndarray]:
    """Expected 16S read shares of each taxon in each dyad's milk on recorded ``day``.

    Returns the (dyad, taxon) shares and whether the dyad's milk held any cell that day.
    """
    from lactobiome.model.taxa import load_taxa

    taxa = load_taxa()
    rows = [taxa.index(str(t)) for t in ds["taxon"].values]
    cells = np.asarray(c.cells(ds, "milk", day).values, dtype=np.float64)
    total = cells.sum(axis=1, keepdims=True)
    # the day's live load per mL shared out by the recorded composition of the ductal pool
    index = int(np.flatnonzero(c.days(ds) == day)[0])
    load = c.panel(ds, "milk_bacteria_per_ml")[:, index][:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        live = np.where(total > 0.0, cells / total, 0.0) * load
    shares = amplicon_read_shares(
        live,
        np.asarray(taxa["copies_16s"], dtype=np.float64)[rows],
        np.asarray(taxa["contaminant"], dtype=bool)[rows],
        assay_parameter(ds, "obs_milk_dead_per_live_cell", "1"),
        assay_parameter(ds, "obs_kit_contaminant_cells", "cells"),
        assay_parameter(ds, "obs_milk_sample_ml", "mL"),
    )
    return shares, total[:, 0] > 0.0


def _amplicon_family(family: str, day: int) -> Reading:
    def reading(ds: xr.Dataset, seed: int) -> Sample:
        shares, present = _milk_read_shares(ds, c.recorded_day(ds, day))
        in_family = np.asarray(ds["family"].values).astype(str) == family
        per = np.where(present, shares[:, in_family].sum(axis=1), np.nan)[c.breastfed(ds)]
        return Sample(per[np.isfinite(per)], nanmean)

    return reading


def _amplicon_streptococcus_williams(ds: xr.Dataset, seed: int) -> Sample:
    """Williams 2019's Streptococcus share of milk reads over its nine visits (A11), as the truth's measure."""
    from lactobiome.validation.measures.milk_microbiome import WILLIAMS_2019_MILK_SAMPLES

    recorded = {int(d) for d in ds["sample_day"].values}
    missing = sorted(set(WILLIAMS_2019_MILK_SAMPLES) - recorded)
    if missing:
        raise Unmeasurable(f"days {', '.join(map(str, missing))} are not recorded")
    streptococcus = np.asarray(ds["genus"].values).astype(str) == "Streptococcus"
    columns = []
    for day in WILLIAMS_2019_MILK_SAMPLES:
        shares, present = _milk_read_shares(ds, day)
        columns.append(np.where(present, shares[:, streptococcus].sum(axis=1), np.nan))
    weights = np.array(list(WILLIAMS_2019_MILK_SAMPLES.values()), dtype=np.float64)
    per = (np.column_stack(columns) * weights).sum(axis=1) / weights.sum()
    per = per[c.breastfed(ds)]
    return Sample(per[np.isfinite(per)], nanmean)


def _microscopy(first: int, last: int, only_healthy: bool) -> Reading:
    def reading(ds: xr.Dataset, seed: int) -> Sample:
        counted = microscopy_cells_per_ml(c.panel(ds, "somatic_cells_per_ml"))
        mask = np.broadcast_to(c.window(ds, first, last), counted.shape).copy()
        if only_healthy:
            mask &= c.healthy(ds)
        per = c.per_dyad(c.log10(counted), mask, "median")[c.breastfed(ds)]
        return Sample(per[np.isfinite(per)], nanmedian)

    return reading


def _qpcr(first: int, last: int) -> Reading:
    def reading(ds: xr.Dataset, seed: int) -> Sample:
        rng = np.random.default_rng(np.random.SeedSequence([int(seed), first, last]))
        reported = qpcr_cells_per_ml(
            c.panel(ds, "milk_bacteria_per_ml"),
            assay_parameter(ds, "obs_milk_dead_per_live_cell", "1"),
            assay_parameter(ds, "obs_kit_contaminant_cells", "cells"),
            assay_parameter(ds, "obs_milk_sample_ml", "mL"),
            assay_parameter(ds, "obs_qpcr_sd_log10", "log10"),
            rng,
        )
        mask = np.broadcast_to(c.window(ds, first, last), reported.shape) & c.healthy(ds)
        per = c.per_dyad(c.log10(reported), mask, "median")[c.breastfed(ds)]
        return Sample(per[np.isfinite(per)], nanmedian)

    return reading


def culture_reading(ds: xr.Dataset, first: int, last: int, seed: int) -> np.ndarray:
    """log10 CFU/mL of healthy milk per (dyad, recorded day in ``first..last``); NaN off window.

    Parameters
    ----------
    ds
        A simulation result (milk abundance on the recorded days, the daily panel).
    first, last
        Days of life of the window (inclusive).
    seed
        Seed of the colony draws.

    Returns
    -------
    numpy.ndarray
        Shape (dyad, recorded day); NaN on days outside the window or in a mastitis-spectrum
        state, or when the milk holds no bacteria.
    """
    from lactobiome.model.taxa import load_taxa
    from lactobiome.observation.models import culture_cfu_per_ml

    c.window(ds, first, last)  # unmeasurable past the horizon, as the truth's measurement
    cat = load_taxa()
    rows = [cat.index(str(t)) for t in ds["taxon"].values]
    culturable = np.asarray(cat["culturable"], dtype=bool)[rows]
    recorded = np.asarray(ds["sample_day"].values, dtype=int)
    day_index = {int(d): i for i, d in enumerate(ds["day"].values)}
    keep = np.array([first <= d <= last and d in day_index for d in recorded])
    out = np.full((ds.sizes["dyad"], recorded.size), np.nan)
    if not keep.any():
        return out
    days = recorded[keep]
    columns = [day_index[int(d)] for d in days]
    milk = ds["abundance"].sel(site="milk").isel(sample_day=np.flatnonzero(keep)).sum("origin")
    cells = milk.transpose("dyad", "sample_day", "taxon").values.astype(np.float64)
    total = cells.sum(axis=2, keepdims=True)
    per_ml = c.panel(ds, "milk_bacteria_per_ml")[:, columns]
    with np.errstate(divide="ignore", invalid="ignore"):
        by_taxon = np.where(total > 0, cells / np.where(total > 0, total, 1.0), 0.0) * per_ml[:, :, None]
    plated = assay_parameter(ds, "obs_culture_plated_ml", "mL")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), first, last, CULTURE_STREAM]))
    cfu = culture_cfu_per_ml(rng, by_taxon, culturable[None, None, :],
                             assay_parameter(ds, "obs_culture_recovery", "fraction"), plated).sum(axis=2)
    read = np.log10(np.maximum(cfu, 1.0 / plated))  # no colony: read at the detection limit
    ok = c.healthy(ds)[:, columns] & (total[:, :, 0] > 0)
    out[:, np.flatnonzero(keep)] = np.where(ok, read, np.nan)
    return out


CULTURE_DIAGNOSIS_STREAM = 0x4D41
"""Distinguishes the colony draws at diagnosis (A06, A07) from those of healthy-milk windows."""


def _culturable_share_of_others(ds: xr.Dataset, dyads: np.ndarray, day_index: np.ndarray) -> np.ndarray:
    """Culturable share of a dyad's non-staphylococcal milk cells on its recorded day nearest ``day_index``.

    1 where that sample holds no non-staphylococcal cell (nothing to lose to the plates).
    """
    from lactobiome.model.taxa import load_taxa

    cat = load_taxa()
    rows = [cat.index(str(t)) for t in ds["taxon"].values]
    culturable = np.asarray(cat["culturable"], dtype=bool)[rows]
    others = np.asarray(cat["genus"]).astype(str)[rows] != "Staphylococcus"
    days_of_life = np.asarray(ds["day"].values, dtype=int)[day_index]
    recorded = np.asarray(ds["sample_day"].values, dtype=int)
    nearest = np.abs(recorded[None, :] - days_of_life[:, None]).argmin(axis=1)
    milk = ds["abundance"].sel(site="milk").sum("origin").transpose("dyad", "sample_day", "taxon").values
    cells = milk[dyads, nearest].astype(np.float64)  # (dyad, taxon)
    other = (cells * others).sum(axis=1)
    grows = (cells * (others & culturable)).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(other > 0, grows / np.where(other > 0, other, 1.0), 1.0)


def _culture_at_diagnosis(staphylococci_only: bool) -> Reading:
    """Plate count of milk on the first day of each dyad's first bacterial mastitis (A06, A07)."""
    def reading(ds: xr.Dataset, seed: int) -> Sample:
        from lactobiome.observation.models import culture_cfu_per_ml
        from lactobiome.validation.measures.milk_microbiome import (
            STAPHYLOCOCCAL_MAJORITY,
            at_diagnosis,
        )

        dyads, day = at_diagnosis(ds)
        staph = c.panel(ds, "milk_staphylococci_per_ml")[dyads, day]
        total = c.panel(ds, "milk_bacteria_per_ml")[dyads, day]
        if staphylococci_only:
            keep = staph > STAPHYLOCOCCAL_MAJORITY * total
            if not keep.any():
                raise Unmeasurable("no bacterial mastitis episode in this cohort has staphylococci as the majority")
            live = staph[keep]
        else:
            share = _culturable_share_of_others(ds, dyads, day)
            live = staph + np.maximum(total - staph, 0.0) * share
        plated = assay_parameter(ds, "obs_culture_plated_ml", "mL")
        rng = np.random.default_rng(np.random.SeedSequence([int(seed), int(staphylococci_only),
                                                            CULTURE_DIAGNOSIS_STREAM]))
        cfu = culture_cfu_per_ml(rng, np.nan_to_num(live), np.ones(live.shape, dtype=bool),
                                 assay_parameter(ds, "obs_culture_recovery", "fraction"), plated)
        # both trials report the group mean of the women's log10 counts, as the truth's measurement
        return Sample(np.log10(np.maximum(cfu, 1.0 / plated)), nanmean)

    return reading


def colonies_identified_detection(colonies: np.ndarray, identified: int) -> np.ndarray:
    """Probability that a taxon is among the colonies identified from a plate.

    Parameters
    ----------
    colonies
        Colonies of each taxon (or group of taxa) on the plate, shape (..., taxon), whole numbers.
    identified
        Colonies identified per plate, drawn at random without replacement (all of them when the
        plate holds fewer).

    Returns
    -------
    numpy.ndarray
        Same shape: 1 - C(total - c, k) / C(total, k) for a taxon with ``c`` of the plate's
        ``total`` colonies (0 for a taxon without a colony).
    """
    counts = np.asarray(colonies, dtype=np.float64)
    total = counts.sum(axis=-1, keepdims=True)
    missed = np.ones_like(counts)
    for i in range(max(int(identified), 0)):
        with np.errstate(divide="ignore", invalid="ignore"):
            step = np.where(total - i > 0, (total - counts - i) / np.where(total - i > 0, total - i, 1.0), 1.0)
        missed *= np.clip(step, 0.0, 1.0)
    return np.where(counts > 0, 1.0 - missed, 0.0)


MARIN_STREAM = 0x4D52
"""Distinguishes the colony draws of the Marin 2017 reading from the other culture readings."""


def _marin_found(group: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Reading:
    """Share of bacterial-mastitis milk samples in which an isolate of a taxon group was identified."""
    def reading(ds: xr.Dataset, seed: int) -> Sample:
        from lactobiome.model.spectrum import BACTERIAL
        from lactobiome.model.taxa import load_taxa
        from lactobiome.observation.models import culture_cfu_per_ml

        cat = load_taxa()
        rows = [cat.index(str(t)) for t in ds["taxon"].values]
        culturable = np.asarray(cat["culturable"], dtype=bool)[rows]
        simulated = c.days(ds)
        recorded = np.asarray(ds["sample_day"].values, dtype=int)
        recorded = recorded[np.isin(recorded, simulated)]
        index = np.searchsorted(simulated, recorded)
        mask = BACTERIAL[c.mastitis_codes(ds)[:, index]]
        if not mask.any():
            raise Unmeasurable("no recorded day falls in a bacterial mastitis episode in this cohort")
        milk = ds["abundance"].sel(site="milk").sel(sample_day=recorded).sum("origin")
        cells = milk.transpose("dyad", "sample_day", "taxon").values.astype(np.float64)
        total = cells.sum(axis=2, keepdims=True)
        load = c.panel(ds, "milk_bacteria_per_ml")[:, index]
        with np.errstate(divide="ignore", invalid="ignore"):
            live = np.where(total > 0, cells / np.where(total > 0, total, 1.0), 0.0) * load[:, :, None]
        plated = assay_parameter(ds, "obs_culture_plated_ml", "mL")
        rng = np.random.default_rng(np.random.SeedSequence([int(seed), MARIN_STREAM]))
        cfu = culture_cfu_per_ml(rng, live, culturable[None, None, :],
                                 assay_parameter(ds, "obs_culture_recovery", "fraction"), plated)
        colonies = np.rint(cfu * plated)
        in_group = group(np.asarray(ds["taxon"].values).astype(str), np.asarray(ds["genus"].values).astype(str))
        grouped = np.stack([colonies[..., in_group].sum(axis=-1), colonies[..., ~in_group].sum(axis=-1)], axis=-1)
        identified = int(round(assay_parameter(ds, "obs_colonies_identified", "1")))
        found = colonies_identified_detection(grouped, identified)[..., 0]
        return Sample(np.column_stack([np.where(mask, found, 0.0).sum(axis=1), mask.sum(axis=1)]), ratio_of_sums)

    return reading


def _culture(first: int, last: int) -> Reading:
    def reading(ds: xr.Dataset, seed: int) -> Sample:
        values = culture_reading(ds, first, last, seed)
        with np.errstate(all="ignore"):
            per = np.full(values.shape[0], np.nan)
            has = np.isfinite(values).any(axis=1)
            per[has] = np.nanmedian(values[has], axis=1)
        per = per[c.breastfed(ds)]
        return Sample(per[np.isfinite(per)], nanmedian)

    return reading


ASSAYS: dict[str, Assay] = {
    "microscopy/morphology": Assay(
        description="light microscopy of milk cells, morphological classification (every nucleated cell "
                    "counted as a leucocyte: lipid-laden epithelial cells read as macrophages)",
        readings={
            "leucocytes_per_ml_colostrum": _microscopy(1, 3, False),
            "leucocytes_per_ml_mature": _microscopy(90, 182, True),
            "leucocytes_per_ml_day4_on": _microscopy(4, 182, True),
        },
    ),
    "culture/plate": Assay(
        description="culture of milk on standard media, colonies counted (CFU/mL of the live cells of "
                    "culturable taxa that form a colony), on the recorded days of the window (healthy milk) "
                    "or on the day of diagnosis (mastitis)",
        readings={
            "milk_bacteria_healthy_mature": _culture(30, 182),
            "milk_bacteria_healthy_3_6mo": _culture(90, 182),
            "milk_bacteria_healthy_early": _culture(3, 14),
            "milk_bacteria_mastitis": _culture_at_diagnosis(staphylococci_only=False),
            "milk_staphylococci_mastitis": _culture_at_diagnosis(staphylococci_only=True),
        },
    ),
    "marin2017/culture": Assay(
        description="culture of mastitis milk on plates, a number of colonies per plate identified by MALDI-TOF "
                    "(a taxon is found when one of its colonies is identified), recorded days in bacterial mastitis",
        readings={
            "mastitis_milk_s_epidermidis": _marin_found(lambda taxon, genus: taxon == "staphylococcus_epidermidis"),
            "mastitis_milk_s_aureus": _marin_found(lambda taxon, genus: taxon == "staphylococcus_aureus"),
            "mastitis_milk_streptococci": _marin_found(lambda taxon, genus: genus == "Streptococcus"),
        },
    ),
    "biagi2017/16s": Assay(
        description="16S amplicon reads of milk DNA (live and dead cells, kit background, 16S copy numbers), "
                    "family share of reads",
        readings={
            "milk_streptococcaceae_d30": _amplicon_family("Streptococcaceae", 30),
            "milk_bifidobacteriaceae_d30": _amplicon_family("Bifidobacteriaceae", 30),
            "milk_staphylococcaceae_d30": _amplicon_family("Staphylococcaceae", 30),
        },
    ),
    "williams2019/16s": Assay(
        description="16S amplicon reads of milk DNA (live and dead cells, kit background, 16S copy numbers), "
                    "Streptococcus share of reads over Williams 2019's nine visits",
        readings={"milk_streptococcus_share": _amplicon_streptococcus_williams},
    ),
    "schwab2019/qpcr": Assay(
        description="16S qPCR of 1 mL of milk reported as cells/mL (DNA of live and dead cells and of the "
                    "extraction kit)",
        readings={"milk_bacteria_healthy_3_6mo": _qpcr(90, 182)},
    ),
}
"""Assay pipelines by ``measured_by`` key."""


def run_assay(ds: xr.Dataset, key: str, measure: str, n_boot: int = 200, seed: int = 0) -> Measurement:
    """The value a target's study would have reported through its assay.

    Parameters
    ----------
    ds
        A simulation result.
    key
        A key of :data:`ASSAYS`.
    measure
        The target's measurement key (the assay must have a reading of it).
    n_boot
        Bootstrap resamples over dyads for the 95% interval.
    seed
        Seed of the measurement noise and the bootstrap.

    Returns
    -------
    Measurement
        The median over dyads with its interval; NaN with the reason when the assay has no
        reading of ``measure``, the window lies beyond the simulated horizon, or the cohort
        has no dyad-day it applies to.
    """
    assay = ASSAYS[key]
    if measure not in assay.readings:
        return Measurement(math.nan, reason=f"pipeline {key} has no reading for measure {measure!r}")
    try:
        sample = assay.readings[measure](ds, seed)
    except Unmeasurable as exc:  # e.g. beyond the simulated horizon, as the truth's measurement
        return Measurement(math.nan, reason=str(exc))
    if sample.data.size == 0:
        return Measurement(math.nan, reason=f"pipeline {key}: no dyad-day of measure {measure!r} in this cohort")
    return bootstrap(sample, n_boot, seed)
