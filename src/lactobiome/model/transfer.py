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
def _move_kernel(abundance, donors, receivers, origins, probability, seed, dyad_ids, day, processes, moved):
    n_taxa = abundance.shape[2]
    n_origins = abundance.shape[3]
    for i in prange(abundance.shape[0]):
        # routes are applied in their given order within each dyad, so one call over many
        # routes gives exactly what one call per route would
        for r in range(donors.shape[0]):
            donor = donors[r]
            receiver = receivers[r]
            key = stream_key(np.uint64(seed), np.uint64(dyad_ids[i]), np.uint64(day), np.uint64(processes[r]))
            for t in range(n_taxa):
                p = probability[r, i, t]
                if p <= 0.0:
                    moved[r, i, t] = 0.0
                    continue
                total32 = np.float32(0.0)
                for o in range(n_origins):
                    total32 += abundance[i, donor, t, o]
                total = np.float64(total32)
                m = thin_one(key, np.uint64(t), total, p)
                moved[r, i, t] = m
                if m > 0.0:
                    keep = np.float32(1.0 - m / total)
                    for o in range(n_origins):
                        abundance[i, donor, t, o] *= keep
                    abundance[i, receiver, t, origins[r]] += np.float32(m)


class Moves:
    """Routes collected during a process and applied together in one pass over the batch.

    Each route moves a random share of the donor's cells to the receiver (see :func:`move`);
    routes act in the order they were added, exactly as successive :func:`move` calls would.
    """

    def __init__(self, state: DyadState, rng: RandomStreams) -> None:
        self.state = state
        self.rng = rng
        self._routes: list[tuple[int, int, int, np.ndarray, int]] = []

    def add(self, donor: str, receiver: str, fraction: np.ndarray, process: int) -> None:
        """Queue a route; ``fraction`` is broadcastable to (dyad, taxon)."""
        shape = (self.state.n_dyads, self.state.abundance.shape[2])
        probability = np.clip(np.broadcast_to(fraction, shape), 0.0, 1.0)
        self._routes.append(
            (SITE_INDEX[donor], SITE_INDEX[receiver], ORIGIN_INDEX[donor], probability, process)
        )

    def apply(self) -> np.ndarray:
        """Apply the queued routes; cells moved by each, shape (route, dyad, taxon)."""
        state = self.state
        shape = (len(self._routes), state.n_dyads, state.abundance.shape[2])
        moved = np.zeros(shape)
        if self._routes:
            donors, receivers, origins, probabilities, processes = zip(*self._routes, strict=True)
            _move_kernel(
                state.abundance,
                np.array(donors, dtype=np.int64),
                np.array(receivers, dtype=np.int64),
                np.array(origins, dtype=np.int64),
                np.ascontiguousarray(np.stack(probabilities)),
                self.rng.seed,
                self.rng.dyad_ids,
                state.day,
                np.array(processes, dtype=np.int64),
                moved,
            )
        self._routes.clear()
        return moved


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
    moves = Moves(state, rng)
    moves.add(donor, receiver, fraction, process)
    return moves.apply()[0]


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
