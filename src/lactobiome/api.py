"""The Python API a notebook user calls: ``lactobiome.simulate``, ``observe``, ``validate``.

``lactobiome.track`` is :func:`lactobiome.tracking.core.track` itself (pandas tables in, a
long table of proportions with intervals out). The command line is a thin layer over these
functions. Heavy modules (xarray, pandas, the Numba kernels) are imported when a function
runs, not when ``lactobiome`` is imported.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from lactobiome.errors import InputError, ScenarioError

if TYPE_CHECKING:
    import pandas as pd
    import xarray as xr

    from lactobiome.model.parameters import ParameterTable
    from lactobiome.model.scenario import Scenario
    from lactobiome.observation.design import Design
    from lactobiome.observation.observe import Observation
    from lactobiome.trials.definition import TrialDefinition
    from lactobiome.trials.power import PowerCurve
    from lactobiome.trials.runner import TrialRun

def _scenario(scenario: Scenario | str | Path, dyads: int | None, days: int | None,
              seed: int | None) -> Scenario:
    """A validated scenario with the cohort fields given here in place of its own."""
    from lactobiome.model.scenario import Scenario as ScenarioModel
    from lactobiome.scenarios import load_scenario, parse_scenario

    cohort = {k: v for k, v in (("dyads", dyads), ("days", days), ("seed", seed)) if v is not None}
    overrides = {"cohort": cohort} if cohort else None
    if isinstance(scenario, ScenarioModel):
        return parse_scenario(scenario.model_dump(mode="json"), f"scenario {scenario.name}", overrides)
    if not isinstance(scenario, str | Path):
        raise ScenarioError(f"scenario: expected a built-in name, a YAML path or a Scenario, got {type(scenario).__name__}")
    return load_scenario(str(scenario), overrides)


def _parameters(parameters: ParameterTable | Mapping[str, float] | str | Path | None) -> ParameterTable | None:
    """The base parameter table: shipped, loaded from a CSV file, or shipped with overrides."""
    from lactobiome.model.parameters import ParameterTable as Table
    from lactobiome.model.parameters import load_parameters

    if parameters is None or isinstance(parameters, Table):
        return parameters
    if isinstance(parameters, str | Path):
        return load_parameters(parameters)
    if isinstance(parameters, Mapping):
        values = {str(name): value for name, value in cast(Mapping[str, float], parameters).items()}
        return load_parameters().with_values(values, "parameters")
    raise InputError(f"parameters: expected a ParameterTable, a mapping of name to value or a CSV path, "
                     f"got {type(parameters).__name__}")


def simulate(
    scenario: Scenario | str | Path = "default",
    *,
    dyads: int | None = None,
    days: int | None = None,
    seed: int | None = None,
    parameters: ParameterTable | Mapping[str, float] | str | Path | None = None,
    out: str | Path | None = None,
    workers: int = 1,
    progress: bool | None = False,
    client: Any = None,
) -> xr.Dataset:
    """Simulate a cohort of mother–infant dyads.

    Parameters
    ----------
    scenario
        A built-in scenario name (``lactobiome scenarios`` lists them), a YAML file or a
        :class:`lactobiome.model.scenario.Scenario`.
    dyads, days, seed
        Cohort size, days of life simulated and random seed, in place of the scenario's.
    parameters
        Parameter values: a mapping ``{name: value}`` of overrides of the shipped table, a
        parameter-table CSV file, or a :class:`~lactobiome.model.parameters.ParameterTable`.
        The scenario's own ``parameters:`` section is applied on top.
    out
        Write the result to this ``.nc`` or ``.zarr`` file chunk by chunk (resumable, any
        cohort size) and return it opened lazily; without it the cohort is built in memory.
    workers
        Worker processes when writing to ``out`` (identical results).
    progress
        Show a progress bar (``None``: only on a terminal).
    client
        A ``distributed.Client``: run the chunks as Dask tasks (needs ``out``, on storage the
        workers share; the file is identical to a single-process run's).

    Returns
    -------
    xarray.Dataset
        ``abundance[dyad, sample_day, site, taxon, origin]`` (live cells by origin, the
        model's truth), the daily host panel ``[dyad, day]`` and the dyad attributes.

    Examples
    --------
    >>> import lactobiome as lb
    >>> ds = lb.simulate(dyads=20, days=10, seed=1)
    >>> float(ds["milk_volume_ml"].isel(day=-1).mean()) > 0
    True
    """
    from lactobiome.simulation import simulate_in_memory, simulate_to_file

    validated = _scenario(scenario, dyads, days, seed)
    table = _parameters(parameters)
    if out is None:
        if client is not None:
            raise InputError("simulate(client=...): also give out=, the .nc or .zarr file the Dask workers write")
        return simulate_in_memory(validated, table)
    from lactobiome.io.dataset import open_result

    path = simulate_to_file(validated, Path(out), parameters=table, workers=workers, progress=progress,
                            client=client)
    return open_result(path)


def _dataset(result: xr.Dataset | str | Path) -> xr.Dataset:
    import xarray as xr

    if isinstance(result, xr.Dataset):
        return result
    from lactobiome.io.dataset import open_result

    return open_result(result)


def observe(
    result: xr.Dataset | str | Path,
    design: Design | str = "pannaraj2017",
    *,
    depth: int | None = None,
    contamination: float = 1.0,
    seed: int = 0,
) -> Observation:
    """What a study would have measured on a simulated cohort.

    Parameters
    ----------
    result
        A simulated cohort (:func:`simulate`) or the path of a result file.
    design
        A built-in study design name (``pannaraj2017``, ``milk_infant_metagenomes``), a
        design YAML file or a :class:`~lactobiome.observation.design.Design`.
    depth
        Reads per sample (default: the design's).
    contamination
        Multiplier of kit contaminant DNA per extraction (0: none).
    seed
        Seed of the observation (sampling, extraction, sequencing).

    Returns
    -------
    lactobiome.observation.observe.Observation
        ``counts`` and ``metadata`` in FEAST layout (ready for :func:`track`), blanks,
        cultures, the measured milk panel and ``truth``: the true provenance of every sink.
    """
    from lactobiome.observation import load_design
    from lactobiome.observation import observe as run_observe
    from lactobiome.observation.design import Design as DesignModel

    chosen = design if isinstance(design, DesignModel) else load_design(str(design))
    return run_observe(_dataset(result), chosen, depth=depth, contamination=contamination, seed=seed)


def validate(
    result: xr.Dataset | str | Path | None = None,
    *,
    scenario: Scenario | str | Path = "default",
    dyads: int = 1000,
    days: int = 365,
    seed: int = 1,
    parameters: ParameterTable | Mapping[str, float] | str | Path | None = None,
    bootstrap: int = 200,
) -> pd.DataFrame:
    """Hold the model against the published figures in the targets file.

    Parameters
    ----------
    result
        A simulated cohort or result file to validate; when omitted, the ``scenario`` is
        simulated with ``dyads``, ``days``, ``seed`` and ``parameters`` first.
    bootstrap
        Bootstrap resamples of dyads for each interval (0: none).

    Returns
    -------
    pandas.DataFrame
        One row per target: the published range, the model value with its 95% interval, the
        verdict (``within`` / ``outside`` / ``not modelled`` / ``beyond horizon``) and the reason.
    """
    from lactobiome.validation import validate_dataset

    if result is None:
        return validate_dataset(simulate(scenario, dyads=dyads, days=days, seed=seed, parameters=parameters),
                                n_boot=bootstrap)
    source = None if not isinstance(result, str | Path) else result
    return validate_dataset(_dataset(result), n_boot=bootstrap, source=source)


def trial(
    design: TrialDefinition | str | Path,
    *,
    n_per_arm: int | None = None,
    seed: int | None = None,
    parameters: ParameterTable | Mapping[str, float] | str | Path | None = None,
    paired: bool = True,
    out: str | Path | None = None,
    power: list[int] | None = None,
    replicates: int = 50,
    progress: bool | None = False,
) -> tuple[TrialRun, dict[str, pd.DataFrame], PowerCurve | None]:
    """Run an in-silico randomised trial (research and teaching output, not medical advice).

    Parameters
    ----------
    design
        A built-in design name (``lactobiome trial --list``), a trial YAML file or a
        :class:`~lactobiome.trials.definition.TrialDefinition`.
    n_per_arm
        Women in the smallest arm, in place of the design's.
    seed
        Seed of the model and the allocation, in place of the design's.
    parameters
        As for :func:`simulate`.
    paired
        Simulate every woman under every arm (the within-woman contrast); else only her own arm.
    out
        Also write the tables and the definition to this folder.
    power
        n per arm at which to estimate the primary endpoint's power (``replicates`` trials each).
    progress
        Progress bar (``None``: only on a terminal).

    Returns
    -------
    tuple
        The run (``run.women``: one row per woman and arm simulated), the tables ``arms``,
        ``effects`` and ``paired`` (pandas), and the power curve (or None).

    Examples
    --------
    >>> import lactobiome as lb
    >>> run, tables, _ = lb.trial("hurtado2017", n_per_arm=5)  # doctest: +SKIP
    >>> sorted(tables)  # doctest: +SKIP
    ['arms', 'effects', 'paired']
    """
    from lactobiome.trials.definition import TrialDefinition as Definition
    from lactobiome.trials.definition import load_trial
    from lactobiome.trials.output import write_outputs
    from lactobiome.trials.power import power_curve
    from lactobiome.trials.results import arms_table, effects_table, paired_table
    from lactobiome.trials.runner import run_trial

    chosen = design if isinstance(design, Definition) else load_trial(str(design))
    table = _parameters(parameters)
    run = run_trial(chosen, n_per_arm=n_per_arm, seed=seed, parameters=table, counterfactual=paired,
                    progress=progress)
    curve = (power_curve(chosen, list(power), replicates, seed=seed, parameters=table, progress=progress)
             if power else None)
    if out is not None:
        write_outputs(run, Path(out), curve)
    return run, {"arms": arms_table(run), "effects": effects_table(run), "paired": paired_table(run)}, curve
