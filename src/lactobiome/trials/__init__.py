"""In-silico randomised trials: definitions, the runner, endpoints, analysis and power.

A research and teaching instrument: a simulated trial shows what a design could and could not
detect in the model; it is not evidence for care and gives no medical advice.

* :mod:`~lactobiome.trials.definition` — the YAML schema and the built-in designs;
* :mod:`~lactobiome.trials.runner` — screening, enrolment, allocation, every arm with common
  random numbers;
* :mod:`~lactobiome.trials.endpoints` — each endpoint measured as the trial measured it, the
  model's truth beside it;
* :mod:`~lactobiome.trials.analysis` / :mod:`~lactobiome.trials.results` — per-arm values,
  effects and the paired contrast (SciPy and statsmodels tests);
* :mod:`~lactobiome.trials.power` — power over n per arm;
* :mod:`~lactobiome.trials.output` — the files and the summary.
"""

from lactobiome.trials.definition import TrialDefinition, builtin_names, load_trial, parse_trial

__all__ = ["TrialDefinition", "builtin_names", "load_trial", "parse_trial"]
