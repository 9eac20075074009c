"""Moving cells between sites with provenance, and adding cells from outside.

A cell that moves from site A to site B leaves A (all of A's origins lose in proportion)
and enters B tagged with origin A. Cells from outside the dyad (birth inoculum,
environment, probiotic doses) only enter, tagged with their external origin. These two
functions are the only places where provenance tags are created, so every route conserves
what it moves.
"""

from __future__ import annotations

import numpy as np

from lactobiome.model.random import RandomStreams
from lactobiome.model.sites import ORIGIN_INDEX, SITE_INDEX
from lactobiome.model.state import DyadState


def move(
    state: DyadState,
    donor: str,
    receiver: str,
    fraction: np.ndarray,
    rng: RandomStreams,
    process: int,
) -> np.ndarray:
    """Move a random share of the donor's cells to the receiver.

    Parameters
    ----------
    state
        Updated in place.
    donor, receiver
        Site names.
    fraction
        Probability that a donor cell moves today, broadcastable to (dyad, taxon).
    rng, process
        Random streams and this route's process id; the number moved is binomial.

    Returns
    -------
    numpy.ndarray
        Cells moved, shape (dyad, taxon), float64.
    """
    d, r = SITE_INDEX[donor], SITE_INDEX[receiver]
    donor_cells = state.abundance[:, d]  # (dyad, taxon, origin) view
    totals = donor_cells.sum(axis=2, dtype=np.float64)
    probability = np.clip(np.broadcast_to(fraction, totals.shape), 0.0, 1.0)
    moved = rng.thin(state.day, process, totals, probability)
    with np.errstate(invalid="ignore", divide="ignore"):
        keep = np.where(totals > 0.0, 1.0 - moved / totals, 1.0)
    donor_cells *= keep[:, :, None].astype(np.float32)
    state.abundance[:, r, :, ORIGIN_INDEX[donor]] += moved.astype(np.float32)
    return moved


def immigrate(
    state: DyadState,
    receiver: str,
    origin: str,
    expected_cells: np.ndarray,
    rng: RandomStreams,
    process: int,
) -> np.ndarray:
    """Add cells from outside the dyad to a site (Poisson numbers).

    Parameters
    ----------
    expected_cells
        Expected number of arriving cells, broadcastable to (dyad, taxon).

    Returns
    -------
    numpy.ndarray
        Cells added, shape (dyad, taxon).
    """
    shape = (state.n_dyads, state.abundance.shape[2])
    arrived = rng.poisson(state.day, process, np.broadcast_to(expected_cells, shape))
    state.abundance[:, SITE_INDEX[receiver], :, ORIGIN_INDEX[origin]] += arrived.astype(np.float32)
    return arrived
