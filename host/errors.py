"""The one base class of the project's errors, and the exit codes every command line shares.

Every error the tools raise on purpose derives from `ErnError` and carries the exit code of its
kind; the classes keep their own names (PackageError, CsimError, FitError, ...), and most also
derive from the built-in they always were (ValueError, RuntimeError), so callers that catch those
still do. Every `main` ends through `cli`: an ErnError (or an OSError: a file that cannot be read
or written) becomes one line `<prog>: error: <message>` on stderr and its exit code, never a
traceback. The convention (docs/architecture.md, "Exit codes"):

    0  OK          the command did what it was asked
    1  CHECK       it ran, and a check failed: results differ (C-simulation, Brevitas vs the
                   reference), a build or a run failed (g++, Vivado, the device)
    2  USAGE       bad input, usage or setup: arguments, names, a missing or invalid file
                   (package, checkpoint, data set, folding), a missing tool
    3  NO_FIT      the design does not fit the part or budget, or misses its target
                   (FPS, timing)
    4  DEADLOCK    the clocked C-simulation stalled: the design deadlocks with its FIFO depths

Standard library only: host/ imports it on the board.
"""
from __future__ import annotations

import sys
from typing import Callable, Optional, Sequence

OK = 0
CHECK = 1
USAGE = 2
NO_FIT = 3
DEADLOCK = 4


class ErnError(Exception):
    """Base of every error the tools raise on purpose; `exit_code` is what a command line exits
    with when it stops on one: its class's, or the one given to this error."""

    exit_code = USAGE

    def __init__(self, *args, exit_code: Optional[int] = None):
        super().__init__(*args)
        if exit_code is not None:
            self.exit_code = exit_code


def one_line(error: BaseException) -> str:
    """The error's message as one line: its first line, with a note when there were more."""
    lines = [line for line in str(error).strip().splitlines() if line.strip()] or [type(error).__name__]
    more = f" (+{len(lines) - 1} more lines)" if len(lines) > 1 else ""
    return lines[0].strip() + more


def exit_code(error: BaseException) -> int:
    """The exit code of an error: its class's for an ErnError, USAGE for an OSError."""
    return getattr(error, "exit_code", USAGE) if isinstance(error, ErnError) else USAGE


def fail(error: BaseException, prog: str) -> int:
    """Print `<prog>: error: <one line>` on stderr; return the error's exit code."""
    print(f"{prog}: error: {one_line(error)}", file=sys.stderr, flush=True)
    return exit_code(error)


def cli(prog: str, run: Callable[[Optional[Sequence[str]]], Optional[int]],
        argv: Optional[Sequence[str]] = None) -> int:
    """Run a command's body: its return value (None = OK), or `fail` on an ErnError or OSError."""
    try:
        status = run(argv)
    except (ErnError, OSError) as e:
        return fail(e, prog)
    return OK if status is None else int(status)


__all__ = ["ErnError", "OK", "CHECK", "USAGE", "NO_FIT", "DEADLOCK", "one_line", "exit_code",
           "fail", "cli"]
