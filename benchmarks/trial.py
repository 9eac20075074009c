"""Cost of an in-silico trial: one ``hurtado2017`` at its published size, and a power curve.

Each measurement runs in its own process and prints wall seconds, CPU seconds, peak resident
memory and dyad-days simulated, beside a reference measured in the same run: the plain
simulation (``run_chunk`` of the default scenario, no screening, no endpoints) of as many
dyad-days as the trial simulated, in chunks of the same size. ``x ref`` is the trial's wall
time over the reference's: what screening, the per-arm scenarios, the endpoints and the
analysis add to the simulation itself. No assertions: a benchmark prints.

    .venv/bin/python benchmarks/trial.py [--trial hurtado2017] [--power 25,50,100,150,200] [--replicates 20]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime


def _warm() -> None:
    import numpy as np

    from lactobiome.model.engine import run_chunk
    from lactobiome.scenarios import load_scenario
    from lactobiome.simulation import prepare

    scenario = load_scenario("default", {"cohort": {"dyads": 2, "days": 2}})
    parameters, taxa = prepare(scenario)
    run_chunk(scenario, parameters, taxa, np.arange(2))  # load the compiled kernels first


def _child(task: str, name: str, power: list[int], replicates: int, dyad_days: int, days: int) -> dict:
    _warm()
    start, cpu = time.perf_counter(), _cpu()
    if task == "trial":
        from lactobiome.trials import load_trial
        from lactobiome.trials.results import effects_table
        from lactobiome.trials.runner import run_trial

        run = run_trial(load_trial(name))
        effects_table(run)
        simulated = run.dyad_days
        extra = {"women": int(len(run.screening.dyads)), "screened": run.screening.screened}
    elif task == "power":
        from lactobiome.trials import load_trial
        from lactobiome.trials.power import power_curve

        curve = power_curve(load_trial(name), power, replicates)
        simulated = curve.dyad_days
        extra = {"power": curve.table["power"].round(3).tolist(), "smallest_n": curve.smallest_n}
    else:  # the reference: plain simulation of the same dyad-days
        import numpy as np

        from lactobiome.model.engine import run_chunk
        from lactobiome.scenarios import load_scenario
        from lactobiome.simulation import prepare

        dyads = max(1, round(dyad_days / days))
        scenario = load_scenario("default", {"cohort": {"dyads": dyads, "days": days,
                                                        "seed": 1}, "population": {"previous_mastitis_multiparous": 0.0}})
        parameters, taxa = prepare(scenario)
        for first in range(0, dyads, 500):
            run_chunk(scenario, parameters, taxa, np.arange(first, min(first + 500, dyads)))
        simulated = dyads * days
        extra = {}
    return {"task": task, "seconds": time.perf_counter() - start, "cpu_seconds": _cpu() - cpu,
            "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "dyad_days": simulated, **extra}


def _run(*args: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", *args], check=True, capture_output=True, text=True,
                         env={**os.environ, "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "passive")})
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trial", default="hurtado2017")
    parser.add_argument("--power", default="25,50,100,150,200")
    parser.add_argument("--replicates", type=int, default=20)
    parser.add_argument("--child", nargs=6, metavar=("TASK", "NAME", "POWER", "REPLICATES", "DYAD_DAYS", "DAYS"))
    args = parser.parse_args()
    if args.child:
        task, name, power, replicates, dyad_days, days = args.child
        print(json.dumps(_child(task, name, [int(n) for n in power.split(",")], int(replicates),
                                int(dyad_days), int(days))))
        return
    from lactobiome.trials import load_trial

    horizon = load_trial(args.trial).follow_up_days
    print(f"load average {os.getloadavg()[0]:.2f}; trial {args.trial}, power at n per arm {args.power} "
          f"x {args.replicates} replicates")
    rows = []
    for task in ("trial", "power"):
        result = _run(task, args.trial, args.power, str(args.replicates), "0", str(horizon))
        reference = _run("reference", args.trial, args.power, "1", str(result["dyad_days"]), str(horizon))
        rows.append((result, reference))
    print(f"{'what':<34}{'wall s':>9}{'CPU s':>9}{'peak MiB':>10}{'dyad-days':>12}{'x ref':>8}")
    for result, reference in rows:
        label = (f"{args.trial} at its published size" if result["task"] == "trial"
                 else f"power curve ({len(args.power.split(','))} points)")
        print(f"{label:<34}{result['seconds']:>9.1f}{result['cpu_seconds']:>9.1f}{result['peak_mib']:>10.0f}"
              f"{result['dyad_days']:>12,}{result['seconds'] / reference['seconds']:>8.2f}")
        print(f"{'  reference: plain simulation':<34}{reference['seconds']:>9.1f}{reference['cpu_seconds']:>9.1f}"
              f"{reference['peak_mib']:>10.0f}{reference['dyad_days']:>12,}{1.0:>8.2f}")
        extras = {k: v for k, v in result.items() if k not in ("task", "seconds", "cpu_seconds", "peak_mib",
                                                               "dyad_days")}
        print(f"  {extras}")
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
