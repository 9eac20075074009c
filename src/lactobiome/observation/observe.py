"""From a simulated cohort to a study's data: reads, blanks, cultures, qPCR, panel, truth."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import xarray as xr

from lactobiome.errors import InputError
from lactobiome.model.parameters import ParameterTable, load_parameters
from lactobiome.model.taxa import TaxaCatalogue, load_taxa
from lactobiome.observation import models
from lactobiome.observation.design import SAMPLE_SITES, Design, restrict_days
from lactobiome.tracking import COLUMNS as TRUTH_COLUMNS
from lactobiome.tracking import UNKNOWN

# panel variable -> (parameter of its noise, kind of noise)
_PANEL = {
    "somatic_cells_per_ml": ("obs_scc_cv", "cv"),
    "leucocyte_fraction": ("obs_leucocyte_sd", "sd"),
    "na_k_ratio": ("obs_na_k_cv", "cv"),
    "siga_g_per_l": ("obs_siga_cv", "cv"),
}


@dataclass
class Observation:
    """What a study of the simulated cohort would hold.

    Attributes
    ----------
    counts
        Taxa x samples read counts (FEAST layout).
    metadata
        Indexed by ``SampleID``: ``Env``, ``SourceSink``, ``id`` (visit of the dyad: a sink
        is paired with its own mother's samples of the same visit), then ``dyad``, ``day``,
        ``group``, ``biomass_cells``, ``contaminant_read_share``, ``qpcr_16s_copies``.
    blanks
        Taxa x negative controls (reagents only: kit contaminants).
    truth
        True provenance of every sink by source type, long form as ``track`` writes it.
    culture
        Milk samples x taxa, CFU/mL of culturable taxa (0 below the detection limit).
    panel
        Measured milk panel on the milk sampling visits.
    relative
        Shotgun relative abundances in percent (taxa x samples), or ``None`` for 16S.
    """

    counts: pd.DataFrame
    metadata: pd.DataFrame
    blanks: pd.DataFrame
    truth: pd.DataFrame
    culture: pd.DataFrame
    panel: pd.DataFrame
    relative: pd.DataFrame | None = None
    design: str = ""
    settings: dict = field(default_factory=dict)


def _check_days(ds: xr.Dataset, design: Design) -> tuple[Design, list[int]]:
    """The design restricted to the result's horizon, and the design days dropped."""
    recorded = [int(d) for d in ds["sample_day"].values]
    horizon = int(ds["day"].values.max())
    dropped = [d for d in design.days if d > horizon]
    if dropped:
        design = restrict_days(design, [d for d in design.days if d <= horizon])
    for day in design.days:
        if day not in recorded:
            raise InputError(
                f"design {design.name!r}: day {day} is not a recorded day of the result "
                f"(recorded days: {', '.join(map(str, recorded))}); simulate with "
                f"sampling days that include {', '.join(map(str, design.days))} "
                f"(lactobiome simulate --design {design.name})"
            )
    return design, dropped


def observe(
    ds: xr.Dataset,
    design: Design,
    *,
    depth: int | None = None,
    contamination: float = 1.0,
    seed: int = 0,
    dyads: list[int] | None = None,
    parameters: ParameterTable | None = None,
    taxa: TaxaCatalogue | None = None,
) -> Observation:
    """Sample a simulated cohort as ``design`` prescribes.

    Parameters
    ----------
    ds
        A result of ``lactobiome simulate`` (docs/design.md §9).
    design
        The study design.
    depth
        Reads per sample (default: the design's depth).
    contamination
        Multiplier of the kit contaminant DNA per extraction (0: none, 1: the parameter).
    seed
        Observation seed; every sample's draws are keyed by (seed, dyad, day, sample type).
    dyads
        Dyad ids to observe (default: all); the observation of a dyad does not depend on
        which others are observed.
    parameters, taxa
        Parameter table and taxa catalogue (the shipped ones by default).

    Returns
    -------
    Observation
        Design days after the result's last day of life are not sampled; they are listed in
        ``settings["dropped_days"]``.

    Raises
    ------
    InputError
        A design day within the result's horizon was not recorded.
    """
    if contamination < 0:
        raise InputError(f"--contamination must be >= 0, got {contamination}")
    design, dropped = _check_days(ds, design)
    params = parameters if parameters is not None else load_parameters()
    cat = taxa if taxa is not None else load_taxa()
    depth = int(depth if depth is not None else design.depth)
    if depth < 1:
        raise InputError(f"--depth must be >= 1, got {depth}")
    taxon_names = [str(t) for t in ds["taxon"].values]
    rows = [cat.index(t) for t in taxon_names]
    copies = np.asarray(cat["copies_16s"], dtype=np.float64)[rows]
    contaminant = np.asarray(cat["contaminant"], dtype=bool)[rows]
    culturable = np.asarray(cat["culturable"], dtype=bool)[rows]
    kit_cells = params.value("obs_kit_contaminant_cells", "cells") * contamination
    concentration = params.value("obs_contaminant_dirichlet_concentration", "1")
    rho = params.value("obs_dm_overdispersion", "fraction")
    biomass_fixed = {
        "maternal_stool": params.value("obs_stool_sample_cells", "cells"),
        "infant_stool": params.value("obs_stool_sample_cells", "cells"),
        "areolar_skin": params.value("obs_skin_swab_cells", "cells"),
        "maternal_oral": params.value("obs_oral_swab_cells", "cells"),
        "infant_oral": params.value("obs_oral_swab_cells", "cells"),
    }
    biomass_sd = params.value("obs_swab_biomass_sd_log10", "log10")
    milk_ml = params.value("obs_milk_sample_ml", "mL")
    recovery = params.value("obs_culture_recovery", "fraction")
    plated = params.value("obs_culture_plated_ml", "mL")
    qpcr_sd = params.value("obs_qpcr_sd_log10", "log10")

    all_ids = [int(d) for d in ds["dyad"].values]
    wanted = all_ids if dyads is None else [int(d) for d in dyads]
    missing = sorted(set(wanted) - set(all_ids))
    if missing:
        raise InputError(f"dyad {missing[0]} is not in the result (dyads {all_ids[0]}..{all_ids[-1]})")
    origins = [str(o) for o in ds["origin"].values]
    sites = sorted({SAMPLE_SITES[s.type] for s in design.samples})
    days = design.days
    ab = ds["abundance"].sel(dyad=wanted, sample_day=days, site=sites).values.astype(np.float64)
    site_pos = {s: i for i, s in enumerate(sites)}
    day_pos = {d: i for i, d in enumerate(days)}
    bacteria_ml = ds["milk_bacteria_per_ml"].sel(dyad=wanted).values  # (dyad, day of life)
    day_column = {int(d): i for i, d in enumerate(ds["day"].values)}
    share = ds["breast_milk_share"].sel(dyad=wanted).values
    roles: dict[str, str] = {s.type: s.role for s in design.samples}
    on_day = {d: [s.type for s in design.samples if s.role == "source" and d in s.days] for d in days}

    samples, meta, truth, culture, panel = {}, [], [], {}, []
    shotgun: dict[str, np.ndarray] = {}
    dyad_pos = {d: i for i, d in enumerate(wanted)}
    for dyad, day, kind in design.sample_list(wanted):
        i = dyad_pos[dyad]
        by_origin = ab[i, day_pos[day], site_pos[SAMPLE_SITES[kind]]]  # taxon x origin
        composition = by_origin.sum(axis=1)
        total = composition.sum()
        rng = models.sample_rng(seed, dyad, day, kind)
        if kind == "milk":
            per_ml = float(bacteria_ml[i, day_column[day]])
            biomass = per_ml * milk_ml
        else:
            per_ml = float("nan")
            biomass = biomass_fixed[kind] * 10.0 ** (biomass_sd * rng.standard_normal())
        cells = composition / total * biomass if total > 0 else np.zeros_like(composition)
        profile = models.contaminant_profile(rng, contaminant, concentration)
        extract = models.add_contamination(cells, profile, kit_cells)
        if design.assay == "16s":
            reads = models.amplicon_counts(rng, extract, copies, depth, rho)
        else:
            reads = models.dirichlet_multinomial(rng, extract, depth, rho)
        sid = f"d{dyad}_{kind}_day{day}"
        samples[sid] = reads
        if design.assay != "16s":
            shotgun[sid] = models.percent(reads)
        qpcr = models.qpcr_copies(rng, extract, copies, qpcr_sd)
        meta.append(
            {
                "SampleID": sid,
                "Env": kind,
                "SourceSink": "Sink" if roles[kind] == "sink" else "Source",
                "id": f"{dyad}_day{day}",
                "dyad": dyad,
                "day": day,
                "group": design.group_of(float(share[i])),
                "biomass_cells": biomass,
                "contaminant_read_share": float(reads[contaminant].sum() / max(reads.sum(), 1)),
                "qpcr_16s_copies": qpcr,
            }
        )
        if kind == "milk":
            frac = composition / total if total > 0 else composition
            culture[sid] = models.culture_cfu_per_ml(rng, frac * per_ml, culturable, recovery, plated)
            row = {"SampleID": sid, "dyad": dyad, "day": day}
            for var, (pname, noise) in _PANEL.items():
                if var not in ds:
                    continue
                true = float(ds[var].sel(dyad=dyad, day=day).values)
                scale = params.value(pname, "fraction")
                if noise == "cv":
                    row[var] = float(models.lognormal_noise(rng, np.array([true]), scale)[0])
                else:
                    row[var] = float(np.clip(true + scale * rng.standard_normal(), 0.0, 1.0))
            panel.append(row)
        if roles[kind] == "sink":
            by_o = by_origin.sum(axis=0)
            whole = by_o.sum()
            env_of = {SAMPLE_SITES[t]: t for t in on_day[day]}
            shares = dict.fromkeys([*on_day[day], UNKNOWN], 0.0)
            if whole > 0:
                for o, value in zip(origins, by_o, strict=True):
                    shares[env_of.get(o, UNKNOWN)] += float(value / whole)
            for source, value in shares.items():
                truth.append((sid, source, value, value, value))

    n_blanks = design.blanks
    blanks = {}
    for b in range(n_blanks):
        rng = models.sample_rng(seed, "blank", b)
        profile = models.contaminant_profile(rng, contaminant, concentration)
        extract = models.add_contamination(np.zeros(len(taxon_names)), profile, kit_cells)
        blanks[f"blank_{b + 1:02d}"] = (
            models.amplicon_counts(rng, extract, copies, depth, rho)
            if design.assay == "16s"
            else models.dirichlet_multinomial(rng, extract, depth, rho)
        )
    counts = pd.DataFrame(samples, index=pd.Index(taxon_names, name="taxon"))
    metadata = pd.DataFrame(meta).set_index("SampleID")
    blank_frame = pd.DataFrame(blanks, index=pd.Index(taxon_names, name="taxon"), dtype=np.int64)
    culture_frame = pd.DataFrame(culture, index=pd.Index(taxon_names, name="taxon")).T
    culture_frame = culture_frame.loc[:, culturable] if len(culture_frame) else culture_frame
    culture_frame.index.name = "SampleID"
    relative = pd.DataFrame(shotgun, index=pd.Index(taxon_names, name="taxon")) if shotgun else None
    return Observation(
        counts=counts,
        metadata=metadata,
        blanks=blank_frame,
        truth=pd.DataFrame(truth, columns=TRUTH_COLUMNS),
        culture=culture_frame,
        panel=pd.DataFrame(panel),
        relative=relative,
        design=design.name,
        settings={"depth": depth, "contamination": contamination, "seed": seed,
                  "dropped_days": dropped},
    )
