"""Run named pipeline steps in order, and skip the ones whose inputs have not changed.

A `Step` is a name, the function that does the work, and `key`: the list of everything its
outputs depend on (the files it reads, the options it takes, the source code that makes them).
The runner hashes that list (file *contents*, not modification times: a rebuilt file with the
same bytes costs its successors nothing) and skips the step when the digest equals the one
recorded the last time the step passed and its outputs are still there; the result of that run
(a small JSON object) is then reused. Records live in one state file (build/<m>/steps.json):

    {"steps": {name: {"key": sha256, "seconds": s, "result": {...}}},
     "last": {name: {"status": "ran" | "skipped" | "kept" | "off", "seconds": s}}}

Only a result whose verdict is OK is recorded, so a failed C-simulation runs again next time.
`force` runs every selected step (also the way to rerun one after changing the step's own
function, which its key leaves out). A skipped step's outputs are touched, so make's rules that
compare modification times agree with the digests.

The steps themselves (export, lower, estimate, codegen, ...) are hls/hls_flow.py's `STEPS`.
"""
from __future__ import annotations

import glob
import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence

from host.errors import OK, USAGE, ErnError

REPO = Path(__file__).resolve().parents[1]


class StepError(ErnError):
    """A step name that does not exist, or a step that cannot run (one line)."""

    exit_code = USAGE


def _nothing(flow) -> list:
    return []


def _never_off(flow) -> Optional[str]:
    return None


def _passed(result: dict) -> int:
    return OK


@dataclass(frozen=True)
class Step:
    """One named step. `run(flow) -> result` does the work; `key(flow)` lists what its outputs
    depend on (Path: the file's or folder's contents; anything else: its JSON); `outputs(flow)`
    the files it leaves; `needs(flow)` the files it cannot run without; `off(flow)` a reason it
    does not run this time (an option, a missing tool), else None; `verdict(result)` the exit
    code of its result, and `last_verdict(result)` the one that counts when it is the last
    step run (the estimate's "does not fit" only fails `--to estimate`)."""
    name: str
    run: Callable[[Any], dict]
    key: Callable[[Any], list]
    about: str = ""
    outputs: Callable[[Any], List[Path]] = _nothing
    needs: Callable[[Any], List[Path]] = _nothing
    off: Callable[[Any], Optional[str]] = _never_off
    verdict: Callable[[dict], int] = _passed
    last_verdict: Optional[Callable[[dict], int]] = None


# ---------------------------------------------------------------------------------------------
# Choosing steps
# ---------------------------------------------------------------------------------------------

def names(steps: Sequence[Step]) -> List[str]:
    return [s.name for s in steps]


def check_name(steps: Sequence[Step], name: str) -> str:
    if name not in names(steps):
        raise StepError(f"unknown step {name!r} (the steps, in order: {', '.join(names(steps))})")
    return name


def select(steps: Sequence[Step], step: Optional[str] = None, first: Optional[str] = None,
           last: Optional[str] = None) -> List[Step]:
    """The steps to run: `step` alone, or `first` .. `last` (default: all) in pipeline order."""
    for name in (step, first, last):
        if name is not None:
            check_name(steps, name)
    if step is not None:
        if first is not None or last is not None:
            raise StepError("--step runs one step: give it without --from / --to")
        first = last = step
    order = names(steps)
    i = order.index(first) if first else 0
    j = order.index(last) if last else len(order) - 1
    if i > j:
        raise StepError(f"--from {first} comes after --to {last} (order: {', '.join(order)})")
    return list(steps[i:j + 1])


# ---------------------------------------------------------------------------------------------
# Digests
# ---------------------------------------------------------------------------------------------

def sources(*patterns: str) -> List[Path]:
    """The repository's files matching glob `patterns` (relative to the repository), sorted: the
    code a step's outputs depend on."""
    found = {Path(p) for pattern in patterns for p in glob.glob(str(REPO / pattern), recursive=True)}
    return sorted(p for p in found if p.is_file() and "__pycache__" not in p.parts)


def _file_digest(path: Path, h) -> None:
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)


def digest(parts: Iterable[Any]) -> str:
    """sha256 over `parts`: a Path counts by its contents (a folder: every file under it, with
    its relative name), anything else by its JSON text."""
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, Path):
            h.update(f"\0path\0{part.name}\0".encode())
            if part.is_dir():
                for f in sorted(p for p in part.rglob("*") if p.is_file()):
                    h.update(f"\0{f.relative_to(part).as_posix()}\0".encode())
                    _file_digest(f, h)
            elif part.is_file():
                _file_digest(part, h)
            else:
                h.update(b"\0missing\0")
        else:
            h.update(f"\0value\0{json.dumps(part, sort_keys=True, default=str)}\0".encode())
    return h.hexdigest()


# ---------------------------------------------------------------------------------------------
# State
# ---------------------------------------------------------------------------------------------

def load_state(path: Path) -> dict:
    """The state file, or an empty state when it is missing or unreadable (everything reruns)."""
    try:
        state = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {"steps": {}}
    return state if isinstance(state, dict) and isinstance(state.get("steps"), dict) else {"steps": {}}


def save_state(path: Path, state: dict) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    tmp.write_text(json.dumps(state, indent=1, default=str) + "\n")
    os.replace(tmp, path)


def _touch(paths: Iterable[Path]) -> None:
    for p in paths:
        if p.is_file():
            os.utime(p)


# ---------------------------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------------------------

@dataclass
class Outcome:
    """What one call of `run` did: each step's result and {name: {status, seconds}}, and the
    exit code (the worst verdict)."""
    results: Dict[str, dict] = field(default_factory=dict)
    timings: Dict[str, dict] = field(default_factory=dict)
    status: int = OK

    def summary(self) -> str:
        parts = []
        for name, t in self.timings.items():
            parts.append(f"{name} {t['status']}" + (f" {t['seconds']:.1f} s" if t["status"] == "ran" else "")
                         + (f" ({t['why']})" if t.get("why") else ""))
        return ", ".join(parts)


def _there(paths: List[Path]) -> bool:
    return bool(paths) and all(p.exists() for p in paths)


def _kept(steps: Sequence[Step], step: Step, flow) -> bool:
    """A step that cannot run (an input is missing) is not needed when its outputs, or the next
    step's, are there: a package given without the ONNX it came from, an ONNX without checkpoint."""
    i = list(steps).index(step)
    return any(_there(s.outputs(flow)) for s in steps[i:i + 2])


def _verdict(step: Step, result: dict, last: bool) -> int:
    code = step.verdict(result)
    if last and step.last_verdict is not None:
        code = max(code, step.last_verdict(result))
    return code


def run(steps: Sequence[Step], selected: Sequence[Step], flow, state_file: Path, force: bool = False,
        log: Callable[[str], None] = print) -> Outcome:
    """Run `selected` (a slice of `steps`) in order on `flow` (the steps' shared context: it
    must have a `results` dict, where each step finds its predecessors' results)."""
    state = load_state(state_file)
    records = state["steps"]
    # the steps not run now leave their recorded results (a C-simulation alone reads testdata's)
    flow.results.update({name: r["result"] for name, r in records.items() if isinstance(r, dict) and "result" in r})
    outcome = Outcome(results=flow.results)
    for index, step in enumerate(selected):
        start = time.perf_counter()
        last = index == len(selected) - 1
        why = step.off(flow)
        if why:
            outcome.timings[step.name] = {"status": "off", "seconds": 0.0, "why": why}
            continue
        missing = [p for p in step.needs(flow) if not p.exists()]
        if missing:
            if not _kept(steps, step, flow):
                raise StepError(f"{step.name}: {missing[0]} is missing")
            outcome.timings[step.name] = {"status": "kept", "seconds": 0.0, "why": f"no {missing[0].name}"}
            continue
        key = digest(step.key(flow))
        record = records.get(step.name) or {}
        if not force and record.get("key") == key and all(p.exists() for p in step.outputs(flow)):
            result = flow.results[step.name] = record.get("result", {})
            _touch(step.outputs(flow))
            outcome.timings[step.name] = {"status": "skipped", "seconds": round(time.perf_counter() - start, 3)}
        else:
            result = flow.results[step.name] = step.run(flow) or {}
            seconds = time.perf_counter() - start
            outcome.timings[step.name] = {"status": "ran", "seconds": round(seconds, 3)}
            if step.verdict(result) == OK:
                records[step.name] = {"key": key, "seconds": round(seconds, 3), "result": result}
            else:
                records.pop(step.name, None)
            state["last"] = outcome.timings
            save_state(state_file, state)   # after every step: an interrupted run keeps what passed
        outcome.status = max(outcome.status, _verdict(step, result, last))
    state["last"] = outcome.timings
    save_state(state_file, state)
    log(f"steps: {outcome.summary()}")
    return outcome


__all__ = ["Step", "StepError", "Outcome", "select", "check_name", "names", "sources", "digest",
           "load_state", "save_state", "run"]
