"""Moving cells between sites with provenance, and adding cells from outside.

A cell that moves from site A to site B leaves A (all of A's origins lose in proportion)
and enters B tagged with origin A. Cells from outside the dyad (birth inoculum,
environment, probiotic doses) only enter, tagged with their external origin. These two
functions are the only places where provenance tags are created, so every route conserves
what it moves.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from lactobiome.model.random import RandomStreams, stream_key, thin_one
from lactobiome.model.sites import ORIGIN_INDEX, SITE_INDEX
from lactobiome.model.state import DyadState


@njit(cache=True, parallel=True)
def _move_kernel(abundance, donor, receiver, origin, probability, seed, dyad_ids, day, process, moved):
    n_taxa = abundance.shape[2]
    n_origins = abundance.shape[3]
    for i in prange(abundance.shape[0]):
        key = stream_key(np.uint64(seed), np.uint64(dyad_ids[i]), np.uint64(day), np.uint64(process))
        for t in range(n_taxa):
            total = 0.0
            for o in range(n_origins):
                total += abundance[i, donor, t, o]
            m = thin_one(key, np.uint64(t), total, probability[i, t])
            moved[i, t] = m
            if m > 0.0:
                keep = np.float32(1.0 - m / total)
                for o in range(n_origins):
                    abundance[i, donor, t, o] *= keep
                abundance[i, receiver, t, origin] += np.float32(m)


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
    shape = (state.n_dyads, state.abundance.shape[2])
    probability = np.ascontiguousarray(np.clip(np.broadcast_to(fraction, shape), 0.0, 1.0), dtype=np.float64)
    moved = np.empty(shape)
    _move_kernel(state.abundance, SITE_INDEX[donor], SITE_INDEX[receiver], ORIGIN_INDEX[donor],
                 probability, rng.seed, rng.dyad_ids, state.day, process, moved)
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
