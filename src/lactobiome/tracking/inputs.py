"""Checks of the tables the tracker takes, shared with the readers in :mod:`lactobiome.io`.

This module belongs to the tracker so that the dependency points one way: the readers and
the command line use the tracker's checks; the tracker never imports :mod:`lactobiome.io`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from lactobiome.errors import InputError

if TYPE_CHECKING:  # numpy/pandas are imported lazily so `import lactobiome.io` stays cheap
    import pandas as pd

__all__ = ["MAX_EXACT_COUNT", "MAX_READS_PER_SAMPLE", "ROLE_ALIASES", "SEED_MODULUS", "check_counts", "stream_seed"]

MAX_EXACT_COUNT = float(2**53)
"""Largest whole number a float64 holds exactly; a larger cell cannot be a read count."""
MAX_READS_PER_SAMPLE = 1e10
"""Most reads one sample can have: a whole NovaSeq X 25B flow cell gives about 2.6e10 reads
(Illumina specification), shared by many samples, so a sample above 1e10 is not a count of
reads (a table of cells, copies or a mistyped value)."""

SEED_MODULUS = 2**64
"""Seeds are taken modulo this (as a 64-bit unsigned word): NumPy's generators refuse negative
entropy, so a negative seed ``s`` names the stream of ``s + 2**64`` (its two's complement)."""

ROLE_ALIASES: dict[str, str] = {"sink": "Sink", "snk": "Sink", "source": "Source", "src": "Source"}
"""``SourceSink`` values (lower case; FEAST's and SourceTracker2's) -> ``"Sink"``/``"Source"``."""


def stream_seed(seed: int) -> int:
    """The non-negative key of the random streams of a run seeded with ``seed``.

    Non-negative seeds below 2**64 are their own key (so results for them are unchanged); a
    negative seed maps to its two's complement as a 64-bit word: deterministic, and distinct
    from every seed a user would type.

    Parameters
    ----------
    seed
        Any integer (``bool`` and non-integers are refused).

    Returns
    -------
    int
        ``seed mod 2**64``.
    """
    import numbers

    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise InputError(f"seed must be an integer, got {seed!r}")
    return int(seed) % SEED_MODULUS


def check_counts(
    frame: pd.DataFrame,
    name: str,
    integer: bool = True,
    first_line: int | None = None,
    lines: Sequence[int] | None = None,
) -> None:
    """Raise :class:`InputError` for negative, NaN, infinite or (optionally) fractional cells.

    Parameters
    ----------
    frame
        Taxa x samples table.
    name
        File name (or label) used in messages.
    integer
        Require whole numbers (read counts).
    first_line
        Line number of the first data row in the file, when the rows stand on consecutive
        lines, to report lines besides taxa.
    lines
        Line number in the file of every row (overrides ``first_line``), for files whose
        rows are not consecutive (blank or comment lines, other ranks in between).
    """
    import numpy as np

    values = frame.to_numpy(dtype=np.float64)

    def where(r: int, c: int) -> str:
        taxon = frame.index[r]
        if lines is not None:
            line = f"line {lines[r]} "
        elif first_line is not None:
            line = f"line {first_line + r} "
        else:
            line = ""
        return f"{name}: {line}(taxon {taxon!r}), sample {frame.columns[c]!r}"

    bad = ~np.isfinite(values)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise InputError(f"{where(r, c)}: missing or non-finite value, expected a count")
    bad = values < 0
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise InputError(f"{where(r, c)}: negative value {values[r, c]:g}, expected a count >= 0")
    bad = values > MAX_EXACT_COUNT
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise InputError(f"{where(r, c)}: {values[r, c]:g} is too large for a read count "
                         f"(above 2^53 = {MAX_EXACT_COUNT:.3g})")
    depth = values.sum(axis=0)
    if integer and (depth > MAX_READS_PER_SAMPLE).any():
        c = int(np.argmax(depth > MAX_READS_PER_SAMPLE))
        r = int(np.argmax(values[:, c]))
        raise InputError(f"{name}: sample {frame.columns[c]!r} has {depth[c]:.3g} reads (largest cell: "
                         f"taxon {frame.index[r]!r}, {values[r, c]:.3g}); no sequencing run gives one sample "
                         f"more than {MAX_READS_PER_SAMPLE:.0e} reads, so this is not a read count")
    if integer:
        bad = values != np.round(values)
        if bad.any():
            r, c = np.argwhere(bad)[0]
            raise InputError(
                f"{where(r, c)}: {values[r, c]:g} is not a whole number; read counts are "
                "required (for relative abundances use --relative / read_metaphlan)"
            )
