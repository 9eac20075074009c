"""Atomic text output: a file is either its old content or its complete new content."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_text_atomic(text: str, out: Path) -> None:
    """Write ``text`` to ``out`` through a temporary file in the same folder, then rename.

    A failure (a full disk, an interrupt) leaves any earlier ``out`` untouched and no
    temporary file behind.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
