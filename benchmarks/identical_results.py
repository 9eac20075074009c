"""Bit-identity check of the simulator across code versions.

``save`` runs several scenarios (default, probiotic, treatment, mixed feeding, antibiotics,
formula) and stores every chunk's abundance and daily panel; it also checks that the
second half of the dyads run as a chunk of its own gives the same abundance. ``compare``
says whether two saved files are identical, array by array (``np.array_equal``).

    PYTHONPATH=OLD/src .venv/bin/python benchmarks/identical_results.py save old.npz
    PYTHONPATH=NEW/src .venv/bin/python benchmarks/identical_results.py save new.npz
    .venv/bin/python benchmarks/identical_results.py compare old.npz new.npz
"""

from __future__ import annotations

import argparse

import numpy as np

SCENARIOS: tuple[tuple[str, int, int], ...] = (
    ("default", 300, 150),
    ("maternal_probiotic", 200, 150),
    ("mastitis_probiotic_treatment", 200, 150),
    ("mixed_feeding", 200, 150),
    ("intrapartum_antibiotics", 200, 120),
    ("formula", 200, 120),
    ("mastitis_antibiotic_treatment", 200, 150),
)
"""(scenario, dyads, days) of each run."""


def save(path: str) -> None:
    from lactobiome.model.engine import run_chunk
    from lactobiome.scenarios import load_scenario
    from lactobiome.simulation import prepare

    arrays: dict[str, np.ndarray] = {}
    for name, dyads, days in SCENARIOS:
        scenario = load_scenario(name, {"cohort": {"dyads": dyads, "days": days}})
        parameters, taxa = prepare(scenario)
        result = run_chunk(scenario, parameters, taxa, np.arange(dyads))
        arrays[f"{name}/abundance"] = result.abundance
        arrays.update({f"{name}/{variable}": values for variable, values in result.panel.items()})
        half = run_chunk(scenario, parameters, taxa, np.arange(dyads // 2, dyads))
        if not np.array_equal(half.abundance, result.abundance[dyads // 2:]):
            raise SystemExit(f"{name}: the second half run as its own chunk differs")
        print(f"{name}: {dyads} dyads x {days} days saved", flush=True)
    np.savez(path, **arrays)  # type: ignore[arg-type]


def compare(first: str, second: str) -> None:
    a, b = np.load(first), np.load(second)
    differ = [key for key in a.files if key not in b.files or not np.array_equal(a[key], b[key], equal_nan=True)]
    print("identical" if not differ else f"differ in {len(differ)} of {len(a.files)} arrays: {differ[:10]}")
    if differ:
        raise SystemExit(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("save").add_argument("out")
    both = commands.add_parser("compare")
    both.add_argument("first")
    both.add_argument("second")
    args = parser.parse_args()
    if args.command == "save":
        save(args.out)
    else:
        compare(args.first, args.second)


if __name__ == "__main__":
    main()
