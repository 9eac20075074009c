"""In-silico randomised trials: definitions, the runner, endpoints, analysis and power.

A research and teaching instrument: a simulated trial shows what a design could and could not
detect in the model; it is not evidence for care and gives no medical advice.

* :mod:`~lactobiome.trial.definition` — the YAML schema and the built-in designs;
* :mod:`~lactobiome.trial.runner` — screening, enrolment, allocation, every arm with common
  random numbers;
* :mod:`~lactobiome.trial.endpoints` — each endpoint measured as the trial measured it, the
  model's truth beside it;
* :mod:`~lactobiome.trial.analysis` / :mod:`~lactobiome.trial.results` — per-arm values,
  effects and the paired contrast (SciPy and statsmodels tests);
* :mod:`~lactobiome.trial.power` — power over n per arm;
* :mod:`~lactobiome.trial.output` — the files and the summary.
"""

from lactobiome.trial.definition import TrialDefinition, builtin_names, load_trial, parse_trial

__all__ = ["TrialDefinition", "builtin_names", "load_trial", "parse_trial"]
