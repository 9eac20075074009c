"""The simulation dataset (docs/design.md §9): building it and writing it chunk by chunk, atomically.

Each chunk of dyads is written as a complete NetCDF file in ``<out>.parts/`` (temp file,
then rename), so a killed run keeps every finished chunk and a rerun resumes after them.
When all chunks exist they are streamed into ``<out>`` (again through a temp file): NetCDF
with ``dyad`` as an unlimited dimension, appended part by part so memory holds one chunk,
or Zarr (``.zarr``) by appending along ``dyad``.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import xarray as xr

from lactobiome import __version__
from lactobiome.errors import LactobiomeError
from lactobiome.io.atomic import write_file_atomic
from lactobiome.io.metadata import (
    CONVENTIONS,
    decode_states,
    describe,
    encode_mastitis_state,
    events_attributes,
    global_attributes,
    treatment_attributes,
)
from lactobiome.model.engine import ChunkResult
from lactobiome.model.sites import ORIGINS, SITES
from lactobiome.model.taxa import TaxaCatalogue

_BOOL_ATTRIBUTES = (
    "intrapartum_antibiotics",
    "first_time_mother",
    "previous_mastitis",
    "oversupply",
    "tight_bra",
    "nipple_damage",
    "nipple_fissure",
    "secretor",
    "preterm",
    "maternal_atopy",
    "biofilm_strain",
)
_DISCLAIMER = "Research and teaching model output; not medical advice."


def chunk_dataset(
    result: ChunkResult, taxa: TaxaCatalogue, run_attrs: dict[str, str]
) -> xr.Dataset:
    """The dataset (docs/design.md §9) for one chunk of dyads."""
    n_days = next(iter(result.panel.values())).shape[1]
    coords = {
        "dyad": ("dyad", result.dyad_ids),
        "sample_day": ("sample_day", np.array(result.record_days, dtype=np.int32)),
        "day": ("day", np.arange(1, n_days + 1, dtype=np.int32)),
        "site": ("site", np.array(SITES, dtype=object)),
        "taxon": ("taxon", np.array(taxa.names, dtype=object)),
        "origin": ("origin", np.array(ORIGINS, dtype=object)),
        "genus": ("taxon", taxa["genus"].astype(object)),
        "family": ("taxon", taxa["family"].astype(object)),
    }
    data_vars: dict[str, tuple] = {
        "abundance": (
            ("dyad", "sample_day", "site", "taxon", "origin"),
            result.abundance,
            {"long_name": "live cells by origin", "units": "cells"},
        )
    }
    for name, values in result.attributes.items():
        if name in _BOOL_ATTRIBUTES:
            values = values.astype(bool)
        elif values.dtype == object:
            values = values.astype(str).astype(object)
        data_vars[name] = (("dyad",), values)
    units = {"milk_volume_ml": "mL/day", "milk_bacteria_per_ml": "cells/mL", "milk_staphylococci_per_ml": "cells/mL",
             "hmo_g_per_l": "g/L",
             "siga_g_per_l": "g/L", "somatic_cells_per_ml": "cells/mL"}
    for name, values in result.panel.items():
        data_vars[name] = (("dyad", "day"), *_panel_variable(name, values, units.get(name, "1")))
    ds = xr.Dataset(data_vars, coords=coords)
    describe(ds)
    ds.attrs.update({"title": f"lactobiome simulation: scenario {run_attrs.get('scenario', '?')}",
                     "Conventions": CONVENTIONS})
    ds.attrs.update(run_attrs)
    ds.attrs.setdefault("lactobiome_version", __version__)
    ds.attrs["disclaimer"] = _DISCLAIMER
    # prenatal days ran before day 1 and are not on the day axis; say how many there were
    ds.attrs["pregnancy_days"] = int(result.pregnancy_days)
    return ds


def _panel_variable(name: str, values: np.ndarray, unit: str) -> tuple[np.ndarray, dict]:
    """Engine panel arrays as stored: state codes with their labels (CF flags), flags as booleans,
    bitmasks as small ints (decoded to names by :func:`open_result`)."""
    if name == "mastitis_state":
        return encode_mastitis_state(values)
    if name == "fever":
        return values.astype(bool), {"long_name": "fever", "units": "1",
                                     "description": "inflammation at or above the fever threshold that day"}
    if name == "treatment":
        return values.astype(np.int8), treatment_attributes()
    return values, {"units": unit}


def _encoding(ds: xr.Dataset) -> dict:
    # compress the big abundance array; xarray stores booleans as int8 and decodes them back.
    # No byte shuffle: its runs of zero cells compress faster and smaller without (0.8 s and
    # 61 MiB instead of 1.3 s and 69 MiB per 1,000 dyads x 10 sample days)
    return {"abundance": {"zlib": True, "complevel": 1, "shuffle": False}} if "abundance" in ds else {}


def _write_or_fail(out: Path, writer: Callable[[Path], object]) -> None:
    """Write ``out`` atomically with ``writer``; an OS error becomes a one-line error."""
    try:
        write_file_atomic(out, writer)
    except OSError as exc:
        raise LactobiomeError(
            f"{out}: cannot write ({exc.strerror or exc}); nothing was replaced"
        ) from None


def write_atomic(ds: xr.Dataset, path: Path) -> None:
    """Write ``ds`` as NetCDF to ``path`` through a temp file in the same folder."""

    def write(tmp: Path) -> None:
        ds.to_netcdf(tmp, engine="netcdf4", unlimited_dims=["dyad"], encoding=_encoding(ds))

    _write_or_fail(Path(path), write)


def combine_parts(parts: Sequence[Path], out: Path, history: str | None = None) -> None:
    """Stream chunk files into one result (``.nc`` NetCDF or ``.zarr``), atomically.

    ``history`` (the command that made the result) goes into the file's ``history`` attribute
    with the creation time.
    """
    if Path(out).suffix == ".zarr":
        _combine_zarr(parts, Path(out), history)
        return

    def write(tmp: Path) -> None:
        import netCDF4

        _combine_netcdf(parts, tmp)
        with netCDF4.Dataset(tmp, mode="a") as target:
            scenario = str(target.getncattr("scenario")) if "scenario" in target.ncattrs() else "?"
            target.setncatts({**global_attributes(scenario, history), **events_attributes(Path(out).name)})

    _write_or_fail(Path(out), write)


def _combine_netcdf(parts: Sequence[Path], tmp: Path) -> None:
    """Write the NetCDF file ``tmp`` holding every part's dyads, in order."""
    import netCDF4

    shutil.copyfile(parts[0], tmp)
    raw = _raw_copyable(parts)
    starts = []
    with netCDF4.Dataset(tmp, mode="a") as target:
        start = target.dimensions["dyad"].size
        for part in parts[1:]:
            starts.append(start)
            with netCDF4.Dataset(part, mode="r") as source:
                n = source.dimensions["dyad"].size
                for name, variable in source.variables.items():
                    if name not in raw and variable.dimensions and variable.dimensions[0] == "dyad":
                        target.variables[name][start : start + n] = variable[:]
                start += n
    _append_chunks(tmp, parts[1:], starts, raw, start)


def _chunk_layout(dataset) -> tuple | None:
    """How a compressed dataset along the unlimited ``dyad`` stores its chunks, if one dyad each."""
    if (dataset.chunks is None or dataset.chunks[0] != 1 or dataset.maxshape[0] is not None
            or dataset.compression is None or dataset.dtype.kind not in "biuf"):
        return None
    return (dataset.dtype.str, dataset.shape[1:], dataset.chunks, dataset.compression,
            dataset.compression_opts, dataset.shuffle, dataset.fletcher32, dataset.scaleoffset)


def _raw_copyable(parts: Sequence[Path]) -> set[str]:
    """Compressed variables along ``dyad`` stored alike in every part, one dyad per chunk.

    Their compressed chunks can be copied between files as they are: decompressing and
    compressing the abundance array again took as long as simulating it.
    """
    import h5py

    layouts: dict[str, tuple] = {}
    for i, part in enumerate(parts):
        with h5py.File(part, "r") as source:
            here = {name: _chunk_layout(dataset) for name, dataset in source.items()
                    if isinstance(dataset, h5py.Dataset)}
            layouts = {k: v for k, v in (here if i == 0 else layouts).items()
                       if v is not None and here.get(k) == v}
    return set(layouts)


def _append_chunks(path: Path, parts: Sequence[Path], starts: Sequence[int], names: set[str],
                   total: int) -> None:
    """Append the raw chunks of ``names`` from ``parts`` at dyad offsets ``starts``."""
    if not names or not parts:
        return
    import h5py

    with h5py.File(path, "r+") as target:
        for name in names:
            target[name].resize(total, axis=0)
        for part, start in zip(parts, starts, strict=True):
            with h5py.File(part, "r") as source:
                for name in names:
                    src, dst = source[name].id, target[name].id
                    for i in range(src.get_num_chunks()):
                        offset = src.get_chunk_info(i).chunk_offset
                        mask, data = src.read_direct_chunk(offset)
                        dst.write_direct_chunk((offset[0] + start, *offset[1:]), data, mask)


def _combine_zarr(parts: Sequence[Path], out: Path, history: str | None) -> None:
    try:
        import zarr  # noqa: F401
    except ImportError:
        raise LactobiomeError(
            f"{out}: writing Zarr needs the 'zarr' package (pip install 'lactobiome[zarr]')"
        ) from None

    def write(tmp: Path) -> None:
        for i, part in enumerate(parts):
            with xr.open_dataset(part) as ds:
                if i == 0:
                    ds.attrs.update({**global_attributes(str(ds.attrs.get("scenario", "?")), history),
                                     **events_attributes(out.name)})
                ds.load().to_zarr(
                    tmp, mode="w" if i == 0 else "a", append_dim=None if i == 0 else "dyad"
                )

    _write_or_fail(out, write)


RESULT_DIMENSIONS: dict[str, tuple[str, ...]] = {
    "abundance": ("dyad", "sample_day", "site", "taxon", "origin"),
    "milk_volume_ml": ("dyad", "day"),
}
"""Variables every lactobiome result has, with their dimensions (checked when a result is opened)."""


def check_result(ds: xr.Dataset, origin: str) -> xr.Dataset:
    """``ds`` if it is a lactobiome result, else a one-line error naming what is missing."""
    for name, dims in RESULT_DIMENSIONS.items():
        if name not in ds.variables:
            raise LactobiomeError(f"{origin}: not a lactobiome result (no {name!r} variable; "
                                  "expected the output of 'lactobiome simulate')")
        if tuple(ds[name].dims) != dims:
            raise LactobiomeError(f"{origin}: not a lactobiome result ({name!r} has dimensions "
                                  f"{tuple(ds[name].dims)}, expected {dims})")
    return ds


def open_result(path: str | Path) -> xr.Dataset:
    """Open a simulation result written by ``lactobiome simulate`` (checked to be one)."""
    path = Path(path)
    if not path.exists():
        raise LactobiomeError(f"{path}: no such result")
    try:
        if path.suffix == ".zarr":
            ds = xr.open_zarr(path)
        else:
            ds = xr.open_dataset(path, engine="netcdf4")
    except (OSError, ValueError, KeyError) as exc:
        raise LactobiomeError(f"{path}: not a readable {'Zarr' if path.suffix == '.zarr' else 'NetCDF'} "
                              f"result ({exc})") from None
    try:
        return decode_states(check_result(ds, str(path)))
    except LactobiomeError:
        ds.close()
        raise
