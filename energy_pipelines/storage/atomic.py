"""One way to write a file so readers never see half of it: a temporary file beside it, renamed over it.

The temporary name is `.<name>.<32 hex>.tmp` in the target's folder (same file system, so the
rename is atomic on POSIX). A process killed mid-write leaves such a file behind:
`remove_leftovers` deletes the ones older than a grace period when a run starts.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Callable
from pathlib import Path

TEMP_NAME = re.compile(r"^\..+\.[0-9a-f]{32}\.tmp$")


def temp_beside(target: Path) -> Path:
    return target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")


def write_atomic(target: Path | str, write: Callable[[Path], object]) -> Path:
    """Call `write(tmp_path)`, then rename the result over `target`; the temp file never outlives a failure."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_beside(target)
    try:
        write(tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def write_bytes_atomic(target: Path | str, data: bytes) -> Path:
    return write_atomic(target, lambda tmp: tmp.write_bytes(data))


def write_text_atomic(target: Path | str, text: str, encoding: str = "utf-8") -> Path:
    return write_atomic(target, lambda tmp: tmp.write_text(text, encoding=encoding))


def remove_leftovers(root: Path | str, older_than_s: float = 3600.0) -> list[Path]:
    """Delete temporary files a killed writer left under `root` (only ours, only old ones)."""
    root = Path(root)
    if not root.exists():
        return []
    cutoff = time.time() - older_than_s
    removed = []
    for path in root.rglob(".*.tmp"):
        try:
            if TEMP_NAME.match(path.name) and path.is_file() and not path.is_symlink() and path.stat().st_mtime < cutoff:
                path.unlink()
                removed.append(path)
        except FileNotFoundError:
            continue
    return removed
