"""CPU seconds of one chunk of the default scenario, for interleaved runs of two code versions.

Loads the kernels with a 2-dyad run, then times ``run_chunk`` of dyads ``0 .. dyads-1`` with
``time.process_time`` (this process's CPU, all threads: a shared machine stretches wall time
more than CPU time). Run it alternately with each version's ``src`` on ``PYTHONPATH``:

    NUMBA_NUM_THREADS=1 PYTHONPATH=OLD/src .venv/bin/python benchmarks/chunk_cpu.py --label old
    NUMBA_NUM_THREADS=1 PYTHONPATH=src .venv/bin/python benchmarks/chunk_cpu.py --label new

The CPU per output dyad-day counts the days of this lactation only; the earlier lactation of
the multiparous mothers is simulated too and costs about as many days again;
``--previous-mastitis SHARE`` fixes its prevalence among multiparous mothers instead (the
scenario's ``previous_mastitis_multiparous``), so that no earlier lactation is simulated and the
difference of two runs is its cost.
"""

from __future__ import annotations

import argparse
import os
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dyads", type=int, default=1000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--label", default="run")
    parser.add_argument("--previous-mastitis", type=float, default=None, metavar="SHARE",
                        help="fix the previous-mastitis share of multiparous mothers (no earlier lactation simulated)")
    args = parser.parse_args()

    import numpy as np

    from lactobiome.model.engine import run_chunk
    from lactobiome.scenarios import load_scenario
    from lactobiome.simulation import prepare

    overrides: dict = {"cohort": {"dyads": args.dyads, "days": args.days}}
    if args.previous_mastitis is not None:
        overrides["population"] = {"previous_mastitis_multiparous": args.previous_mastitis}
    scenario = load_scenario("default", overrides)
    parameters, taxa = prepare(scenario)
    run_chunk(scenario, parameters, taxa, np.arange(2))  # load (or compile) the kernels first
    start = time.process_time()
    run_chunk(scenario, parameters, taxa, np.arange(args.dyads))
    cpu = time.process_time() - start
    print(f"{args.label}: {args.dyads} dyads x {args.days} days, {cpu:.3f} CPU s, "
          f"{cpu / (args.dyads * args.days) * 1e6:.2f} CPU-us per output dyad-day, load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    os.environ.setdefault("OMP_WAIT_POLICY", "passive")  # as the lactobiome program sets it
    main()
