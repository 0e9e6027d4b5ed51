"""The one C++ builder: g++ with the Xilinx ap_types headers, cached by content.

hls/csim.py builds the C-simulation test benches with it, host/emulation.py the emulation's
shared library (and hls_flow's `build_emu` the `libern_emu.so` that `make hls` leaves). Standard
library only, because host/ goes to the board (where nothing is ever compiled, but the module
imports).

- **Headers.** ap_int.h, hls_stream.h, ... come from the pinned hls4ml wheel
  (`hls4ml/templates/vivado/ap_types/`), found without importing hls4ml, or from
  $ERN_AP_TYPES; never copied. They are included with `-isystem`, so `-Wall` warnings point at
  our code only.
- **Cache key.** The compiler and its version, the flags, the ap_types headers (location, sizes,
  times), every source and `depends` file and every header (.h, .hpp, .inc) directly in the
  include folders, by name and content (not by folder: the same sources generated elsewhere
  are the same build): a hit costs a few file reads.
- **Atomic.** A miss compiles into a temporary name in the build's folder and renames it, so
  concurrent builds of the same thing are safe (both compile, one rename wins, both are whole).
- **Errors are one line** (CxxError): the compiler's first error and the log that holds all of
  its output; a compiler that runs past $ERN_CSIM_TIMEOUT seconds (default 3600) is stopped.

    from host import cxx
    exe = cxx.build([Path("tb.cpp")], ["-std=c++14", "-O2"], include_dirs=[Path("gen")], name="tb")
"""
from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Iterable, List, Optional, Sequence

from host.errors import CHECK, USAGE, ErnError
from host.names import check_model_name

HEADER_SUFFIXES = (".h", ".hpp", ".inc")
DEFAULT_TIMEOUT = 3600.0   # seconds a compile may take; ERN_CSIM_TIMEOUT overrides
TIMEOUT_ENV = "ERN_CSIM_TIMEOUT"
CACHE_ENV = "ERN_CSIM_CACHE"


class CxxError(ErnError, RuntimeError):
    """A C++ build (or a C-simulation run) that failed or timed out; one line."""

    exit_code = CHECK


class CxxSetupError(CxxError):
    """No compiler, or no ap_types headers: this machine cannot build C++ (one line)."""

    exit_code = USAGE


def repo_root() -> Path:
    return Path(__file__).resolve().parents[1]


def default_cache_dir() -> Path:
    """$ERN_CSIM_CACHE, else build/csim_cache in the repository (a temporary folder where that
    is not writable, as on a board's read-only install)."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env)
    folder = repo_root() / "build" / "csim_cache"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if os.access(folder, os.W_OK):
            return folder
    except OSError:
        pass
    return Path(tempfile.gettempdir()) / "ern_csim_cache"


@functools.lru_cache(maxsize=None)
def ap_types_dir() -> Path:
    """The folder holding ap_int.h and hls_stream.h: $ERN_AP_TYPES, else inside the installed
    hls4ml (located, not imported)."""
    env = os.environ.get("ERN_AP_TYPES")
    if env:
        candidates = [Path(env)]
    else:
        try:
            spec = importlib.util.find_spec("hls4ml")
        except (ImportError, ValueError):
            spec = None
        locations = list(spec.submodule_search_locations or []) if spec is not None else []
        candidates = [Path(p) / "templates" / "vivado" / "ap_types" for p in locations]
    for path in candidates:
        if (path / "ap_int.h").is_file() and (path / "hls_stream.h").is_file():
            return path.resolve()
    where = f" in {candidates[0]}" if candidates else ""
    raise CxxSetupError(f"no ap_int.h / hls_stream.h{where}: the Xilinx ap_types headers come with "
                        "hls4ml (pip install hls4ml==1.3.0) or set ERN_AP_TYPES=<folder with ap_int.h>")


@functools.lru_cache(maxsize=None)
def compiler() -> str:
    """The C++ compiler: $CXX or g++."""
    cxx = os.environ.get("CXX", "g++")
    if shutil.which(cxx) is None:
        raise CxxSetupError(f"C++ compiler {cxx!r} not found (install g++ or set CXX)")
    return cxx


@functools.lru_cache(maxsize=None)
def compiler_version() -> str:
    out = subprocess.run([compiler(), "--version"], capture_output=True, text=True, check=False)
    return out.stdout.splitlines()[0] if out.stdout else compiler()


def headers(include_dirs: Iterable[Path]) -> List[Path]:
    """The headers directly in each include folder (what an #include "x.h" can reach)."""
    found: List[Path] = []
    for d in include_dirs:
        if d.is_dir():
            found += sorted(p for p in d.iterdir() if p.suffix in HEADER_SUFFIXES and p.is_file())
    return found


def command(sources: Sequence[Path], flags: Sequence[str], include_dirs: Sequence[Path],
            output: str) -> List[str]:
    """The compiler's command line: flags, -I the include folders, -isystem ap_types."""
    return [compiler(), *flags, *(f"-I{d}" for d in include_dirs), "-isystem", str(ap_types_dir()),
            *map(str, sources), "-o", output]


def build_key(sources: Sequence[Path], flags: Sequence[str], include_dirs: Sequence[Path],
              depends: Sequence[Path] = ()) -> str:
    """Content hash of everything a build depends on (see the module docstring)."""
    h = hashlib.sha256()
    h.update(compiler_version().encode())
    # the include folders by position, not path: the same sources generated into another folder
    # (a test's temporary one) are the same build; their headers are hashed below
    h.update("\0".join(command([], flags, [Path(f"<{i}>") for i in range(len(include_dirs))], "")).encode())
    for path in sorted(ap_types_dir().iterdir()):  # another hls4ml release: same path, new files
        if path.is_file():
            stat = path.stat()
            h.update(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    files = [("", p) for p in [*sources, *depends]]
    files += [(f"<{i}>/", p) for i, d in enumerate(include_dirs) for p in headers([d])]
    for where, path in files:
        h.update(f"\0{where}{path.name}\0".encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:20]


def cached(name: str, key: str, cache_dir: Optional[Path] = None) -> Path:
    """Where the build `name` with content key `key` lives in the cache."""
    check_model_name(name, "build name")   # one path component under the cache, never ../
    return Path(cache_dir or default_cache_dir()) / f"{name}-{key}" / name


def first_error(text: str) -> str:
    """The compiler's first error line (else its first line)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in lines:
        if "error" in line.lower():
            return line
    return lines[0] if lines else "no output"


def build(sources: Sequence[Path], flags: Sequence[str], *, include_dirs: Sequence[Path] = (),
          depends: Sequence[Path] = (), name: str = "build", cache_dir: Optional[Path] = None,
          nice: bool = True, timeout: Optional[float] = None) -> Path:
    """Compile and link `sources` with `flags` into `name` (an executable, or a shared library
    when the flags say -shared), or return the cached one.

    include_dirs: searched (-I) before the ap_types headers (-isystem); their headers are part
        of the key. depends: further files the build reads (included .cpp files), hashed too.
    nice: compile at lower priority (the machine is shared).
    timeout: seconds before the compiler is stopped (default $ERN_CSIM_TIMEOUT or 3600: a big
        generated top takes minutes on a loaded 2-core machine; this only guards against hangs).
    Raises CxxError (one line) when a source is missing or the build fails or times out.
    """
    sources = [Path(s).resolve() for s in sources]
    include_dirs = [Path(d).resolve() for d in include_dirs]
    depends = [Path(p).resolve() for p in depends]
    for path in [*sources, *depends]:
        if not path.is_file():
            raise CxxError(f"{path}: no such source file")
    target = cached(name, build_key(sources, flags, include_dirs, depends), cache_dir)
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=target.parent)
    os.close(fd)
    cmd = command(sources, flags, include_dirs, tmp)
    if nice and shutil.which("nice"):
        cmd = ["nice", "-n", "10", *cmd]
    if timeout is None:
        timeout = float(os.environ.get(TIMEOUT_ENV, DEFAULT_TIMEOUT))
    what = " ".join(s.name for s in sources)
    try:
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise CxxError(f"{compiler()} did not finish {what} within {timeout:.0f} s "
                           f"(an overloaded machine? raise {TIMEOUT_ENV})") from None
        log = target.parent / ("build.log" if proc.returncode == 0 else f"failed-{os.getpid()}.log")
        log.write_text(" ".join(cmd) + "\n" + proc.stderr + proc.stdout)
        if proc.returncode != 0:
            raise CxxError(f"{compiler()} failed building {name} ({what}): "
                           f"{first_error(proc.stderr + proc.stdout)} (full output: {log})")
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


__all__ = ["CxxError", "CxxSetupError", "ap_types_dir", "compiler", "compiler_version", "headers",
           "command", "build_key", "cached", "build", "default_cache_dir"]
