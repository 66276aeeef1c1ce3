"""The landing zone of one source: every file in `landing/<source id>/`, read by window.

Reading is per file: a file that cannot be read is reported (a reject naming the file and the
problem) and the others are still read, so one bad file never stops the half-hourly flow.
The UTC span of each file is remembered in `.spans.json` (keyed by size and mtime), so a
half-hourly run only opens the files that can hold its half-hour.

Only regular files that really live inside the folder are deliveries: a symbolic link is never
followed (a link to a file elsewhere, or to a secret, is reported by name only, its content never
read), nor is a file above the size limit. Everything not read is reported with the reason
(`WindowRead.ignored`), never skipped without a word. Names starting with '.' are our own
temporary files (`.<name>.<uuid>.tmp` during an atomic write) and the span cache.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd

from energy_pipelines.sources.base import REJECT_COLUMNS, SourceAdapter, SourceFileError
from energy_pipelines.storage.atomic import write_bytes_atomic

UTC = timezone.utc
SPANS_FILE = ".spans.json"
# a row stamped t covers [t, t + step): a file's span ends one step after its last row
ROW_STEP = timedelta(minutes=30)


DEFAULT_MAX_FILE_BYTES = 256 * 1024 * 1024
# our own files in a landing folder: the span cache and atomic-write temporaries
_INTERNAL = re.compile(r"^\.(spans\.json|.+\.[0-9a-f]{32}\.tmp)$")


@dataclass
class WindowRead:
    rows: pd.DataFrame
    rejects: pd.DataFrame
    files_read: list[str] = field(default_factory=list)
    files_skipped: int = 0
    bad_files: dict[str, str] = field(default_factory=dict)
    stats: dict[str, int] = field(default_factory=dict)
    ignored: dict[str, str] = field(default_factory=dict)  # file -> why it is not a delivery
    misnamed: dict[str, str] = field(default_factory=dict)  # file -> how its name and rows disagree


class LandingZone:
    def __init__(self, root: Path | str, source_id: str, max_file_bytes: int = DEFAULT_MAX_FILE_BYTES):
        self.source_id = source_id
        self.dir = Path(root) / source_id
        self.max_file_bytes = max_file_bytes

    def scan(self) -> tuple[list[Path], dict[str, str]]:
        """(the deliveries, {relative name: why it is not read}) — nothing is skipped silently."""
        if not self.dir.exists():
            return [], {}
        files, ignored = [], {}
        for path in sorted(self.dir.rglob("*")):  # rglob does not descend into linked folders
            rel = str(path.relative_to(self.dir))
            if path.is_symlink():
                ignored[rel] = "symbolic link: not followed (deliver the file itself)"
            elif path.is_dir():
                continue
            elif _INTERNAL.match(path.name):
                continue
            elif not path.is_file():
                ignored[rel] = "not a regular file"
            elif path.name.startswith((".", "_")):
                ignored[rel] = "hidden or internal name (starts with '.' or '_'): rename it to deliver it"
            elif any(p.is_symlink() for p in path.relative_to(self.dir).parents if str(p) != "."):
                ignored[rel] = "inside a linked folder: not followed"
            elif path.stat().st_size > self.max_file_bytes:
                ignored[rel] = (f"{path.stat().st_size / 1e6:.1f} MB is above the landing limit of "
                                f"{self.max_file_bytes / 1e6:.0f} MB (ENERGY_PIPELINES_MAX_LANDING_FILE_MB)")
            else:
                files.append(path)
        return files, ignored

    def files(self) -> list[Path]:
        """Every delivery (regular files inside the folder, within the size limit)."""
        return self.scan()[0]

    def write_atomic(self, name: str, content: bytes | str, encoding: str = "utf-8") -> Path:
        """Writers (simulator, API fetch) deliver files whole: temp file, then rename."""
        data = content.encode(encoding) if isinstance(content, str) else content
        return write_bytes_atomic(self.dir / name, data)

    # -- span cache ---------------------------------------------------------------------

    def _load_spans(self) -> dict[str, dict]:
        try:
            return json.loads((self.dir / SPANS_FILE).read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {}

    def _save_spans(self, spans: dict[str, dict]) -> None:
        if self.dir.exists():
            self.write_atomic(SPANS_FILE, json.dumps(spans, indent=0, sort_keys=True))

    @staticmethod
    def _fingerprint(path: Path) -> dict:
        st = path.stat()
        return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}

    # -- reading ------------------------------------------------------------------------

    def read_window(self, adapter: SourceAdapter, start: datetime, end: datetime,
                    log: logging.Logger | None = None) -> WindowRead:
        log = log or logging.getLogger(__name__)
        spans = self._load_spans()
        fresh_spans: dict[str, dict] = {}
        frames, reject_frames = [], []
        result = WindowRead(rows=pd.DataFrame(), rejects=pd.DataFrame(columns=REJECT_COLUMNS))
        files, result.ignored = self.scan()
        now = datetime.now(UTC)
        for rel, why in result.ignored.items():
            log.warning("landing/%s/%s ignored: %s", self.source_id, rel, why)
        for i, path in enumerate(files):
            rel = str(path.relative_to(self.dir))
            fingerprint = self._fingerprint(path)
            cached = spans.get(rel)
            if cached and {k: cached.get(k) for k in fingerprint} != fingerprint:
                cached = None  # the file changed since: a corrected delivery
            named = adapter.span_from_name(path)
            # a name is trusted to skip a file only for the past: a future-dated name is read (its rows
            # place themselves), so a misnamed delivery is never left unread
            span = named if named is not None and named[0] <= now else None
            if cached and "start" in cached:
                span = (datetime.fromisoformat(cached["start"]), datetime.fromisoformat(cached["end"]))
            if span is not None and (span[1] <= start or span[0] >= end):
                result.files_skipped += 1
                if cached:
                    fresh_spans[rel] = cached
                continue
            if cached and "error" in cached:
                problem = cached["error"]  # known bad and unchanged: report again, do not re-parse
            else:
                problem = None
                if path.suffix.lower() not in adapter.suffixes:
                    problem = f"unexpected file type {path.suffix or '(none)'}; expected {', '.join(adapter.suffixes)}"
                else:
                    try:
                        read = adapter.read_file(path)
                    except SourceFileError as exc:
                        problem = exc.problem
                    except (UnicodeDecodeError, ValueError, KeyError) as exc:
                        problem = f"unreadable: {type(exc).__name__}: {exc}"
            if problem is not None:
                fresh_spans[rel] = {**fingerprint, "error": problem}
                result.bad_files[rel] = problem
                log.warning("landing/%s/%s rejected: %s", self.source_id, rel, problem)
                reject_frames.append(pd.DataFrame([{
                    "datetime_utc": pd.NaT, "source_line": None, "source_file": rel,
                    "reason": f"unreadable file: {problem}", "record": None,
                }]))
                continue
            rows = read.rows
            if len(rows):
                first, last = rows["datetime_utc"].min(), rows["datetime_utc"].max()
                fresh_spans[rel] = {**fingerprint, "start": first.isoformat(), "end": (last + ROW_STEP).isoformat()}
                if named is not None and (last < named[0] or first >= named[1]):
                    result.misnamed[rel] = (f"name places it in [{named[0]:%Y-%m-%dT%H:%MZ}, {named[1]:%Y-%m-%dT%H:%MZ})"
                                            f" but its rows run from {first:%Y-%m-%dT%H:%MZ} to {last:%Y-%m-%dT%H:%MZ};"
                                            " rows are placed by their own timestamps")
                    log.warning("landing/%s/%s: %s", self.source_id, rel, result.misnamed[rel])
            else:
                fresh_spans[rel] = fingerprint
            in_window = (rows["datetime_utc"] >= start) & (rows["datetime_utc"] < end) if len(rows) else []
            kept = rows[in_window].copy() if len(rows) else rows
            kept["source_file"] = rel
            # when the file arrived: a later delivery of the same figure supersedes an earlier one
            kept["delivered_utc"] = pd.Timestamp(path.stat().st_mtime_ns, unit="ns", tz="UTC").floor("us")
            frames.append(kept)
            rejects = read.rejects.copy()
            if len(rejects):
                # rejects with no time of their own belong to the file's first half-hour
                anchor = rows["datetime_utc"].min() if len(rows) else start
                rejects["datetime_utc"] = rejects["datetime_utc"].fillna(anchor)
                rejects = rejects[(rejects["datetime_utc"] >= start) & (rejects["datetime_utc"] < end)]
                rejects["source_file"] = rel
                reject_frames.append(rejects)
            for key, value in read.stats.items():
                result.stats[key] = result.stats.get(key, 0) + value
            result.files_read.append(rel)
            if len(files) > 20 and (i + 1) % 20 == 0:
                log.info("landing/%s: %d/%d files examined", self.source_id, i + 1, len(files))
        # keep cache entries of files not examined this time (e.g. skipped by name)
        for rel, entry in spans.items():
            if rel not in fresh_spans and (self.dir / rel).exists():
                fresh_spans[rel] = entry
        if fresh_spans != spans:
            self._save_spans(fresh_spans)
        if frames:
            non_empty = [f for f in frames if len(f)]
            result.rows = pd.concat(non_empty, ignore_index=True) if non_empty else frames[0]
        if reject_frames:
            rejects = pd.concat([f for f in reject_frames if len(f)] or [reject_frames[0]], ignore_index=True)
            rejects["datetime_utc"] = pd.to_datetime(rejects["datetime_utc"], utc=True).fillna(pd.Timestamp(start))
            result.rejects = rejects
        return result
