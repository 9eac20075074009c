"""The model held against published figures: targets, measurements, verdicts.

The targets file (``data/targets.yaml``) lists published figures, each with an acceptance
range and either the key of a measurement in :data:`MEASURES` or the reason it is not
modelled. A measurement computes the model's value from a simulation result (an
``xarray.Dataset`` as written by ``lactobiome simulate``) together with a 95% interval across
dyads (percentile bootstrap over dyads). The verdict is ``within`` when the value lies in
the acceptance range, ``outside`` when it does not, and ``not modelled`` when there is no
mechanism (or the cohort holds no dyad the figure applies to, with the reason said).

This module also holds the one-at-a-time sensitivity screen over the parameter priors and a
bounded Nelder–Mead calibration of chosen parameters to chosen targets. Research and
teaching output; not medical advice.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
import yaml

from lactobiome.errors import InputError

WITHIN = "within"
OUTSIDE = "outside"
NOT_MODELLED = "not modelled"
VERDICTS: tuple[str, ...] = (WITHIN, OUTSIDE, NOT_MODELLED)

INFLAMED_STATES: tuple[str, ...] = ("inflammatory_mastitis", "bacterial_mastitis", "phlegmon", "abscess")
BACTERIAL_STATES: tuple[str, ...] = ("bacterial_mastitis", "phlegmon", "abscess")
DETECTION_SHARE = 0.01
"""Relative abundance at which a taxon counts as detected in a sample (assumption)."""
PHYLUM_ALIASES: dict[str, tuple[str, ...]] = {
    "Proteobacteria": ("Proteobacteria", "Pseudomonadota"),
    "Firmicutes": ("Firmicutes", "Bacillota"),
}
"""Old and current names of the phyla that published figures use."""
RATIO_FLOOR = 1e-9
"""Relative-abundance floor added to both sides of a log ratio of two taxa."""
STAPHYLOCOCCAL_MAJORITY = 0.5
"""Staphylococcus share of milk cells above which a bacterial-mastitis sample counts as
staphylococcal mastitis (the agent a culture would report)."""

_REQUIRED = ("id", "system", "quantity", "published", "unit", "population", "time_point", "source")
_OPTIONAL = ("acceptance", "acceptance_basis", "measure", "not_modelled", "outside_reason", "doi", "confidence")


# --------------------------------------------------------------------------- targets
@dataclass(frozen=True)
class Target:
    """One published figure and how the model is held against it."""

    id: str
    system: str
    quantity: str
    published: str
    unit: str
    population: str
    time_point: str
    source: str
    low: float = -math.inf
    high: float = math.inf
    acceptance_basis: str = ""
    measure: str | None = None
    not_modelled: str | None = None
    outside_reason: str | None = None
    doi: str | None = None
    confidence: str | None = None

    def contains(self, value: float) -> bool:
        """Whether ``value`` lies in the acceptance range (bounds included)."""
        return bool(self.low <= value <= self.high)

    @property
    def acceptance_text(self) -> str:
        """The acceptance range as text (``≤ x`` / ``≥ x`` for an open side)."""
        if math.isinf(self.low) and math.isinf(self.high):
            return ""
        if math.isinf(self.low):
            return f"≤ {_fmt(self.high)}"
        if math.isinf(self.high):
            return f"≥ {_fmt(self.low)}"
        return f"{_fmt(self.low)}–{_fmt(self.high)}"

    @property
    def centre(self) -> float:
        """The point calibration aims at: the middle of the range, or its closed side."""
        if math.isinf(self.low):
            return self.high
        if math.isinf(self.high):
            return self.low
        return 0.5 * (self.low + self.high)

    @property
    def scale(self) -> float:
        """Half the width of the acceptance range (1 when a side is open), for normalising."""
        if math.isinf(self.low) or math.isinf(self.high):
            return max(abs(self.centre), 1.0)
        return max(0.5 * (self.high - self.low), 1e-12)


def _text(value: object) -> str:
    return "" if value is None else str(value).strip()


def _bound(value: object, where: str, default: float) -> float:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(f"{where}: acceptance bounds must be numbers or null, got {value!r}")
    if not math.isfinite(float(value)):
        raise InputError(f"{where}: acceptance bounds must be finite numbers or null, got {value!r}")
    return float(value)


def _parse_target(raw: object, where: str) -> Target:
    if not isinstance(raw, dict):
        raise InputError(f"{where}: each target must be a mapping, got {type(raw).__name__}")
    unknown = sorted(set(raw) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        raise InputError(f"{where}: unknown field(s) {unknown}; allowed {sorted(_REQUIRED + _OPTIONAL)}")
    missing = [k for k in _REQUIRED if k not in raw]
    if missing:
        raise InputError(f"{where}: missing field(s) {missing}")
    if not _text(raw["id"]):
        raise InputError(f"{where}: id is empty")
    where = f"{where} ({raw['id']})"
    measure = _text(raw.get("measure")) or None
    reason = _text(raw.get("not_modelled")) or None
    if (measure is None) == (reason is None):
        raise InputError(f"{where}: give exactly one of 'measure' (a registry key) and 'not_modelled' (a reason)")
    low, high = -math.inf, math.inf
    if measure is not None:
        if measure not in MEASURES:
            raise InputError(f"{where}: measure {measure!r} is not in the registry (lactobiome.validation.MEASURES)")
        acceptance = raw.get("acceptance")
        if not isinstance(acceptance, list) or len(acceptance) != 2:
            raise InputError(f"{where}: acceptance must be a list [low, high] (null for an open side)")
        low = _bound(acceptance[0], where, -math.inf)
        high = _bound(acceptance[1], where, math.inf)
        if math.isinf(low) and math.isinf(high):
            raise InputError(f"{where}: acceptance needs at least one bound")
        if low > high:
            raise InputError(f"{where}: acceptance low {low:g} is above high {high:g}")
    return Target(
        id=_text(raw["id"]), system=_text(raw["system"]), quantity=_text(raw["quantity"]),
        published=_text(raw["published"]), unit=_text(raw["unit"]), population=_text(raw["population"]),
        time_point=_text(raw["time_point"]), source=_text(raw["source"]), low=low, high=high,
        acceptance_basis=_text(raw.get("acceptance_basis")), measure=measure, not_modelled=reason,
        outside_reason=_text(raw.get("outside_reason")) or None, doi=_text(raw.get("doi")) or None,
        confidence=_text(raw.get("confidence")) or None,
    )


def load_targets(path: str | Path | None = None) -> list[Target]:
    """Load and check the targets file.

    Parameters
    ----------
    path
        A YAML file with a top-level ``targets`` list; the shipped ``data/targets.yaml`` when
        omitted.

    Returns
    -------
    list of Target
        In file order.

    Raises
    ------
    InputError
        The file is missing or malformed, an id repeats, a target names an unknown
        measurement, has both or neither of ``measure`` and ``not_modelled``, or a bad range.
    """
    if path is None:
        origin = "targets.yaml (shipped)"
        text = resources.files("lactobiome.data").joinpath("targets.yaml").read_text(encoding="utf-8")
    else:
        origin = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError(f"{origin}: cannot read the targets file ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InputError(f"{origin}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict) or not isinstance(data.get("targets"), list) or not data["targets"]:
        raise InputError(f"{origin}: expected a mapping with a non-empty 'targets' list")
    targets = [_parse_target(raw, f"{origin}: target {i + 1}") for i, raw in enumerate(data["targets"])]
    seen: set[str] = set()
    for t in targets:
        if t.id in seen:
            raise InputError(f"{origin}: target id {t.id} appears more than once")
        seen.add(t.id)
    return targets


# --------------------------------------------------------------------------- measurements
@dataclass(frozen=True)
class Measurement:
    """A model value with its 95% interval; ``value`` is NaN with a ``reason`` when unmeasurable."""

    value: float
    low: float = math.nan
    high: float = math.nan
    n: int = 0
    reason: str = ""


@dataclass(frozen=True)
class Sample:
    """Per-dyad data (rows = dyads) and the statistic that turns them into the model value."""

    data: np.ndarray
    statistic: Callable[[np.ndarray], float]


@dataclass(frozen=True)
class Measure:
    """A registered measurement: what it computes and the function computing it."""

    key: str
    description: str
    function: Callable[[xr.Dataset], Sample | Measurement] = field(repr=False)


MEASURES: dict[str, Measure] = {}
"""Registry of measurements by key."""


def _register(key: str, description: str) -> Callable:
    def wrap(function: Callable[[xr.Dataset], Sample | Measurement]) -> Callable:
        MEASURES[key] = Measure(key, description, function)
        return function

    return wrap


class _Unmeasurable(Exception):
    """Raised inside a measurement when the cohort cannot give the figure."""


def bootstrap(sample: Sample, n_boot: int = 200, seed: int = 0) -> Measurement:
    """Value of ``sample.statistic`` and its 95% percentile-bootstrap interval over dyads.

    Parameters
    ----------
    sample
        Per-dyad rows and the statistic.
    n_boot
        Resamples; 0 gives the value alone.
    seed
        Seed of the resampling (fixed so that reports are reproducible).
    """
    data = np.asarray(sample.data, dtype=np.float64)
    n = data.shape[0]
    if n == 0:
        return Measurement(math.nan, reason="no dyads in this population in the cohort")
    with np.errstate(all="ignore"):
        value = float(sample.statistic(data))
        if not math.isfinite(value):
            return Measurement(math.nan, n=n, reason="no dyad-day in this cohort falls in the population the "
                               "figure applies to (none occurred; rerun with more dyads)")
        if n_boot <= 0:
            return Measurement(value, n=n)
        rng = np.random.default_rng(seed)
        boots = np.array([sample.statistic(data[rng.integers(0, n, n)]) for _ in range(n_boot)], dtype=np.float64)
    boots = boots[np.isfinite(boots)]
    if boots.size == 0:
        return Measurement(value, n=n)
    low, high = np.percentile(boots, [2.5, 97.5])
    return Measurement(value, float(low), float(high), n)


def measure(ds: xr.Dataset, key: str, n_boot: int = 200, seed: int = 0) -> Measurement:
    """Run the registered measurement ``key`` on ``ds``."""
    if key not in MEASURES:
        raise InputError(f"measurement {key!r} is not in the registry; known: {', '.join(sorted(MEASURES))}")
    try:
        out = MEASURES[key].function(ds)
    except _Unmeasurable as exc:
        return Measurement(math.nan, reason=str(exc))
    if isinstance(out, Measurement):
        return out
    return bootstrap(out, n_boot, seed)


# helpers -----------------------------------------------------------------------------
def _nanmedian(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    return float(np.median(x)) if x.size else math.nan


def _nanmean(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    return float(np.mean(x)) if x.size else math.nan


def _median_of_column0(x: np.ndarray) -> float:
    return _nanmedian(x[:, 0])


def _log10(x: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x > 0, np.log10(np.where(x > 0, x, 1.0)), np.nan)


def _days(ds: xr.Dataset) -> np.ndarray:
    return np.asarray(ds["day"].values)


def _window(ds: xr.Dataset, first: int, last: int) -> np.ndarray:
    """Boolean mask over ``day`` for days ``first..last``; unmeasurable past the horizon."""
    days = _days(ds)
    if days.size == 0 or days.max() < last:
        raise _Unmeasurable(f"beyond the simulated horizon ({int(days.max()) if days.size else 0} days; "
                            f"needs day {last})")
    return (days >= first) & (days <= last)


def _panel(ds: xr.Dataset, name: str) -> np.ndarray:
    if name not in ds:
        raise _Unmeasurable(f"the result has no variable {name!r}")
    return np.asarray(ds[name].values, dtype=np.float64)


def _states(ds: xr.Dataset) -> np.ndarray:
    if "mastitis_state" not in ds:
        raise _Unmeasurable("the result has no variable 'mastitis_state'")
    return np.asarray(ds["mastitis_state"].values).astype(str)


def _share(ds: xr.Dataset) -> np.ndarray:
    return np.asarray(ds["breast_milk_share"].values, dtype=np.float64)


def _breastfed(ds: xr.Dataset) -> np.ndarray:
    return _share(ds) > 0.0


def _exclusive(ds: xr.Dataset) -> np.ndarray:
    return _share(ds) >= 0.999


def _per_dyad(values: np.ndarray, mask: np.ndarray, how: str = "mean") -> np.ndarray:
    """Per-dyad mean / median / max / p95 of ``values`` where ``mask`` (NaN when none)."""
    x = np.where(mask, values, np.nan)
    with np.errstate(all="ignore"), _quiet():
        if how == "mean":
            return np.nanmean(x, axis=1)
        if how == "median":
            return np.nanmedian(x, axis=1)
        if how == "max":
            return np.nanmax(x, axis=1)
        if how == "p95":
            return np.nanpercentile(x, 95, axis=1)
    raise ValueError(how)


class _quiet:
    """Silence NumPy's all-NaN-slice warnings."""

    def __enter__(self) -> None:
        import warnings

        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc: object) -> None:
        self._ctx.__exit__(*exc)


def _panel_window(ds: xr.Dataset, name: str, first: int, last: int, dyads: np.ndarray, healthy: bool = False,
                  how: str = "mean", log: bool = False, statistic: Callable = _nanmedian) -> Sample:
    values = _panel(ds, name)
    mask = np.broadcast_to(_window(ds, first, last), values.shape).copy()
    if healthy:
        mask &= _states(ds) == "none"
    per = _per_dyad(_log10(values) if log else values, mask, how)[dyads]
    return Sample(per[np.isfinite(per)], statistic)


def _recorded_day(ds: xr.Dataset, day: int, tolerance: int = 3) -> int:
    recorded = np.asarray(ds["sample_day"].values)
    if recorded.size == 0:
        raise _Unmeasurable("the result has no recorded days")
    best = int(recorded[np.argmin(np.abs(recorded - day) + (recorded > day) * 0.1)])
    if abs(best - day) > tolerance:
        raise _Unmeasurable(f"no recorded day within {tolerance} days of day {day}")
    return best


def _cells(ds: xr.Dataset, site: str, day: int) -> xr.DataArray:
    """Cells by (dyad, taxon) in ``site`` on recorded ``day``, origins summed."""
    return ds["abundance"].sel(site=site, sample_day=day).sum("origin")


def _relative(ds: xr.Dataset, site: str, day: int, by: str) -> pd.DataFrame:
    """Relative abundance by ``by`` (``taxon``, ``genus``, ``family``, ``phylum``), (dyad, group)."""
    cells = _cells(ds, site, day)
    total = cells.sum("taxon")
    rel = (cells / total.where(total > 0)).astype(np.float64)
    if by == "taxon":
        return rel.to_pandas()
    if by == "phylum" and "phylum" not in rel.coords:
        rel = rel.assign_coords(phylum=("taxon", _phyla(rel["taxon"].values)))
    return rel.groupby(by).sum(min_count=1).to_pandas()


def _phyla(taxa: Iterable[str]) -> list[str]:
    from lactobiome.model.taxa import load_taxa

    catalogue = load_taxa()
    lookup = dict(zip(catalogue.names, catalogue.table["phylum"], strict=True))
    return [str(lookup.get(str(t), "unknown")) for t in taxa]


def _column(frame: pd.DataFrame, name: str) -> np.ndarray:
    if name in frame.columns:
        return frame[name].to_numpy(dtype=np.float64)
    return np.where(frame.notna().any(axis=1), 0.0, np.nan)


def _origin_share(ds: xr.Dataset, site: str, day: int, origins: Sequence[str]) -> np.ndarray:
    from lactobiome.summary import origin_shares

    shares = origin_shares(ds, site, day)
    present = [o for o in origins if o in shares["origin"].values]
    if not present:
        return np.where(np.isfinite(shares.values).any(axis=1), 0.0, np.nan)
    return shares.sel(origin=present).sum("origin", min_count=1).values


def _spearman(x: np.ndarray) -> float:
    ok = np.isfinite(x).all(axis=1)
    x = x[ok]
    if x.shape[0] < 3:
        return math.nan
    ranks = np.column_stack([pd.Series(x[:, j]).rank().to_numpy() for j in range(2)])
    if ranks[:, 0].std() == 0 or ranks[:, 1].std() == 0:
        return math.nan
    return float(np.corrcoef(ranks[:, 0], ranks[:, 1])[0, 1])


def _ratio_of_sums(x: np.ndarray) -> float:
    den = float(np.nansum(x[:, 1]))
    return float(np.nansum(x[:, 0]) / den) if den > 0 else math.nan


def _onsets(inflamed: np.ndarray) -> np.ndarray:
    """Days (dyad, day) on which an inflammatory episode starts."""
    start = np.zeros_like(inflamed)
    start[:, 0] = inflamed[:, 0]
    start[:, 1:] = inflamed[:, 1:] & ~inflamed[:, :-1]
    return start


# milk microbiome ---------------------------------------------------------------------
def _milk_bacteria(first: int, last: int) -> Callable[[xr.Dataset], Sample]:
    def function(ds: xr.Dataset) -> Sample:
        return _panel_window(ds, "milk_bacteria_per_ml", first, last, _breastfed(ds), healthy=True,
                             how="median", log=True)

    return function


_register("milk_bacteria_healthy_mature",
          "median over breastfed dyads of each dyad's median log10 milk bacteria/mL on days 30-182 with no "
          "mastitis-spectrum state")(_milk_bacteria(30, 182))
_register("milk_bacteria_healthy_3_6mo",
          "as milk_bacteria_healthy_mature, days 90-182")(_milk_bacteria(90, 182))


def _at_diagnosis(ds: xr.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """Dyads with a bacterial-mastitis episode and the day index of the first one's onset.

    Trials enrol a woman when her mastitis is diagnosed and sample her milk before treatment,
    so a mastitis load is read on the first day of her first bacterial state.
    """
    onsets = _onsets(np.isin(_states(ds), BACTERIAL_STATES))
    dyads = np.flatnonzero(onsets.any(axis=1))
    if dyads.size == 0:
        raise _Unmeasurable("no bacterial mastitis episode in this cohort")
    return dyads, np.argmax(onsets[dyads], axis=1)


@_register("milk_bacteria_mastitis",
           "median over dyads of log10 milk bacteria/mL on the first day of each dyad's first episode of "
           "bacterial mastitis, phlegmon or abscess (diagnosis, before treatment)")
def _milk_bacteria_mastitis(ds: xr.Dataset) -> Sample:
    dyads, day = _at_diagnosis(ds)
    return Sample(_log10(_panel(ds, "milk_bacteria_per_ml")[dyads, day]), _nanmedian)


@_register("milk_staphylococci_mastitis",
           "median over dyads of log10 milk staphylococci/mL on the first day of each dyad's first episode of "
           "bacterial mastitis, phlegmon or abscess, among episodes in which staphylococci are the majority of "
           "milk bacteria that day (staphylococcal mastitis at enrolment)")
def _milk_staph_mastitis(ds: xr.Dataset) -> Sample:
    dyads, day = _at_diagnosis(ds)
    staph = _panel(ds, "milk_staphylococci_per_ml")[dyads, day]
    total = _panel(ds, "milk_bacteria_per_ml")[dyads, day]
    staphylococcal = staph > STAPHYLOCOCCAL_MAJORITY * total
    if not staphylococcal.any():
        raise _Unmeasurable("no bacterial mastitis episode in this cohort has staphylococci as the majority")
    return Sample(_log10(staph[staphylococcal]), _nanmedian)


def _bacterial_sample_days(ds: xr.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """Recorded days and a (dyad, recorded day) mask of bacterial mastitis on them."""
    recorded = np.asarray(ds["sample_day"].values)
    days = _days(ds)
    recorded = recorded[np.isin(recorded, days)]
    index = np.searchsorted(days, recorded)
    return recorded, np.isin(_states(ds)[:, index], BACTERIAL_STATES)


def _genus_detected(genus: str) -> Callable[[xr.Dataset], Sample]:
    def function(ds: xr.Dataset) -> Sample:
        day = _recorded_day(ds, 30)
        share = _column(_relative(ds, "milk", day, "genus"), genus)[_breastfed(ds)]
        share = share[np.isfinite(share)]
        return Sample((share >= DETECTION_SHARE).astype(np.float64), _nanmean)

    return function


_register("milk_streptococcus_detected_d30", "share of breastfed dyads with Streptococcus >= 1% of milk cells, "
          "day 30")(_genus_detected("Streptococcus"))
_register("milk_staphylococcus_detected_d30", "share of breastfed dyads with Staphylococcus >= 1% of milk "
          "cells, day 30")(_genus_detected("Staphylococcus"))


WILLIAMS_2019_MILK_SAMPLES: dict[int, int] = {2: 10, 5: 18, 10: 15, 30: 20, 60: 18, 90: 17, 120: 17, 150: 16,
                                               180: 16}
"""Milk samples sequenced per visit (day of life: count) in Williams et al. 2019 (target A11)."""


@_register("milk_streptococcus_share",
           "mean over breastfed dyads of each dyad's Streptococcus share of milk cells averaged over days 2, 5, 10, "
           "30, 60, 90, 120, 150 and 180, weighted by the milk samples Williams 2019 sequenced at each visit")
def _milk_strep_share(ds: xr.Dataset) -> Sample:
    recorded = set(int(d) for d in ds["sample_day"].values)
    missing = sorted(set(WILLIAMS_2019_MILK_SAMPLES) - recorded)
    if missing:
        raise _Unmeasurable(f"days {', '.join(map(str, missing))} are not recorded")
    weights = np.array(list(WILLIAMS_2019_MILK_SAMPLES.values()), dtype=np.float64)
    shares = np.column_stack([_column(_relative(ds, "milk", d, "genus"), "Streptococcus")
                              for d in WILLIAMS_2019_MILK_SAMPLES])
    per = (shares * weights).sum(axis=1) / weights.sum()
    per = per[_breastfed(ds)]
    return Sample(per[np.isfinite(per)], _nanmean)


def _family_share(family: str) -> Callable[[xr.Dataset], Sample]:
    def function(ds: xr.Dataset) -> Sample:
        share = _column(_relative(ds, "milk", _recorded_day(ds, 30), "family"), family)[_breastfed(ds)]
        return Sample(share[np.isfinite(share)], _nanmean)

    return function


for _family, _key in (("Streptococcaceae", "milk_streptococcaceae_d30"),
                      ("Bifidobacteriaceae", "milk_bifidobacteriaceae_d30"),
                      ("Staphylococcaceae", "milk_staphylococcaceae_d30")):
    _register(_key, f"mean over breastfed dyads of the {_family} share of milk cells, day 30")(_family_share(_family))


@_register("milk_staph_of_staph_strep_d30",
           "Staphylococcus cells / (Staphylococcus + Streptococcus cells) in milk, pooled over breastfed dyads, "
           "day 30")
def _staph_of_staph_strep(ds: xr.Dataset) -> Sample:
    cells = _cells(ds, "milk", _recorded_day(ds, 30)).groupby("genus").sum().to_pandas()
    staph, strep = _column(cells, "Staphylococcus"), _column(cells, "Streptococcus")
    bf = _breastfed(ds)
    return Sample(np.column_stack([staph[bf], staph[bf] + strep[bf]]), _ratio_of_sums)


@_register("milk_proteo_firmicutes_rho_d90",
           "Spearman correlation across breastfed dyads of the Proteobacteria and Firmicutes shares of milk "
           "cells, recorded day nearest day 90")
def _proteo_firmicutes(ds: xr.Dataset) -> Sample:
    rel = _relative(ds, "milk", _recorded_day(ds, 90, tolerance=10), "phylum")
    proteo = sum(_column(rel, name) for name in PHYLUM_ALIASES["Proteobacteria"] if name in rel.columns)
    firmicutes = sum(_column(rel, name) for name in PHYLUM_ALIASES["Firmicutes"] if name in rel.columns)
    if isinstance(proteo, int) or isinstance(firmicutes, int):
        raise _Unmeasurable("the catalogue has no Proteobacteria or no Firmicutes")
    pair = np.column_stack([proteo, firmicutes])[_breastfed(ds)]
    return Sample(pair, _spearman)


@_register("bacteria_ingested_per_day",
           "median over exclusively breastfed dyads of each dyad's median log10 (milk bacteria/mL x milk "
           "volume mL/day), days 30-182")
def _ingested(ds: xr.Dataset) -> Sample:
    values = _panel(ds, "milk_bacteria_per_ml") * _panel(ds, "milk_volume_ml")
    mask = np.broadcast_to(_window(ds, 30, 182), values.shape)
    per = _per_dyad(_log10(values), mask, "median")[_exclusive(ds)]
    return Sample(per[np.isfinite(per)], _nanmedian)


# seeding -----------------------------------------------------------------------------
def _difference_of_group_means(x: np.ndarray) -> float:
    a, b = x[x[:, 1] == 1, 0], x[x[:, 1] == 0, 0]
    return _nanmean(a) - _nanmean(b)


@_register("milk_contact_origin_direct_minus_pumped_d30",
           "mean share of milk cells of infant-mouth or areolar-skin origin at day 30: breastfed dyads with "
           "direct share >= 0.85 minus pumping-only dyads")
def _direct_minus_pumped(ds: xr.Dataset) -> Sample:
    day = _recorded_day(ds, 30)
    share = _origin_share(ds, "milk", day, ("infant_mouth", "areolar_skin"))
    direct = np.asarray(ds["direct_breastfeeding_share"].values, dtype=np.float64)
    bf = _breastfed(ds)
    group = np.where(bf & (direct >= 0.85), 1.0, np.where(bf & (direct <= 0.0), 0.0, np.nan))
    if not (group == 0).any() or not (group == 1).any():
        raise _Unmeasurable("the cohort lacks direct-breastfeeding or pumping-only dyads")
    keep = np.isfinite(group)
    return Sample(np.column_stack([share[keep], group[keep]]), _difference_of_group_means)


def _fall_done(x: np.ndarray) -> float:
    d1, d3, d7 = (_nanmedian(x[:, j]) for j in range(3))
    return (d1 - d3) / (d1 - d7) if d1 != d7 else math.nan


@_register("nak_fall_done_by_day3",
           "(median Na:K day 1 - day 3) / (median Na:K day 1 - day 7), breastfed dyads")
def _nak_fall(ds: xr.Dataset) -> Sample:
    nak = _panel(ds, "na_k_ratio")
    days = _days(ds)
    _window(ds, 1, 7)
    cols = [nak[:, int(np.searchsorted(days, d))] for d in (1, 3, 7)]
    return Sample(np.column_stack(cols)[_breastfed(ds)], _fall_done)


@_register("nak_day7", "median Na:K on day 7, breastfed dyads")
def _nak7(ds: xr.Dataset) -> Sample:
    return _panel_window(ds, "na_k_ratio", 7, 7, _breastfed(ds))


# milk cells --------------------------------------------------------------------------
_register("leucocyte_fraction_colostrum", "median over breastfed dyads of the mean leucocyte share of milk "
          "cells, days 1-3")(lambda ds: _panel_window(ds, "leucocyte_fraction", 1, 3, _breastfed(ds)))
_register("leucocyte_fraction_mature", "median over breastfed dyads of the mean leucocyte share of milk cells "
          "on days 30-182 with no mastitis-spectrum state")(
    lambda ds: _panel_window(ds, "leucocyte_fraction", 30, 182, _breastfed(ds), healthy=True))
_register("epithelial_fraction_colostrum", "median over breastfed dyads of the mean epithelial share of milk "
          "cells, days 1-3")(lambda ds: _panel_window(ds, "epithelial_fraction", 1, 3, _breastfed(ds)))
_register("epithelial_fraction_mature", "median over breastfed dyads of the mean epithelial share of milk "
          "cells on days 30-182 with no mastitis-spectrum state")(
    lambda ds: _panel_window(ds, "epithelial_fraction", 30, 182, _breastfed(ds), healthy=True))


@_register("leucocyte_fraction_mastitis_peak",
           "median over dyads with bacterial mastitis of the dyad's peak leucocyte share on days in bacterial "
           "mastitis, phlegmon or abscess")
def _leucocyte_peak(ds: xr.Dataset) -> Sample:
    per = _per_dyad(_panel(ds, "leucocyte_fraction"), np.isin(_states(ds), BACTERIAL_STATES), "max")
    return Sample(per[np.isfinite(per)], _nanmedian)


def _leucocytes_per_ml(first: int, last: int, healthy: bool) -> Callable[[xr.Dataset], Sample]:
    def function(ds: xr.Dataset) -> Sample:
        values = _log10(_panel(ds, "somatic_cells_per_ml") * _panel(ds, "leucocyte_fraction"))
        mask = np.broadcast_to(_window(ds, first, last), values.shape).copy()
        if healthy:
            mask &= _states(ds) == "none"
        per = _per_dyad(values, mask, "median")[_breastfed(ds)]
        return Sample(per[np.isfinite(per)], _nanmedian)

    return function


_register("leucocytes_per_ml_colostrum", "median over breastfed dyads of each dyad's median log10 "
          "(SCC x leucocyte share), days 1-3")(_leucocytes_per_ml(1, 3, False))
_register("leucocytes_per_ml_mature", "as leucocytes_per_ml_colostrum, days 90-182 with no mastitis-spectrum "
          "state")(_leucocytes_per_ml(90, 182, True))
_register("leucocytes_per_ml_day4_on", "as leucocytes_per_ml_colostrum, days 4-182 with no mastitis-spectrum "
          "state")(_leucocytes_per_ml(4, 182, True))
_register("somatic_cells_all", "median over breastfed dyads of each dyad's median log10 SCC, days 1-182")(
    lambda ds: _panel_window(ds, "somatic_cells_per_ml", 1, 182, _breastfed(ds), how="median", log=True))


@_register("stem_cell_fraction_high",
           "95th percentile across breastfed dyads of each dyad's peak stem-cell share of milk cells, days 1-182")
def _stem_high(ds: xr.Dataset) -> Sample:
    return _panel_window(ds, "stem_cell_fraction", 1, 182, _breastfed(ds), how="max",
                         statistic=lambda x: float(np.percentile(x, 95)) if x.size else math.nan)


def _odds_ratio(x: np.ndarray) -> float:
    a, b, c, d = (float(np.nansum(x[:, j])) for j in range(4))
    if min(a, b, c, d) == 0:
        a, b, c, d = a + 0.5, b + 0.5, c + 0.5, d + 0.5
    return (a * d) / (b * c)


@_register("scc_predicts_mastitis_or",
           "odds ratio, over breastfed dyad-days 1-42 not in an inflammatory state, of an inflammatory onset in "
           "the next 7 days for SCC > 4.76e5/mL vs below (0.5 added to each cell when one is empty)")
def _scc_or(ds: xr.Dataset) -> Sample:
    scc = _panel(ds, "somatic_cells_per_ml")
    inflamed = np.isin(_states(ds), INFLAMED_STATES)
    days = _days(ds)
    if days.max() < 49:
        raise _Unmeasurable("beyond the simulated horizon (needs day 49)")
    onset = _onsets(inflamed)
    cum = np.concatenate([np.zeros((onset.shape[0], 1)), np.cumsum(onset, axis=1)], axis=1)
    index = np.arange(42)
    soon = (cum[:, index + 8] - cum[:, index + 1]) > 0  # onset on days d+1..d+7
    at_risk = ~inflamed[:, index]
    high = scc[:, index] > 4.76e5
    counts = np.column_stack([
        (at_risk & high & soon).sum(axis=1), (at_risk & high & ~soon).sum(axis=1),
        (at_risk & ~high & soon).sum(axis=1), (at_risk & ~high & ~soon).sum(axis=1),
    ])[_breastfed(ds)]
    if counts[:, 0].sum() + counts[:, 2].sum() == 0:
        raise _Unmeasurable("no inflammatory onset in days 2-49 in this cohort")
    return Sample(counts, _odds_ratio)


_register("scc_healthy_p95", "median over breastfed dyads of each dyad's 95th percentile log10 SCC on days "
          "14-182 with no mastitis-spectrum state")(
    lambda ds: _panel_window(ds, "somatic_cells_per_ml", 14, 182, _breastfed(ds), healthy=True, how="p95",
                             log=True))
_register("scc_healthy_median", "median over breastfed dyads of each dyad's median log10 SCC on days 14-182 "
          "with no mastitis-spectrum state")(
    lambda ds: _panel_window(ds, "somatic_cells_per_ml", 14, 182, _breastfed(ds), healthy=True, how="median",
                             log=True))


@_register("scc_mastitis", "median over dyads of each dyad's median log10 SCC on days in inflammatory or "
           "bacterial mastitis, phlegmon or abscess")
def _scc_mastitis(ds: xr.Dataset) -> Sample:
    per = _per_dyad(_log10(_panel(ds, "somatic_cells_per_ml")), np.isin(_states(ds), INFLAMED_STATES), "median")
    return Sample(per[np.isfinite(per)], _nanmedian)


# mastitis epidemiology ---------------------------------------------------------------
@_register("mastitis_incidence",
           "1000 x onsets of inflammatory or bacterial mastitis, phlegmon or abscess / breastfeeding weeks "
           "(days with milk volume > 0, / 7), days 1-175, breastfed dyads")
def _incidence(ds: xr.Dataset) -> Sample:
    window = _window(ds, 1, 175)
    onsets = _onsets(np.isin(_states(ds), INFLAMED_STATES))[:, window].sum(axis=1)
    weeks = (_panel(ds, "milk_volume_ml")[:, window] > 0).sum(axis=1) / 7.0
    bf = _breastfed(ds)
    return Sample(np.column_stack([1000.0 * onsets[bf], weeks[bf]]), _ratio_of_sums)


@_register("mastitis_onsets_first_6_weeks",
           "share of onsets of inflammatory or bacterial mastitis, phlegmon or abscess (days 1-182) that fall "
           "on days 1-42")
def _first_six_weeks(ds: xr.Dataset) -> Sample:
    window = _window(ds, 1, 182)
    onsets = _onsets(np.isin(_states(ds), INFLAMED_STATES)) & window
    early = onsets & (_days(ds) <= 42)
    return Sample(np.column_stack([early.sum(axis=1), onsets.sum(axis=1)]), _ratio_of_sums)


def _mastitis_detected(select: Callable[[xr.Dataset, int], np.ndarray]) -> Callable[[xr.Dataset], Sample]:
    def function(ds: xr.Dataset) -> Sample:
        recorded, mask = _bacterial_sample_days(ds)
        if not mask.any():
            raise _Unmeasurable("no recorded day falls in a bacterial mastitis episode in this cohort")
        found = np.column_stack([select(ds, int(d)) >= DETECTION_SHARE for d in recorded])
        return Sample(np.column_stack([(found & mask).sum(axis=1), mask.sum(axis=1)]), _ratio_of_sums)

    return function


_register("mastitis_milk_s_epidermidis", "share of recorded bacterial-mastitis milk samples with S. epidermidis "
          ">= 1% of cells")(_mastitis_detected(
              lambda ds, d: _column(_relative(ds, "milk", d, "taxon"), "staphylococcus_epidermidis")))
_register("mastitis_milk_s_aureus", "share of recorded bacterial-mastitis milk samples with S. aureus >= 1% of "
          "cells")(_mastitis_detected(lambda ds, d: _column(_relative(ds, "milk", d, "taxon"),
                                                             "staphylococcus_aureus")))
_register("mastitis_milk_streptococci", "share of recorded bacterial-mastitis milk samples with Streptococcus "
          ">= 1% of cells")(_mastitis_detected(lambda ds, d: _column(_relative(ds, "milk", d, "genus"),
                                                                      "Streptococcus")))


@_register("mastitis_prevalence",
           "share of breastfed dyads with at least one day of inflammatory or bacterial mastitis, phlegmon or "
           "abscess on days 1-182")
def _prevalence(ds: xr.Dataset) -> Sample:
    ever = (np.isin(_states(ds), INFLAMED_STATES) & _window(ds, 1, 182)).any(axis=1)
    return Sample(ever[_breastfed(ds)].astype(np.float64), _nanmean)


def _episode_counts(ds: xr.Dataset) -> np.ndarray:
    """Onsets of inflammatory or bacterial mastitis, phlegmon or abscess on days 1-182 per breastfed dyad."""
    onsets = _onsets(np.isin(_states(ds), INFLAMED_STATES)) & _window(ds, 1, 182)
    return onsets[_breastfed(ds)]


@_register("mastitis_recurrence_share",
           "share of breastfed dyads with an onset of inflammatory or bacterial mastitis, phlegmon or abscess on "
           "days 1-182 that have two or more such onsets")
def _recurrence(ds: xr.Dataset) -> Sample:
    count = _episode_counts(ds).sum(axis=1)
    affected = count >= 1
    if not affected.any():
        raise _Unmeasurable("no mastitis episode on days 1-182 in this cohort")
    return Sample((count[affected] >= 2).astype(np.float64), _nanmean)


@_register("mastitis_first_onset_7_weeks",
           "share of breastfed dyads with an onset on days 1-182 whose first onset falls on days 1-49")
def _first_onset_seven_weeks(ds: xr.Dataset) -> Sample:
    onsets = _episode_counts(ds)
    affected = onsets.any(axis=1)
    if not affected.any():
        raise _Unmeasurable("no mastitis episode on days 1-182 in this cohort")
    first_day = _days(ds)[np.argmax(onsets[affected], axis=1)]
    return Sample((first_day <= 49).astype(np.float64), _nanmean)


# infant gut --------------------------------------------------------------------------
def _infant_gut_share(origin: str) -> Callable[[xr.Dataset], Sample]:
    def function(ds: xr.Dataset) -> Sample:
        share = _origin_share(ds, "infant_gut", _recorded_day(ds, 30), (origin,))[_share(ds) >= 0.75]
        return Sample(share[np.isfinite(share)], _nanmean)

    return function


_register("infant_gut_milk_share_d30", "mean over dyads with breast-milk share >= 0.75 of the share of "
          "infant-gut cells of milk origin, day 30")(_infant_gut_share("milk"))
_register("infant_gut_areolar_share_d30", "mean over dyads with breast-milk share >= 0.75 of the share of "
          "infant-gut cells of areolar-skin origin, day 30")(_infant_gut_share("areolar_skin"))


@_register("infant_gut_shannon_dose_rho_d30",
           "Spearman correlation across dyads with any breast milk of breast-milk share and the Shannon "
           "diversity (natural log, taxa) of infant-gut cells, day 30")
def _dose(ds: xr.Dataset) -> Sample:
    rel = _relative(ds, "infant_gut", _recorded_day(ds, 30), "taxon").to_numpy(dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        shannon = -np.nansum(np.where(rel > 0.0, rel * np.log(rel), 0.0), axis=1)
    shannon = np.where(np.isfinite(rel).any(axis=1), shannon, np.nan)
    bf = _breastfed(ds)
    return Sample(np.column_stack([_share(ds)[bf], shannon[bf]]), _spearman)


def _ratio_of_group_means(x: np.ndarray) -> float:
    a, b = _nanmean(x[x[:, 1] == 1, 0]), _nanmean(x[x[:, 1] == 0, 0])
    return a / b if b > 0 else math.nan


@_register("infant_gut_bacteroides_caesarean_ratio_d7",
           "mean Bacteroides + Phocaeicola share of infant-gut cells at day 7, caesarean / vaginal dyads")
def _caesarean(ds: xr.Dataset) -> Sample:
    rel = _relative(ds, "infant_gut", _recorded_day(ds, 7, tolerance=1), "genus")
    share = _column(rel, "Bacteroides") + _column(rel, "Phocaeicola")
    caesarean = (np.asarray(ds["delivery_mode"].values).astype(str) == "caesarean").astype(np.float64)
    if caesarean.all() or not caesarean.any():
        raise _Unmeasurable("the cohort lacks caesarean or vaginal births")
    return Sample(np.column_stack([share, caesarean]), _ratio_of_group_means)


def _bif_entero(select: Callable[[xr.Dataset], np.ndarray]) -> Callable[[xr.Dataset], Sample]:
    def function(ds: xr.Dataset) -> Sample:
        rel = _relative(ds, "infant_gut", _recorded_day(ds, 6, tolerance=1), "family")
        ratio = _log10((_column(rel, "Bifidobacteriaceae") + RATIO_FLOOR)
                       / (_column(rel, "Enterobacteriaceae") + RATIO_FLOOR))[select(ds)]
        return Sample(ratio[np.isfinite(ratio)], _nanmedian)

    return function


_register("bif_entero_log_ratio_breastfed_d6", "median over exclusively breastfed dyads of log10 "
          "(Bifidobacteriaceae / Enterobacteriaceae share of infant-gut cells), recorded day nearest day 6")(
    _bif_entero(_exclusive))
_register("bif_entero_log_ratio_formula_d6", "as bif_entero_log_ratio_breastfed_d6, formula-only dyads")(
    _bif_entero(lambda ds: _share(ds) <= 0.0))


# immune factors and volume ------------------------------------------------------------
def _panel_stage(name: str, first: int, last: int, dyads: Callable[[xr.Dataset], np.ndarray] = _breastfed
                 ) -> Callable[[xr.Dataset], Sample]:
    def function(ds: xr.Dataset) -> Sample:
        return _panel_window(ds, name, first, last, dyads(ds))

    return function


for _key, _name, _first, _last in (
        ("siga_colostrum", "siga_g_per_l", 1, 5), ("siga_transitional", "siga_g_per_l", 6, 14),
        ("siga_mature", "siga_g_per_l", 15, 75), ("hmo_colostrum", "hmo_g_per_l", 1, 5),
        ("hmo_transitional", "hmo_g_per_l", 6, 14), ("hmo_mature_month1", "hmo_g_per_l", 15, 30),
        ("hmo_after_6_months", "hmo_g_per_l", 180, 182)):
    _register(_key, f"median over breastfed dyads of the mean {_name}, days {_first}-{_last}")(
        _panel_stage(_name, _first, _last))

for _key, _first, _last in (("milk_volume_day1", 1, 1), ("milk_volume_day3", 3, 3), ("milk_volume_day5", 5, 5),
                            ("milk_volume_days14_28", 14, 28), ("milk_volume_month1", 28, 31),
                            ("milk_volume_month2", 58, 62), ("milk_volume_month4", 118, 122),
                            ("milk_volume_month6", 175, 182)):
    _register(_key, f"median over exclusively breastfed dyads of the mean milk volume (mL/day), days "
              f"{_first}-{_last}")(_panel_stage("milk_volume_ml", _first, _last, _exclusive))
for _key, _first, _last in (("milk_volume_month9", 268, 272), ("milk_volume_month12", 361, 365)):
    _register(_key, f"median over dyads with any breast milk of the mean milk volume (mL/day), days "
              f"{_first}-{_last}")(_panel_stage("milk_volume_ml", _first, _last))


def _fold(first: tuple[int, int], second: tuple[int, int]) -> Callable[[xr.Dataset], Sample]:
    def function(ds: xr.Dataset) -> Sample:
        values = _panel(ds, "siga_g_per_l")
        a = _per_dyad(values, np.broadcast_to(_window(ds, *first), values.shape), "mean")
        b = _per_dyad(values, np.broadcast_to(_window(ds, *second), values.shape), "mean")
        bf = _breastfed(ds)
        return Sample(np.column_stack([a[bf], b[bf]]), lambda x: _nanmedian(x[:, 0]) / _nanmedian(x[:, 1]))

    return function


_register("siga_fold_d3_4_vs_d15_180", "median sIgA days 3-4 / median sIgA days 15-180 (per-dyad means), "
          "breastfed dyads")(_fold((3, 4), (15, 180)))
_register("siga_fold_d3_vs_week4", "median sIgA day 3 / median sIgA days 22-28 (per-dyad means), breastfed "
          "dyads")(_fold((3, 3), (22, 28)))


# --------------------------------------------------------------------------- verdicts
def verdict(target: Target, value: float) -> str:
    """``within`` / ``outside`` for a measured target, ``not modelled`` when unmeasured (NaN)."""
    if target.measure is None or value is None or not math.isfinite(value):
        return NOT_MODELLED
    return WITHIN if target.contains(value) else OUTSIDE


COLUMNS: tuple[str, ...] = ("id", "quantity", "published", "unit", "acceptance", "model", "ci_low", "ci_high",
                            "n", "verdict", "reason", "measure", "source")


def validate_dataset(ds: xr.Dataset, targets: Sequence[Target] | None = None, n_boot: int = 200,
                     seed: int = 0) -> pd.DataFrame:
    """The validation table of a simulation result.

    Parameters
    ----------
    ds
        A simulation result.
    targets
        Targets to check; the shipped file when omitted.
    n_boot
        Bootstrap resamples over dyads for the 95% intervals (0: none).
    seed
        Seed of the resampling.

    Returns
    -------
    pandas.DataFrame
        One row per target with the columns of :data:`COLUMNS`; ``reason`` says why a target
        is not modelled, or (for ``outside``) the known reason from the targets file.
    """
    targets = load_targets() if targets is None else list(targets)
    cache: dict[str, Measurement] = {}
    rows = []
    for t in targets:
        if t.measure is None:
            m = Measurement(math.nan, reason=t.not_modelled or "")
        else:
            if t.measure not in cache:
                cache[t.measure] = measure(ds, t.measure, n_boot, seed)
            m = cache[t.measure]
        v = verdict(t, m.value)
        reason = m.reason if v == NOT_MODELLED else (t.outside_reason or "" if v == OUTSIDE else "")
        rows.append({"id": t.id, "quantity": t.quantity, "published": t.published, "unit": t.unit,
                     "acceptance": t.acceptance_text, "model": m.value, "ci_low": m.low, "ci_high": m.high,
                     "n": m.n, "verdict": v, "reason": reason, "measure": t.measure or "", "source": t.source})
    return pd.DataFrame(rows, columns=list(COLUMNS))


def counts(table: pd.DataFrame) -> dict[str, int]:
    """Number of targets per verdict."""
    return {v: int((table["verdict"] == v).sum()) for v in VERDICTS}


def _fmt(value: float) -> str:
    if value is None or not math.isfinite(value):
        return ""
    if value == 0:
        return "0"
    if abs(value) >= 1e5 or abs(value) < 1e-3:
        return f"{value:.3g}"
    return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"


def model_text(row: Mapping[str, object]) -> str:
    """``value [low, high]`` of one table row (empty when not modelled)."""
    value = float(row["model"])  # type: ignore[arg-type]
    if not math.isfinite(value):
        return ""
    low, high = float(row["ci_low"]), float(row["ci_high"])  # type: ignore[arg-type]
    if math.isfinite(low) and math.isfinite(high):
        return f"{_fmt(value)} [{_fmt(low)}, {_fmt(high)}]"
    return _fmt(value)


def to_text(table: pd.DataFrame, width: int = 44) -> str:
    """The table as fixed-width text for the terminal."""

    def cut(text: object, n: int) -> str:
        s = str(text)
        return s if len(s) <= n else s[: n - 1] + "…"

    lines = [f"{'id':5s} {'quantity':{width}s} {'accept':14s} {'model [95% interval]':30s} {'verdict':12s} source"]
    for row in table.to_dict("records"):
        lines.append(f"{row['id']:5s} {cut(row['quantity'], width):{width}s} {cut(row['acceptance'], 14):14s} "
                     f"{cut(model_text(row), 30):30s} {row['verdict']:12s} {cut(row['source'], 40)}")
    return "\n".join(lines)


def _md(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def to_markdown(table: pd.DataFrame, header: str = "") -> str:
    """The table as a Markdown page: summary, full table, reasons for `outside` and `not modelled`."""
    c = counts(table)
    measured = c[WITHIN] + c[OUTSIDE]
    share = f"{100.0 * c[WITHIN] / measured:.0f}%" if measured else "n/a"
    out = ["# Validation: the model against published figures", ""]
    if header:
        out += [header, ""]
    unmeasured = table[(table["verdict"] == NOT_MODELLED) & (table["measure"] != "")]
    out += [f"**{c[WITHIN]} within, {c[OUTSIDE]} outside, {c[NOT_MODELLED]} not modelled** "
            f"({share} of measured targets within their acceptance range; {len(unmeasured)} of the not-modelled "
            "targets have a mechanism but nothing to measure in this cohort).", "",
            "The model value is the measurement named in `src/lactobiome/data/targets.yaml` (see "
            "`lactobiome.validation.MEASURES`); the interval is a 95% percentile bootstrap over dyads. "
            "Each target's acceptance range and how it was set (`acceptance_basis`) are in the targets file. "
            "`not modelled` means the model has no mechanism for the figure, or the cohort holds no dyad-day "
            "it applies to (the reason says which). `lactobiome validate --sensitivity` screens every free "
            "parameter over its prior; `lactobiome calibrate --parameters a,b --targets X,Y --out p.csv` fits "
            "chosen parameters to chosen targets and writes a new parameter table.", "",
            "| id | quantity | published | unit | acceptance | model [95% interval] | verdict | source |",
            "|---|---|---|---|---|---|---|---|"]
    for row in table.to_dict("records"):
        out.append(f"| {row['id']} | {_md(row['quantity'])} | {_md(row['published'])} | {_md(row['unit'])} | "
                   f"{_md(row['acceptance'])} | {_md(model_text(row))} | {row['verdict']} | {_md(row['source'])} |")
    out += ["", "## Why each `outside` target is outside", ""]
    outside = table[table["verdict"] == OUTSIDE]
    if outside.empty:
        out.append("None.")
    for row in outside.to_dict("records"):
        why = row["reason"] or "no reason recorded yet: an open question for the model (known gap to investigate)"
        out.append(f"* **{row['id']}** ({_md(row['quantity'])}): {_md(why)}")
    out += ["", "## Mechanism present, nothing to measure in this cohort", ""]
    if unmeasured.empty:
        out.append("None.")
    for row in unmeasured.to_dict("records"):
        out.append(f"* **{row['id']}** ({_md(row['quantity'])}; `{row['measure']}`): {_md(row['reason'])}")
    out += ["", "## Targets not modelled", ""]
    for row in table[(table["verdict"] == NOT_MODELLED) & (table["measure"] == "")].to_dict("records"):
        out.append(f"* **{row['id']}** ({_md(row['quantity'])}): {_md(row['reason'])}")
    out += ["", "Research and teaching model output; not medical advice.", ""]
    return "\n".join(out)


# --------------------------------------------------------------------------- priors
def prior_bounds(prior_kind: str, args: Sequence[float]) -> tuple[float, float] | None:
    """Low and high end of a prior for screening and calibration (None for ``fixed``).

    ``uniform``/``loguniform``: the bounds; ``normal(m, s)``: m ± 2s; ``lognormal(mu, sigma)``:
    exp(mu ± 2 sigma); ``beta(a, b)``: the 2.5% and 97.5% quantiles.
    """
    if prior_kind in ("uniform", "loguniform"):
        return float(args[0]), float(args[1])
    if prior_kind == "normal":
        return float(args[0] - 2 * args[1]), float(args[0] + 2 * args[1])
    if prior_kind == "lognormal":
        return float(math.exp(args[0] - 2 * args[1])), float(math.exp(args[0] + 2 * args[1]))
    if prior_kind == "beta":
        from scipy.stats import beta

        return float(beta.ppf(0.025, *args)), float(beta.ppf(0.975, *args))
    return None


def free_parameters(parameters: Mapping) -> dict[str, tuple[float, float, bool]]:
    """Non-fixed parameters: name -> (low, high, log scale)."""
    out = {}
    for name, p in parameters.items():
        bounds = prior_bounds(p.prior_kind, p.prior_args)
        if bounds is not None and bounds[1] > bounds[0]:
            out[name] = (bounds[0], bounds[1], p.prior_kind in ("loguniform", "lognormal") and bounds[0] > 0)
        elif bounds is not None:
            continue
    return out


# --------------------------------------------------------------------------- running the model
VALIDATION_DAYS: tuple[int, ...] = (1, 2, 3, 5, 6, 7, 10, 14, 30, 60, 90, 120, 150, 180, 182)
"""Recorded days the measurements need (added to the scenario's own sampling days)."""


def run_cohort(scenario: str = "default", dyads: int | None = None, days: int | None = None,
               seed: int | None = None, parameters: object = None,
               overrides: Mapping[str, float] | None = None) -> xr.Dataset:
    """Simulate a cohort for validation, recording the days the measurements need.

    Parameters
    ----------
    scenario
        Built-in scenario name or YAML path.
    dyads, days, seed
        Cohort overrides (the scenario's own when None).
    parameters
        A :class:`~lactobiome.model.parameters.ParameterTable` (the shipped table when None).
    overrides
        Parameter values overriding the table (name -> value).
    """
    from lactobiome.scenarios import load_scenario
    from lactobiome.simulation import simulate_in_memory

    base = load_scenario(scenario)
    horizon = days if days is not None else base.cohort.days
    cohort = {k: v for k, v in {"dyads": dyads, "days": days, "seed": seed}.items() if v is not None}
    recorded = sorted({int(d) for d in base.sampling.days if d <= horizon}
                      | {d for d in VALIDATION_DAYS if d <= horizon})
    changes: dict = {"cohort": cohort, "sampling": {"days": recorded}}
    if overrides:
        changes["parameters"] = {**base.parameters, **{k: float(v) for k, v in overrides.items()}}
    return simulate_in_memory(load_scenario(scenario, changes), parameters)


def _values(ds: xr.Dataset, targets: Sequence[Target]) -> dict[str, float]:
    table = validate_dataset(ds, targets, n_boot=0)
    return dict(zip(table["id"], table["model"].astype(float), strict=True))


def sensitivity(targets: Sequence[Target], scenario: str = "default", dyads: int = 40, days: int = 120,
                seed: int = 1, names: Sequence[str] | None = None, parameters: object = None,
                budget_s: float = 600.0, progress: bool | None = None) -> pd.DataFrame:
    """One-at-a-time screen: each free parameter at the low and high end of its prior.

    Every run shares the seed (common random numbers), so differences come from the
    parameter alone. The effect of a parameter on a target is (value at high - value at low)
    divided by half the width of the target's acceptance range: an effect of 2 moves the
    target across its whole range.

    Parameters
    ----------
    targets
        Targets to measure (those without a measurement are skipped).
    scenario, dyads, days, seed
        The screening cohort (small, for speed).
    names
        Parameters to screen; every non-fixed parameter when None.
    parameters
        The parameter table (the shipped one when None).
    budget_s
        Stop starting new parameters after this many seconds; the rows say which were done.
    progress
        Progress bar (None: on a terminal only).

    Returns
    -------
    pandas.DataFrame
        Columns ``parameter, low, high, target, value_low, value_high, baseline, effect``.
    """
    import time

    from tqdm import tqdm

    from lactobiome.model.parameters import load_parameters

    table = parameters if parameters is not None else load_parameters()
    free = free_parameters(table)
    if names:
        unknown = [n for n in names if n not in free]
        if unknown:
            raise InputError(f"not free parameters of the table (fixed or unknown): {', '.join(unknown)}")
        free = {n: free[n] for n in names}
    measured = [t for t in targets if t.measure is not None]
    start = time.perf_counter()
    baseline = _values(run_cohort(scenario, dyads, days, seed, table), measured)
    rows = []
    for name, (low, high, _log) in tqdm(free.items(), desc="sensitivity", unit="parameter", disable=progress is False
                                        if progress is not None else None):
        if time.perf_counter() - start > budget_s:
            break
        lo = _values(run_cohort(scenario, dyads, days, seed, table, {name: low}), measured)
        hi = _values(run_cohort(scenario, dyads, days, seed, table, {name: high}), measured)
        for t in measured:
            effect = (hi[t.id] - lo[t.id]) / t.scale
            rows.append({"parameter": name, "low": low, "high": high, "target": t.id, "value_low": lo[t.id],
                         "value_high": hi[t.id], "baseline": baseline[t.id], "effect": effect})
    return pd.DataFrame(rows, columns=["parameter", "low", "high", "target", "value_low", "value_high", "baseline",
                                       "effect"])


def top_effects(screen: pd.DataFrame, per_target: int = 3) -> pd.DataFrame:
    """The parameters with the largest absolute effect on each target (NaN effects dropped)."""
    ok = screen[np.isfinite(screen["effect"].astype(float))].copy()
    ok["size"] = ok["effect"].abs()
    ok = ok[ok["size"] > 0]
    ok = ok.sort_values(["target", "size"], ascending=[True, False])
    return ok.groupby("target", sort=False).head(per_target)[["target", "parameter", "effect"]]


@dataclass(frozen=True)
class Calibration:
    """Result of :func:`calibrate`: fitted values, loss before and after, evaluations used."""

    values: dict[str, float]
    loss_before: float
    loss_after: float
    evaluations: int
    target_values: dict[str, float]


def loss(values: Mapping[str, float], targets: Sequence[Target]) -> float:
    """Sum over targets of ((model - centre of range) / half-width)^2; 100 per unmeasured target."""
    total = 0.0
    for t in targets:
        v = values.get(t.id, math.nan)
        total += ((v - t.centre) / t.scale) ** 2 if math.isfinite(v) else 100.0
    return total


def calibrate(names: Sequence[str], targets: Sequence[Target], scenario: str = "default", dyads: int = 100,
              days: int = 182, seed: int = 1, max_evals: int = 30, parameters: object = None,
              progress: bool | None = None) -> Calibration:
    """Fit ``names`` within their priors to ``targets`` by bounded Nelder–Mead.

    Each parameter is mapped to [0, 1] across its prior (on log scale for log-uniform and
    log-normal priors); every evaluation simulates the same cohort with the same seed
    (common random numbers), so the objective is smooth enough for a simplex search.

    Parameters
    ----------
    names
        Parameters to fit (non-fixed ones).
    targets
        Targets to fit (each must have a measurement).
    scenario, dyads, days, seed
        The fitting cohort.
    max_evals
        Bound on model runs.
    parameters
        Starting table (the shipped one when None).
    progress
        Progress bar (None: on a terminal only).
    """
    from scipy.optimize import minimize
    from tqdm import tqdm

    from lactobiome.model.parameters import load_parameters

    table = parameters if parameters is not None else load_parameters()
    free = free_parameters(table)
    bad = [n for n in names if n not in free]
    if bad:
        raise InputError(f"cannot calibrate {', '.join(bad)}: not a free (non-fixed) parameter of the table")
    unmeasured = [t.id for t in targets if t.measure is None]
    if unmeasured:
        raise InputError(f"cannot calibrate to {', '.join(unmeasured)}: not modelled")
    if not names or not targets:
        raise InputError("calibrate needs at least one parameter and one target")

    def to_value(u: float, name: str) -> float:
        low, high, log = free[name]
        u = min(max(float(u), 0.0), 1.0)
        return float(math.exp(math.log(low) + u * (math.log(high) - math.log(low)))) if log else low + u * (high - low)

    def to_unit(value: float, name: str) -> float:
        low, high, log = free[name]
        if log:
            return (math.log(value) - math.log(low)) / (math.log(high) - math.log(low))
        return (value - low) / (high - low)

    cache: dict[tuple[float, ...], tuple[float, dict[str, float]]] = {}
    bar = tqdm(total=max_evals, desc="calibrate", unit="run", disable=progress is False if progress is not None else None)

    def objective(u: np.ndarray) -> float:
        key = tuple(np.round(np.clip(u, 0.0, 1.0), 6))
        if key not in cache:
            values = {n: to_value(x, n) for n, x in zip(names, key, strict=True)}
            measured = _values(run_cohort(scenario, dyads, days, seed, table, values), targets)
            cache[key] = (loss(measured, targets), measured)
            bar.update(1)
        return cache[key][0]

    start = np.array([min(max(to_unit(table[n].value, n), 0.0), 1.0) for n in names])
    before = objective(start)
    result = minimize(objective, start, method="Nelder-Mead", bounds=[(0.0, 1.0)] * len(names),
                      options={"maxfev": max(max_evals - 1, 1), "xatol": 1e-3, "fatol": 1e-3,
                               "initial_simplex": _simplex(start)})
    bar.close()
    best_key = min(cache, key=lambda k: cache[k][0])
    best = {n: to_value(x, n) for n, x in zip(names, best_key, strict=True)}
    del result
    return Calibration(best, before, cache[best_key][0], len(cache), cache[best_key][1])


def _simplex(start: np.ndarray, step: float = 0.25) -> np.ndarray:
    """Initial simplex: the start and one step per axis, towards the middle of the box."""
    points = [start.copy()]
    for i in range(start.size):
        p = start.copy()
        p[i] = p[i] + step if p[i] <= 0.5 else p[i] - step
        points.append(p)
    return np.array(points)


def write_parameter_table(source: str | Path | None, values: Mapping[str, float], out: str | Path,
                          note: str = "calibrated") -> Path:
    """Copy a parameter table with new values for ``values`` (atomically), leaving the source untouched.

    Raises
    ------
    InputError
        ``out`` is the shipped table or the source itself, or a name is not in the table.
    """
    import csv
    import io
    import os

    out = Path(out)
    shipped = resources.files("lactobiome.data").joinpath("parameters.csv")
    text = Path(source).read_text(encoding="utf-8") if source else shipped.read_text(encoding="utf-8")
    protected = {Path(str(shipped)).resolve()} | ({Path(source).resolve()} if source else set())
    if out.resolve() in protected:
        raise InputError(f"{out}: refusing to overwrite the source parameter table; choose another --out")
    rows = list(csv.DictReader(io.StringIO(text)))
    names = {r["name"] for r in rows}
    missing = [n for n in values if n not in names]
    if missing:
        raise InputError(f"not in the parameter table: {', '.join(missing)}")
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0].keys()), lineterminator="\n")
    writer.writeheader()
    for r in rows:
        if r["name"] in values:
            r = {**r, "value": f"{values[r['name']]:.6g}", "note": f"{r['note']} [{note}]".strip()}
        writer.writerow(r)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    tmp.write_text(buffer.getvalue(), encoding="utf-8")
    os.replace(tmp, out)
    return out
