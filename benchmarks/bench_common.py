"""What the benchmark scripts share: naming why a child process failed, in one line."""

from __future__ import annotations

import re

_ERROR_LINE = re.compile(r"^\s*[A-Za-z_][\w.]*(Error|Exception|Exit)\b.*")


def failure_reason(output: str) -> str:
    """The last `SomeError: message` line of a traceback (else the last non-blank line), shortened."""
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    errors = [ln for ln in lines if _ERROR_LINE.match(ln)]
    reason = errors[-1] if errors else (lines[-1] if lines else "no error output")
    return reason if len(reason) <= 200 else reason[:197] + "..."
