"""Show a benchmark's progress on stderr: step count, elapsed time, an estimate of what is left."""

from __future__ import annotations

import sys
import time


class Progress:
    """Count steps of known total weight (seconds expected) and print one line per step.

    On a terminal the line is rewritten in place; otherwise (a log, CI) each
    step gets its own line.
    """

    __slots__ = ("name", "total", "done", "started", "tty", "_width")

    def __init__(self, name: str, total_seconds: float) -> None:
        self.name = name
        self.total = max(total_seconds, 1e-9)
        self.done = 0.0
        self.started = time.monotonic()
        self.tty = sys.stderr.isatty()
        self._width = 0

    def step(self, label: str, weight: float = 0.0) -> None:
        """Announce ``label`` (about to start, expected to take ``weight`` seconds)."""
        elapsed = time.monotonic() - self.started
        fraction = min(self.done / self.total, 1.0)
        left = max(self.total - self.done, 0.0) * (elapsed / self.done if self.done > 5 else 1.0)
        line = (f"[{self.name} {fraction * 100:5.1f}% {_clock(elapsed)} elapsed, "
                f"~{_clock(left)} left] {label}")
        if self.tty:
            pad = max(self._width - len(line), 0)
            sys.stderr.write("\r" + line + " " * pad)
            self._width = len(line)
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()
        self.done += weight

    def finish(self, label: str = "done") -> None:
        """Print the final line."""
        elapsed = time.monotonic() - self.started
        end = "\n" if self.tty else ""
        sys.stderr.write(f"{end}[{self.name} 100.0% {_clock(elapsed)}] {label}\n")
        sys.stderr.flush()


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60}:{seconds % 60:02d}"
