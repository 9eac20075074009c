"""Write an :class:`~lactobiome.observation.Observation` as the files a study would share."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from lactobiome.io import TABLE_FLOAT_FORMAT
from lactobiome.io.atomic import write_text_atomic

if TYPE_CHECKING:
    import pandas as pd

    from lactobiome.observation import Observation


def _feast_counts(counts: pd.DataFrame) -> str:
    frame = counts.astype(np.int64)
    frame.index.name = "taxon"
    return frame.to_csv(sep="\t", lineterminator="\n")


def biom_json(counts: pd.DataFrame, table_id: str, taxonomy: dict[str, list[str]] | None = None) -> str:
    """A JSON BIOM 1.0 table (sparse) of a taxa x samples count frame.

    Parameters
    ----------
    counts
        Taxa x samples counts.
    table_id
        The table's ``id``.
    taxonomy
        Optional taxon -> taxonomy list, written as observation metadata.

    Returns
    -------
    str
        The JSON text.
    """
    values = counts.to_numpy(dtype=np.float64)
    rows, cols = np.nonzero(values)
    doc = {
        "id": table_id,
        "format": "Biological Observation Matrix 1.0.0",
        "format_url": "http://biom-format.org",
        "type": "OTU table",
        "generated_by": "lactobiome observe",
        "date": "",
        "rows": [
            {"id": str(t), "metadata": {"taxonomy": taxonomy[t]} if taxonomy else None}
            for t in counts.index
        ],
        "columns": [{"id": str(s), "metadata": None} for s in counts.columns],
        "matrix_type": "sparse",
        "matrix_element_type": "int",
        "shape": [int(values.shape[0]), int(values.shape[1])],
        "data": [[int(r), int(c), int(values[r, c])] for r, c in zip(rows, cols, strict=True)],
    }
    return json.dumps(doc)


OBSERVATION_FILES: frozenset[str] = frozenset({
    "counts.txt", "metadata.txt", "table.biom", "blanks.txt", "truth.tsv", "culture.tsv", "panel.tsv", "relative.tsv"})
"""Every file :func:`write_observation` may write."""


def write_observation(obs: Observation, out: Path, taxonomy: dict[str, list[str]] | None = None) -> list[Path]:
    """Write every table of ``obs`` into the folder ``out``, each file atomically.

    Files: ``counts.txt`` (FEAST), ``metadata.txt`` (FEAST/SourceTracker2 mapping),
    ``table.biom`` (JSON BIOM 1.0), ``blanks.txt``, ``truth.tsv`` (``track``'s long format),
    ``culture.tsv``, ``panel.tsv`` and, for shotgun designs, ``relative.tsv``.

    Returns
    -------
    list of Path
        The files written.
    """
    out = Path(out)
    written: list[tuple[str, str]] = [
        ("counts.txt", _feast_counts(obs.counts)),
        ("metadata.txt", obs.metadata.to_csv(sep="\t", lineterminator="\n", float_format=TABLE_FLOAT_FORMAT)),
        ("table.biom", biom_json(obs.counts, f"lactobiome observe {obs.design}", taxonomy)),
        ("blanks.txt", _feast_counts(obs.blanks)),
        ("truth.tsv", obs.truth.to_csv(sep="\t", index=False, lineterminator="\n", float_format=TABLE_FLOAT_FORMAT)),
        ("culture.tsv", obs.culture.to_csv(sep="\t", lineterminator="\n", float_format=TABLE_FLOAT_FORMAT)),
        ("panel.tsv", obs.panel.to_csv(sep="\t", index=False, lineterminator="\n", float_format=TABLE_FLOAT_FORMAT)),
    ]
    if obs.relative is not None:
        written.append(("relative.tsv", obs.relative.to_csv(sep="\t", lineterminator="\n",
                                                                float_format=TABLE_FLOAT_FORMAT)))
    paths = []
    for name, text in written:
        write_text_atomic(text, out / name)
        paths.append(out / name)
    # a folder reused from an earlier observation keeps none of that run's tables (e.g. the
    # relative.tsv of a shotgun design after a 16S one); files that are not ours stay
    for name in OBSERVATION_FILES - {name for name, _ in written}:
        (out / name).unlink(missing_ok=True)
    return paths
