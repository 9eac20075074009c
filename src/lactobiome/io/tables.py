"""Readers for the count tables and metadata that source-tracking users already have.

Supported layouts
-----------------
* **FEAST** count table: tab-separated, taxa in rows, samples in columns, first column the
  taxon ids (the header may omit the first column's name, as R's ``write.table`` does).
* **FEAST** metadata: ``SampleID``, ``Env``, ``SourceSink`` and optionally ``id``.
* **SourceTracker2** BIOM tables: HDF5 (BIOM 2.x) and JSON (BIOM 1.0), dense or sparse.
* **SourceTracker2 / QIIME classic** tables: a ``# Constructed from biom file`` comment line,
  then ``#OTU ID`` and one column per sample (an optional ``taxonomy`` column is dropped).
* **SourceTracker2** mapping files: ``#SampleID``, ``SourceSink`` (or ``source-or-sink``),
  ``Env`` (or ``sample-type``).
* **MetaPhlAn** relative abundances (percent, all ranks): only species rows (``s__`` with no
  ``t__``) are kept and each sample is returned as proportions summing to 1.

Taxon ids that are lineages (``k__Bacteria|p__...|s__...``) do not make a table MetaPhlAn:
:func:`detect_format` reads a table as MetaPhlAn only when it has MetaPhlAn's header (a
``#mpa_v...`` line or a ``clade_name`` column) or its values are percentages of nested
ranks summing to 100 per sample. Whole-number counts with one row per taxon are a FEAST
count table, every row kept; anything in between is refused (say which with ``fmt``).

Every reader raises :class:`lactobiome.errors.InputError` with a one-line message naming the
file and the row, sample or field at fault. Unix, Windows (CRLF) and classic Mac OS (bare
CR) line endings are all read: SourceTracker2's own tiny-test ``map.txt`` ends its lines in a
bare CR. Binary data (a NUL byte, a compressed file's signature) is refused as such.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from lactobiome.errors import InputError
from lactobiome.tracking.inputs import ROLE_ALIASES, check_counts

if TYPE_CHECKING:  # numpy/pandas are imported lazily so `import lactobiome.io` stays cheap
    import numpy as np
    import pandas as pd

__all__ = [
    "check_counts",
    "detect_format",
    "read_biom",
    "read_classic_table",
    "read_counts",
    "read_feast_counts",
    "read_metadata",
    "read_metaphlan",
]

_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


_BINARY_PROBE = 8192
"""Bytes looked at to tell binary data (a NUL byte) from a text table."""


def _read_text(path: str | Path) -> str:
    """Read a text table: UTF-8, any line endings (Unix, Windows or old Mac OS bare CR).

    Binary data (a NUL byte among the first bytes, as in compressed or random files) is
    refused with a one-line message rather than read as text.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, expected a table file") from None
    if not raw.strip():
        raise InputError(f"{path}: file is empty")
    if b"\0" in raw[:_BINARY_PROBE] or raw.startswith((b"\x1f\x8b", b"PK\x03\x04", b"BZh")):
        raise InputError(f"{path}: binary data, not a text table (compressed? decompress it first)")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].replace(b"\r\n", b"\n").replace(b"\r", b"\n").count(b"\n") + 1
        raise InputError(f"{path}: line {line}: not UTF-8 text") from None
    # SourceTracker2's own tiny-test map.txt ends its lines in a bare CR (old Mac OS)
    return text.replace("\r\n", "\n").replace("\r", "\n")


_MPA_HEADER_CELLS = ("clade_name", "#clade_name")
_LINEAGE = re.compile(r"^[kd]__")  # k__Bacteria (MetaPhlAn, Greengenes), d__ (GTDB, SILVA)
_HEAD_LINES = 32
"""Lines read to tell a text table's layout (headers, then the first taxon ids)."""
_PERCENT_TOLERANCE = 1.0
"""How far from 100 a sample's top-rank percentages may sum in a MetaPhlAn profile (rounding
of the printed values; MetaPhlAn 4's merged tables reach 100.11)."""
_FORMAT_HELP = (
    "expected a FEAST count table (one row per taxon, whole-number read counts) or a MetaPhlAn "
    "profile (a '#mpa_v...' line or a 'clade_name' header, percentages summing to 100 per "
    "sample); say which with --format feast or --format metaphlan"
)


def detect_format(path: str | Path) -> str:
    """Tell the layout of a count table from its first bytes and, where needed, its values.

    Parameters
    ----------
    path
        The table file.

    Returns
    -------
    str
        One of ``"biom-hdf5"``, ``"biom-json"``, ``"classic"``, ``"metaphlan"``, ``"feast"``.
        A text table is MetaPhlAn when it has MetaPhlAn's header (a ``#mpa`` line or a
        ``clade_name`` column; its samples must then sum to at most 100 percent) or, without
        that header, when its taxon ids are lineages at nested ranks whose top rank sums to
        100 percent per sample. A table with lineage ids and whole-number values, one row per
        taxon, is a FEAST count table.

    Raises
    ------
    InputError
        If the file is missing, or the taxon ids are lineages and the table is neither of the
        two (nested ranks of read counts, fractions without MetaPhlAn's header, ...).
    """
    path = Path(path)
    try:
        with path.open("rb") as fh:
            head = fh.read(4096)
            fh.seek(0)
            # whole lines: a header naming hundreds of samples is longer than the head
            first_lines = [fh.readline(1 << 20) for _ in range(_HEAD_LINES)]
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, expected a table file") from None
    if head.startswith(_HDF5_MAGIC):
        return "biom-hdf5"
    stripped = head.lstrip()
    if stripped.startswith(b"{"):
        return "biom-json"
    first = stripped.split(b"\n", 1)[0].strip()
    if first.startswith(b"# Constructed") or first.startswith(b"#OTU ID"):
        return "classic"
    mpa_header = False
    lines = [ln.rstrip(b"\r\n") for ln in first_lines if ln.strip()]
    while lines and lines[0].startswith(b"#") and not _is_mpa_header(lines[0]):
        mpa_header |= lines.pop(0).startswith(b"#mpa")  # MetaPhlAn's database line
    mpa_header |= bool(lines) and _is_mpa_header(lines[0])
    lineage = any(_LINEAGE.match(ln.decode("utf-8", "replace")) for ln in lines[1:])
    if not mpa_header and not lineage:
        return "feast"
    return _classify_lineage_table(path, mpa_header)


def _is_mpa_header(line: bytes | str) -> bool:
    """Whether ``line`` is MetaPhlAn's column header (first cell ``clade_name``)."""
    if isinstance(line, bytes):
        line = line.decode("utf-8", "replace")
    return line.split("\t", 1)[0].strip().lower() in _MPA_HEADER_CELLS


def _classify_lineage_table(path: Path, mpa_header: bool) -> str:
    """``"metaphlan"`` or ``"feast"`` for a table with MetaPhlAn's header or lineage ids.

    A MetaPhlAn profile lists every rank: each lineage's parent is a row too and holds at
    least the sum of its children. A count table with lineage ids has one row per taxon
    (some resolved to species, some only to a genus), so its parents are not all rows.
    """
    import numpy as np

    _, rows = _parse_tsv_rows(_read_text(path), path)
    skip = 0
    while skip < len(rows) and rows[skip][0].startswith("#") and not _is_mpa_header(rows[skip][0]):
        skip += 1
    body = rows[skip + 1 :]
    if not body:
        return "metaphlan" if mpa_header else "feast"  # the readers say what is missing
    taxa = [fields[0].strip() for fields in body]
    example = next((t for t in taxa if _LINEAGE.match(t)), taxa[0])
    parsed = _fast_values(body, len(body[0]) - 1)
    if parsed is None:
        if mpa_header:
            return "metaphlan"  # read_metaphlan names the cell at fault
        raise InputError(
            f"{path}: cannot tell the layout: taxon ids are lineages ({example!r}) but the rows "
            f"are not all numbers of equal length; {_FORMAT_HELP}"
        )
    values = parsed[1]
    finite = bool(np.isfinite(values).all())
    depth = np.array([t.count("|") for t in taxa])
    top = values[depth == depth.min()].sum(axis=0)
    if mpa_header:
        over = top > 100.0 + _PERCENT_TOLERANCE
        if finite and over.any():
            header = rows[skip][1:]
            k = int(np.argmax(over))
            name = header[k].strip() if k < len(header) else f"column {k + 2}"
            raise InputError(
                f"{path}: the header is MetaPhlAn's but sample {name!r} sums to {top[k]:g} at "
                f"its top rank, not to at most 100 percent; {_FORMAT_HELP}"
            )
        return "metaphlan"
    all_ranks = finite and _is_rank_tree(taxa, values)
    whole = finite and bool((values == np.round(values)).all())
    percent = finite and bool(((np.abs(top - 100.0) <= _PERCENT_TOLERANCE) | (top == 0.0)).all())
    if all_ranks and percent:
        return "metaphlan"  # every rank, percentages: a MetaPhlAn profile without its header
    if not all_ranks and whole:
        return "feast"
    if not all_ranks and finite and all(t.rsplit("|", 1)[-1].startswith("s__") for t in taxa):
        return "metaphlan"  # species-only percentages: either reading keeps every row
    if all_ranks:
        reason = (
            "the rows form a tree of ranks (each lineage's parent is a row too), so a read would "
            "count once per rank, and the top rank does not sum to 100 percent per sample"
        )
    else:
        reason = "the values are not whole-number read counts and there is no MetaPhlAn header"
    raise InputError(
        f"{path}: cannot tell the layout: taxon ids are lineages ({example!r}) but {reason}; "
        f"{_FORMAT_HELP}"
    )


def _is_rank_tree(taxa: list[str], values: np.ndarray) -> bool:
    """Whether every lineage's parent is a row holding at least the sum of its children."""
    import numpy as np

    row = {t: i for i, t in enumerate(taxa)}
    children = np.zeros_like(values)
    nested = False
    for i, t in enumerate(taxa):
        if "|" not in t:
            continue
        parent = row.get(t.rsplit("|", 1)[0])
        if parent is None:
            return False
        nested = True
        children[parent] += values[i]
    slack = 1e-2 + 1e-6 * np.abs(values)  # percentages printed to a few decimals
    return nested and bool((values + slack >= children).all())


def _parse_tsv_rows(text: str, path: Path) -> tuple[list[int], list[list[str]]]:
    """Split a tab-separated text into rows, skipping blank lines.

    Returns
    -------
    tuple
        The line number in the file of each row (from 1), and the rows' fields.
    """
    numbers: list[int] = []
    rows: list[list[str]] = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        numbers.append(number)
        rows.append(line.split("\t"))
    if not rows:
        raise InputError(f"{path}: no rows")
    return numbers, rows


def _frame_from_rows(
    header: list[str], body: list[list[str]], path: Path, lines: Sequence[int], integer: bool
) -> pd.DataFrame:
    """Build a taxa x samples float frame, checking every cell.

    ``lines`` holds the line number in the file of each row of ``body``, for messages.
    """
    import numpy as np
    import pandas as pd

    samples = [h.strip() for h in header]
    if not samples:
        raise InputError(f"{path}: header has no sample columns")
    for i, s in enumerate(samples):
        if not s:
            raise InputError(f"{path}: header column {i + 2} has an empty sample id")
    _check_duplicates(samples, path, "sample id")
    n = len(samples)
    fast = _fast_values(body, n)
    if fast is not None:  # well-formed table: C parser, then cell checks below
        taxa_fast, values_fast = fast
        _check_duplicates(taxa_fast, path, "taxon id")
        frame = pd.DataFrame(values_fast, index=pd.Index(taxa_fast, name="taxon"), columns=samples)
        check_counts(frame, str(path), integer=integer, lines=lines)
        return frame
    taxa: list[str] = []
    values = np.empty((len(body), n), dtype=np.float64)
    for r, fields in enumerate(body):
        line_no = lines[r]
        taxon = fields[0].strip()
        cells = fields[1:]
        # tolerate one trailing empty cell (a trailing tab)
        if len(cells) == n + 1 and not cells[-1].strip():
            cells = cells[:-1]
        if len(cells) != n:
            raise InputError(
                f"{path}: line {line_no} (taxon {taxon!r}): {len(cells)} values, "
                f"expected {n} (one per sample in the header)"
            )
        if not taxon:
            raise InputError(f"{path}: line {line_no}: empty taxon id")
        taxa.append(taxon)
        try:
            values[r] = [float(c) if c.strip() else np.nan for c in cells]
        except ValueError:
            bad = next(c for c in cells if not _is_float(c))
            col = samples[cells.index(bad)]
            raise InputError(
                f"{path}: line {line_no} (taxon {taxon!r}), sample {col!r}: "
                f"{bad.strip()!r} is not a number"
            ) from None
    _check_duplicates(taxa, path, "taxon id")
    frame = pd.DataFrame(values, index=pd.Index(taxa, name="taxon"), columns=samples)
    check_counts(frame, str(path), integer=integer, lines=lines)
    return frame


def _fast_values(body: list[list[str]], n: int) -> tuple[list[str], np.ndarray] | None:
    """Parse numeric cells with pandas' C reader; None if anything looks irregular."""
    import numpy as np
    import pandas as pd

    text = "\n".join("\t".join(fields) for fields in body)
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep="\t",
            header=None,
            index_col=False,
            dtype={0: str},
            na_filter=True,
            engine="c",
        )
    except (ValueError, pd.errors.ParserError):
        return None
    if frame.shape[1] == n + 2 and frame.iloc[:, -1].isna().all():
        frame = frame.iloc[:, :-1]
    if frame.shape != (len(body), n + 1):
        return None
    values = frame.iloc[:, 1:]
    if not all(pd.api.types.is_numeric_dtype(dt) for dt in values.dtypes):
        return None
    taxa = [str(t).strip() for t in frame.iloc[:, 0]]
    if any(not t or t == "nan" for t in taxa):
        return None
    return taxa, values.to_numpy(dtype=np.float64)


def _is_float(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def _check_duplicates(names: list[str], path: Path | str, what: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise InputError(f"{path}: duplicate {what} {name!r}")
        seen.add(name)


def read_feast_counts(path: str | Path, integer: bool = True) -> pd.DataFrame:
    """Read a FEAST count table (taxa in rows, samples in columns).

    Parameters
    ----------
    path
        Tab-separated file. The header lists the sample ids, with or without a leading name
        for the taxon column.
    integer
        Require whole-number counts.

    Returns
    -------
    pandas.DataFrame
        Float counts, index = taxon ids, columns = sample ids.
    """
    path = Path(path)
    lines, rows = _parse_tsv_rows(_read_text(path), path)
    header, body = rows[0], rows[1:]
    if not body:
        raise InputError(f"{path}: header only, no taxon rows")
    width = len(body[0])
    if header and not header[-1].strip() and len(header) > 1:
        header = header[:-1]  # trailing tab after the last sample id
    if len(header) == width - 1:
        samples = header  # R write.table layout: no name for the row-name column
    elif len(header) == width:
        samples = header[1:]
    else:
        raise InputError(
            f"{path}: line {lines[1]}: {width} fields but the header has {len(header)}; expected "
            "the header to list every sample (with or without a taxon column name)"
        )
    return _frame_from_rows(samples, body, path, lines[1:], integer=integer)


def read_classic_table(path: str | Path, integer: bool = True) -> pd.DataFrame:
    """Read a classic (QIIME 1 / SourceTracker2) tab table with a ``#OTU ID`` header.

    Parameters
    ----------
    path
        The table file.
    integer
        Require whole-number counts (``12.0`` counts as whole).

    Returns
    -------
    pandas.DataFrame
        Taxa x samples float counts.
    """
    path = Path(path)
    text = _read_text(path)
    lines = text.split("\n")
    start = None
    for i, line in enumerate(lines):
        if line.startswith("#OTU ID"):
            start = i
            break
    if start is None:
        raise InputError(f"{path}: no '#OTU ID' header line; expected a classic BIOM tab table")
    header = lines[start].split("\t")[1:]
    drop_last = bool(header) and header[-1].strip().lower() in ("taxonomy", "metadata")
    if drop_last:
        header = header[:-1]
    body = []
    numbers = []
    for number, line in enumerate(lines[start + 1 :], start=start + 2):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if drop_last and len(fields) == len(header) + 2:
            fields = fields[:-1]
        body.append(fields)
        numbers.append(number)
    if not body:
        raise InputError(f"{path}: no taxon rows after the '#OTU ID' header")
    return _frame_from_rows(header, body, path, numbers, integer=integer)


def read_biom(path: str | Path, integer: bool = True) -> pd.DataFrame:
    """Read a BIOM table, HDF5 (format 2.x) or JSON (format 1.0).

    Parameters
    ----------
    path
        The ``.biom`` file.
    integer
        Require whole-number counts.

    Returns
    -------
    pandas.DataFrame
        Taxa (observations) x samples float counts.
    """
    import numpy as np
    import pandas as pd

    path = Path(path)
    fmt = detect_format(path)
    if fmt == "biom-hdf5":
        obs, samples, dense = _read_biom_hdf5(path)
    elif fmt == "biom-json":
        try:
            doc = json.loads(_read_text(path))
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}: line {exc.lineno}: invalid JSON ({exc.msg})") from None
        for key in ("rows", "columns", "data", "shape"):
            if key not in doc:
                raise InputError(f"{path}: JSON BIOM lacks the {key!r} field")
        obs = [str(r["id"]) for r in doc["rows"]]
        samples = [str(c["id"]) for c in doc["columns"]]
        shape = tuple(doc["shape"])
        if shape != (len(obs), len(samples)):
            raise InputError(f"{path}: 'shape' {list(shape)} does not match rows x columns")
        if doc.get("matrix_type", "sparse") == "dense":
            try:
                dense = np.asarray(doc["data"], dtype=np.float64)
            except (ValueError, TypeError):  # ragged rows or non-numbers
                raise InputError(f"{path}: dense 'data' is not a {shape[0]} x {shape[1]} table of numbers") from None
            if dense.shape != shape:
                raise InputError(f"{path}: dense 'data' is not {shape[0]} x {shape[1]}")
        else:
            dense = np.zeros(shape, dtype=np.float64)
            for k, entry in enumerate(doc["data"]):
                try:
                    r, c, v = entry
                    dense[int(r), int(c)] += float(v)
                except (ValueError, TypeError, IndexError):
                    raise InputError(
                        f"{path}: data entry {k}: expected [row, column, value] in range"
                    ) from None
    else:
        raise InputError(f"{path}: not a BIOM file (neither HDF5 nor JSON)")
    _check_duplicates(obs, path, "observation id")
    _check_duplicates(samples, path, "sample id")
    frame = pd.DataFrame(dense, index=pd.Index(obs, name="taxon"), columns=samples)
    check_counts(frame, str(path), integer=integer)
    return frame


def _decode(x: bytes | str) -> str:
    return x.decode("utf-8") if isinstance(x, bytes) else str(x)


_BIOM_IDS = ("observation/ids", "sample/ids")
_BIOM_MATRIX = ("observation/matrix/data", "observation/matrix/indices", "observation/matrix/indptr")


def _read_biom_hdf5(path: Path) -> tuple[list[str], list[str], np.ndarray]:
    """Observation ids, sample ids and the dense counts of a BIOM 2 (HDF5) file, checked.

    The matrix is stored as compressed sparse rows (``observation/matrix``): ``indptr`` (one
    more than the observations, from 0, non-decreasing, ending at the number of entries),
    ``indices`` (sample column of each entry) and ``data`` (the entry's count). A file whose
    arrays disagree is refused naming the array, rather than read into a wrong table.
    """
    import h5py
    import numpy as np

    try:
        with h5py.File(path, "r") as f:
            arrays = {key: np.asarray(f[key][()]) for key in (*_BIOM_IDS, *_BIOM_MATRIX)}
    except KeyError as exc:
        raise InputError(f"{path}: BIOM HDF5 file lacks {exc.args[0]}") from None
    except (OSError, TypeError, ValueError) as exc:
        raise InputError(f"{path}: unreadable HDF5 file ({exc})") from None
    for key, values in arrays.items():
        if values.ndim != 1:
            raise InputError(f"{path}: {key} is not a one-dimensional array (shape {values.shape})")
    ids: dict[str, list[str]] = {}
    for key in _BIOM_IDS:
        try:
            ids[key] = [_decode(x) for x in arrays[key]]
        except UnicodeDecodeError:
            raise InputError(f"{path}: {key} holds an id that is not UTF-8 text") from None
    data, indices, indptr = (arrays[key] for key in _BIOM_MATRIX)
    if data.dtype.kind not in "biuf":
        raise InputError(f"{path}: observation/matrix/data holds {data.dtype} values, expected numbers")
    for key, values in (("indices", indices), ("indptr", indptr)):
        if values.dtype.kind not in "iu":
            raise InputError(f"{path}: observation/matrix/{key} holds {values.dtype} values, expected integers")
    n_obs, n_samples = len(ids["observation/ids"]), len(ids["sample/ids"])
    if len(indptr) != n_obs + 1:
        raise InputError(f"{path}: observation/matrix/indptr has the wrong length "
                         f"({len(indptr)}, expected {n_obs + 1} for {n_obs} observations)")
    if indptr[0] != 0 or (np.diff(indptr) < 0).any() or indptr[-1] != len(data) or len(indices) != len(data):
        raise InputError(f"{path}: observation/matrix indptr, indices and data disagree "
                         f"({len(data)} values, {len(indices)} column indices, indptr from {indptr[0]} to {indptr[-1]})")
    if len(indices) and (indices.min() < 0 or indices.max() >= n_samples):
        raise InputError(f"{path}: observation/matrix/indices: a column index outside 0-{n_samples - 1}")
    dense = np.zeros((n_obs, n_samples), dtype=np.float64)
    rows = np.repeat(np.arange(n_obs), np.diff(indptr))
    np.add.at(dense, (rows, indices.astype(np.int64)), data.astype(np.float64))
    return ids["observation/ids"], ids["sample/ids"], dense


def read_metaphlan(path: str | Path, rank: str = "s") -> pd.DataFrame:
    """Read a MetaPhlAn merged relative-abundance table and keep one rank.

    Parameters
    ----------
    path
        Tab-separated table with a ``clade_name`` column (or a ``#mpa`` header block), percent
        abundances, clades at all ranks separated by ``|``.
    rank
        Rank letter to keep (``"s"`` species by default); rows of lower ranks (e.g. ``t__``
        strains) are dropped.

    Returns
    -------
    pandas.DataFrame
        Taxa x samples proportions; each sample with any abundance at this rank sums to 1.
        Samples with nothing assigned at this rank are kept as all-zero columns (the tracker
        reports them as empty sinks or sources).
    """
    import numpy as np

    path = Path(path)
    numbers, rows = _parse_tsv_rows(_read_text(path), path)
    start = 0
    while start < len(rows) and rows[start][0].startswith("#") and not _is_mpa_header(rows[start][0]):
        start += 1
    if start >= len(rows):
        raise InputError(f"{path}: no header line with sample names")
    header = rows[start]
    if header[0].strip().lstrip("#").lower() not in ("clade_name", "id", "taxon"):
        raise InputError(
            f"{path}: line {numbers[start]}: first column is {header[0]!r}, expected 'clade_name'"
        )
    samples = header[1:]
    if samples and samples[-1].strip().upper() == "NCBI_TAX_ID":
        raise InputError(f"{path}: unsupported NCBI_tax_id column; export without it")
    tag = f"{rank}__"
    body = []
    lines = []
    for number, fields in zip(numbers[start + 1 :], rows[start + 1 :], strict=True):
        if fields[0].strip().split("|")[-1].startswith(tag):
            body.append(fields)
            lines.append(number)
    if not body:
        raise InputError(f"{path}: no rows at rank {tag!r} (expected MetaPhlAn clade names)")
    frame = _frame_from_rows(samples, body, path, lines, integer=False)
    frame.index = [name.split("|")[-1] for name in frame.index]
    frame.index.name = "taxon"
    totals = frame.sum(axis=0).to_numpy()
    over = totals > 100.0 * (1 + 1e-6) + 1e-6
    if over.any():
        s = frame.columns[int(np.argmax(over))]
        raise InputError(
            f"{path}: sample {s!r}: species abundances sum to over 100 percent; expected "
            "MetaPhlAn percentages (for a count table use --format feast)"
        )
    return frame.div(np.where(totals > 0, totals, 1.0), axis=1)


def read_counts(path: str | Path, fmt: str = "auto", integer: bool = True) -> pd.DataFrame:
    """Read a count table of any supported layout.

    Parameters
    ----------
    path
        The table.
    fmt
        ``"auto"`` (detect, see :func:`detect_format`), ``"feast"``, ``"biom"``,
        ``"classic"`` or ``"metaphlan"``.
    integer
        Require whole-number counts in FEAST, BIOM and classic tables (``False`` for
        relative abundances in those layouts; cells must still be finite and >= 0).

    Returns
    -------
    pandas.DataFrame
        Taxa x samples; counts, or proportions for MetaPhlAn tables (see
        :func:`read_metaphlan`).
    """
    kind = detect_format(path) if fmt == "auto" else fmt
    if kind in ("biom", "biom-hdf5", "biom-json"):
        return read_biom(path, integer=integer)
    if kind == "classic":
        return read_classic_table(path, integer=integer)
    if kind == "metaphlan":
        return read_metaphlan(path)
    if kind == "feast":
        return read_feast_counts(path, integer=integer)
    raise InputError(f"{path}: unknown table format {fmt!r}")


_COLUMN_ALIASES = {
    "sampleid": "SampleID",
    "#sampleid": "SampleID",
    "sample_id": "SampleID",
    "sample-id": "SampleID",
    "#sample-id": "SampleID",
    "env": "Env",
    "sample-type": "Env",
    "sourcesink": "SourceSink",
    "source-or-sink": "SourceSink",
    "id": "id",
}
def read_metadata(path: str | Path) -> pd.DataFrame:
    """Read FEAST metadata or a SourceTracker2 mapping file.

    Parameters
    ----------
    path
        Tab-separated file with columns ``SampleID`` (or ``#SampleID``), ``Env``,
        ``SourceSink`` and optionally ``id``. SourceTracker2's alternative names
        (``sample-type``, ``source-or-sink`` with ``src``/``snk``) are accepted. If the
        header has one field fewer than the rows, the first column is taken as the sample ids
        (R ``write.table`` layout).

    Returns
    -------
    pandas.DataFrame
        Indexed by sample id, with columns ``Env`` (str), ``SourceSink`` (``"Sink"`` or
        ``"Source"``) and ``id`` (str, ``""`` where absent).
    """
    import pandas as pd

    path = Path(path)
    numbers, rows = _parse_tsv_rows(_read_text(path), path)
    header = [h.strip() for h in rows[0]]
    body = rows[1:]
    if not body:
        raise InputError(f"{path}: header only, no samples")
    if len(header) == len(body[0]) - 1:
        header = ["SampleID", *header]
    names = [_COLUMN_ALIASES.get(h.lower(), h) for h in header]
    for required in ("SampleID", "Env", "SourceSink"):
        if required not in names:
            raise InputError(
                f"{path}: no {required!r} column in the header (found: {', '.join(header)})"
            )
    col = {n: names.index(n) for n in ("SampleID", "Env", "SourceSink")}
    id_col = names.index("id") if "id" in names else None
    records = []
    seen: set[str] = set()
    for i, fields in zip(numbers[1:], body, strict=True):
        fields = [f.strip() for f in fields]
        fields += [""] * (len(names) - len(fields))
        sample = fields[col["SampleID"]]
        if not sample:
            raise InputError(f"{path}: line {i}: empty SampleID")
        if sample in seen:
            raise InputError(f"{path}: line {i}: duplicate SampleID {sample!r}")
        seen.add(sample)
        role = ROLE_ALIASES.get(fields[col["SourceSink"]].lower())
        if role is None:
            raise InputError(
                f"{path}: line {i} (sample {sample!r}): SourceSink is "
                f"{fields[col['SourceSink']]!r}, expected 'Source' or 'Sink'"
            )
        env = fields[col["Env"]]
        if not env:
            raise InputError(f"{path}: line {i} (sample {sample!r}): empty Env")
        ident = fields[id_col] if id_col is not None else ""
        if ident.upper() == "NA":
            ident = ""
        records.append((sample, env, role, ident))
    frame = pd.DataFrame(records, columns=["SampleID", "Env", "SourceSink", "id"])
    frame = frame.set_index("SampleID")
    frame.attrs["source_file"] = str(path)
    return frame
