"""The infant's atopic dermatitis (eczema) by a given age, from the early-life state a run recorded.

Risk model
----------
The log-odds of atopic dermatitis (AD) by 24 months is a baseline plus one term per link, each
the log of a published *observational* odds ratio (parameter table, with its source) or an
assumption marked there:

* maternal allergic disease (attribute ``maternal_atopy``): ``atopic_dermatitis_or_maternal_atopy``;
* caesarean birth (``delivery_mode``), the direct link: ``atopic_dermatitis_or_caesarean``;
* the diversity of the infant gut at about one month (Shannon index, natural log, over the
  catalogue's taxa, at recorded day :data:`SAMPLE_DAY`), per between-infant SD from the reference:
  ``atopic_dermatitis_or_per_sd_shannon_1mo``;
* no bifidobacterial colonisation at that day (Bifidobacterium share of the infant-gut community
  below ``atopic_dermatitis_bifidobacteria_colonised_share``):
  ``atopic_dermatitis_or_no_bifidobacteria_1mo``;
* the milk sIgA concentration at two months (panel day :data:`SIGA_DAY`), per doubling from the
  reference, for infants still taking breast milk that day:
  ``atopic_dermatitis_or_per_doubling_milk_siga``.

There is no term for a probiotic: a dosed strain moves the risk only through the state it
changes (diversity, bifidobacteria, milk sIgA). No probiotic trial or meta-analysis of trials
informs any value; those are what trials run with this model are judged against.

The baseline ``atopic_dermatitis_baseline_logit`` is fitted (:func:`baseline_logit_for`) so that
the default cohort's mean risk is the background cumulative incidence by 2 years of a general
high-income birth cohort (``atopic_dermatitis_incidence_24mo``, target H01, role calibration).

The window and what a dataset needs
-----------------------------------
Every link is read from the first two months (the early-life window in which the cited cohorts
measured the gut and the milk), so the 24-month risk needs only those days simulated: a run of
at least :data:`MIN_DAYS` days (``cohort.days >= 60``) whose sampling days include
:data:`SAMPLE_DAY` (day 30, in the default sampling), with the variables ``abundance``,
``siga_g_per_l``, ``milk_volume_ml``, ``delivery_mode``, ``maternal_atopy`` and the ``seed``
attribute. Anything missing raises :class:`lactobiome.errors.InputError` naming it.

The draw
--------
Two uniforms per dyad from the counter-based stream keyed by (cohort seed, dyad id) and this
outcome's stream id (:class:`lactobiome.model.random.RandomStreams`), so the same woman in two
arms of a trial that share a seed shares them (common random numbers): the first decides AD by
24 months (``u < p``), the second its age at onset, from a log-normal onset distribution
(median ``atopic_dermatitis_onset_median_day``, spread ``atopic_dermatitis_onset_sd_log``)
conditioned on onset by 24 months. AD by ``months`` < 24 is AD by 24 months with onset by then,
so its probability is ``p F(months) / F(24 months)`` (``F`` the onset distribution).
"""

from __future__ import annotations

import math

import numpy as np
import xarray as xr
from scipy.optimize import brentq
from scipy.special import expit, ndtr, ndtri

from lactobiome.errors import InputError
from lactobiome.model.context import stream_id
from lactobiome.model.parameters import ParameterTable, load_parameters
from lactobiome.model.random import RandomStreams

SAMPLE_DAY = 30
"""Recorded day of the infant-gut composition the risk reads (about one month: Abrahamsson 2012,
Forno 2008 and Wang 2008 sampled stool in the first weeks to one month)."""

SIGA_DAY = 60
"""Day of life of the milk sIgA the risk reads (two months: the PASTURE milk samples, Orivuori 2014)."""

MIN_DAYS = SIGA_DAY
"""Fewest simulated days of life (``cohort.days``) the risk needs."""

HORIZON_MONTHS = 24
"""Age of the background incidence and of the risk model (months)."""

DAYS_PER_MONTH = 365.25 / 12.0
"""Mean days in a month, to turn ages in months into days of life."""

INFANT_GUT = "infant_gut"
BIFIDOBACTERIA = "Bifidobacterium"

STREAM = "outcomes.atopic_dermatitis"
"""Name of the random stream of the two per-dyad uniforms (keyed on day 0 of the dyad's streams,
the once-per-dyad key day, under its own process id)."""

LOGIT_BRACKET = (-20.0, 20.0)
"""Range searched for the fitted baseline log-odds (a risk of 2e-9 to 1 - 2e-9 at the reference state)."""

NEEDS: tuple[str, ...] = ("abundance", "sample_day", "genus", "siga_g_per_l", "milk_volume_ml", "delivery_mode",
                          "maternal_atopy")
"""Dataset variables the risk reads."""


def _check(ds: xr.Dataset) -> int:
    """The dataset's seed, after checking it holds what the risk needs (else InputError)."""
    missing = [name for name in NEEDS if name not in ds.variables]
    if missing:
        raise InputError(f"atopic_dermatitis: the dataset lacks {', '.join(missing)} (a simulation result "
                         "from lactobiome simulate has them)")
    if "seed" not in ds.attrs:
        raise InputError("atopic_dermatitis: the dataset lacks the 'seed' attribute of the run (the draws are "
                         "keyed by seed and dyad id)")
    days = int(ds.sizes.get("day", 0))
    if days < MIN_DAYS:
        raise InputError(f"atopic_dermatitis: the dataset has {days} simulated days; the risk reads milk sIgA on "
                         f"day {SIGA_DAY}, so it needs cohort.days >= {MIN_DAYS}")
    sample_days = [int(d) for d in np.asarray(ds["sample_day"].values)]
    if SAMPLE_DAY not in sample_days:
        raise InputError(f"atopic_dermatitis: the dataset did not record the abundance on day {SAMPLE_DAY} "
                         f"(sampling days {sample_days}); add {SAMPLE_DAY} to sampling.days")
    return int(ds.attrs["seed"])


def early_life_state(ds: xr.Dataset, parameters: ParameterTable | None = None) -> xr.Dataset:
    """The early-life state the risk reads, per dyad.

    Returns
    -------
    xarray.Dataset
        ``infant_gut_shannon_d30`` (Shannon index, natural log, over taxa; 0 for an empty gut),
        ``bifidobacteria_share_d30`` (fraction), ``bifidobacteria_colonised_d30`` (bool),
        ``milk_siga_d60_g_per_l`` (g/L), ``breast_milk_d60`` (bool: the infant took breast milk on
        day 60), ``caesarean`` and ``maternal_atopy`` (bool), on the dimension ``dyad``.

    Raises
    ------
    lactobiome.errors.InputError
        If the dataset lacks a variable, the ``seed`` attribute, day 30 among its sampling days,
        or 60 simulated days.
    """
    parameters = parameters or load_parameters()
    _check(ds)
    gut = ds["abundance"].sel(sample_day=SAMPLE_DAY, site=INFANT_GUT).sum("origin").to_numpy().astype(np.float64)
    total = gut.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(total[:, None] > 0.0, gut / total[:, None], 0.0)
        shannon = -np.where(rel > 0.0, rel * np.log(rel), 0.0).sum(axis=1)
    genus = np.asarray(ds["genus"].values).astype(str)
    bifido = rel[:, genus == BIFIDOBACTERIA].sum(axis=1)
    colonised_share = parameters.value("atopic_dermatitis_bifidobacteria_colonised_share", "fraction")
    siga = ds["siga_g_per_l"].sel(day=SIGA_DAY).to_numpy().astype(np.float64)
    breast_milk = ds["milk_volume_ml"].sel(day=SIGA_DAY).to_numpy() > 0.0
    dyad = ds["dyad"].values
    return xr.Dataset({
        "infant_gut_shannon_d30": ("dyad", shannon, {"units": "1", "long_name": "infant-gut Shannon index, day 30"}),
        "bifidobacteria_share_d30": ("dyad", bifido, {"units": "1"}),
        "bifidobacteria_colonised_d30": ("dyad", bifido >= colonised_share),
        "milk_siga_d60_g_per_l": ("dyad", siga, {"units": "g/L"}),
        "breast_milk_d60": ("dyad", breast_milk),
        "caesarean": ("dyad", np.asarray(ds["delivery_mode"].values).astype(str) == "caesarean"),
        "maternal_atopy": ("dyad", np.asarray(ds["maternal_atopy"].values, dtype=bool)),
    }, coords={"dyad": dyad})


def _logit_without_baseline(state: xr.Dataset, parameters: ParameterTable) -> np.ndarray:
    """Sum of the link terms (log-odds) per dyad."""
    def log_or(name: str) -> float:
        return math.log(parameters.value(name, "1"))

    shannon_z = ((state["infant_gut_shannon_d30"].to_numpy() - parameters.value("atopic_dermatitis_shannon_reference", "1"))
                 / parameters.value("atopic_dermatitis_shannon_sd", "1"))
    siga = state["milk_siga_d60_g_per_l"].to_numpy()
    reference = parameters.value("atopic_dermatitis_siga_reference_g_per_l", "g/L")
    with np.errstate(divide="ignore", invalid="ignore"):
        doublings = np.where(state["breast_milk_d60"].to_numpy() & (siga > 0.0), np.log2(siga / reference), 0.0)
    return (log_or("atopic_dermatitis_or_maternal_atopy") * state["maternal_atopy"].to_numpy()
            + log_or("atopic_dermatitis_or_caesarean") * state["caesarean"].to_numpy()
            + log_or("atopic_dermatitis_or_per_sd_shannon_1mo") * shannon_z
            + log_or("atopic_dermatitis_or_no_bifidobacteria_1mo") * ~state["bifidobacteria_colonised_d30"].to_numpy()
            + log_or("atopic_dermatitis_or_per_doubling_milk_siga") * doublings)


def _onset_cdf(day: float | np.ndarray, parameters: ParameterTable) -> np.ndarray:
    """Share of onsets by ``day`` of life under the log-normal onset distribution."""
    median = parameters.value("atopic_dermatitis_onset_median_day", "day")
    sd = parameters.value("atopic_dermatitis_onset_sd_log", "1")
    return ndtr((np.log(day) - math.log(median)) / sd)


def atopic_dermatitis(ds: xr.Dataset, months: int = 24, parameters: ParameterTable | None = None) -> xr.Dataset:
    """Each infant's risk of atopic dermatitis by ``months`` months, and a draw of it.

    Parameters
    ----------
    ds
        A simulation result of at least :data:`MIN_DAYS` days (``cohort.days >= 60``) that recorded
        the abundance on day :data:`SAMPLE_DAY` (30), with ``abundance``, ``siga_g_per_l``,
        ``milk_volume_ml``, ``delivery_mode``, ``maternal_atopy`` and its ``seed`` attribute. The
        days after 60 are not read: a 24-month risk needs no 24-month run.
    months
        Age by which AD is counted, 1 to 24 (the horizon of the background incidence).
    parameters
        The parameter table (the shipped one by default).

    Returns
    -------
    xarray.Dataset
        On the dimension ``dyad``: ``atopic_dermatitis_probability`` (float in [0, 1]),
        ``atopic_dermatitis`` (bool, drawn) and ``atopic_dermatitis_onset_day`` (float day of life,
        NaN if no onset by ``months``), with the early-life state of :func:`early_life_state`.

    Raises
    ------
    lactobiome.errors.InputError
        If ``months`` is outside 1-24 or the dataset lacks what the risk reads (named).
    """
    if not 1 <= int(months) <= HORIZON_MONTHS:
        raise InputError(f"atopic_dermatitis: months must be 1 to {HORIZON_MONTHS} (the background incidence is by "
                         f"{HORIZON_MONTHS} months), got {months}")
    parameters = parameters or load_parameters()
    seed = _check(ds)
    state = early_life_state(ds, parameters)
    p_horizon = expit(parameters.value("atopic_dermatitis_baseline_logit", "1")
                      + _logit_without_baseline(state, parameters))
    horizon_day = HORIZON_MONTHS * DAYS_PER_MONTH
    by_day = int(months) * DAYS_PER_MONTH
    f_horizon = float(_onset_cdf(horizon_day, parameters))
    share_by = float(_onset_cdf(by_day, parameters)) / f_horizon
    dyad_ids = np.asarray(ds["dyad"].values, dtype=np.int64)
    u = RandomStreams(seed, dyad_ids).uniform(0, stream_id(STREAM), (2,))
    has_ad = u[:, 0] < p_horizon
    # onset among those with AD by the horizon: the onset distribution conditioned on onset by then
    median = parameters.value("atopic_dermatitis_onset_median_day", "day")
    sd = parameters.value("atopic_dermatitis_onset_sd_log", "1")
    onset = np.maximum(np.exp(math.log(median) + sd * ndtri(u[:, 1] * f_horizon)), 1.0)
    by_months = has_ad & (onset <= by_day)
    out = state.copy()
    out["atopic_dermatitis_probability"] = ("dyad", p_horizon * share_by, {"units": "1"})
    out["atopic_dermatitis"] = ("dyad", by_months)
    out["atopic_dermatitis_onset_day"] = ("dyad", np.where(by_months, onset, np.nan), {"units": "day"})
    out.attrs.update({"months": int(months), "seed": seed})
    return out


def baseline_logit_for(ds: xr.Dataset, incidence: float, parameters: ParameterTable | None = None) -> float:
    """The baseline log-odds that gives the cohort ``ds`` the mean 24-month risk ``incidence``.

    How ``atopic_dermatitis_baseline_logit`` was fitted (to the default cohort and
    ``atopic_dermatitis_incidence_24mo``); the link terms are held at their table values.
    """
    parameters = parameters or load_parameters()
    links = _logit_without_baseline(early_life_state(ds, parameters), parameters)
    return float(brentq(lambda b: float(expit(b + links).mean()) - incidence, *LOGIT_BRACKET))
