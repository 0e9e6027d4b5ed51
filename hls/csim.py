"""Compile and run HLS C++ with g++ and the Xilinx ap_types headers (C-simulation).

The headers (ap_int.h, hls_stream.h, ...) come from the pinned hls4ml wheel
(`hls4ml/templates/vivado/ap_types/`); they are found there, never copied. They are included
with `-isystem`, so `-Wall` warnings point at our code only.

Builds are cached by content: the key covers the compiler and its version, the flags, the
ap_types headers (location, sizes, times), every source file and every header in the include
directories we pass (hls/lib/ always). A hit costs a few file reads; a miss compiles into a temporary name and
renames, so concurrent builds of the same thing are safe.

    from hls import csim
    exe = csim.build([Path("tb.cpp")], include_dirs=[Path("gen")], name="tb")
    result = csim.run(exe, ["case0", "data/"])
"""
import functools
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence

from host.names import check_model_name

REPO = Path(__file__).resolve().parents[1]
LIB_DIR = REPO / "hls" / "lib"                   # the layer library (always on the include path)
CACHE_DIR = REPO / "build" / "csim_cache"        # gitignored (build/)

CXX_STD = "-std=c++14"
# -Wall for our code. The ap_types headers come in through -isystem, but some of their
# (maybe-)uninitialized warnings are reported where they are inlined into our code, hence the
# two -Wno-; unknown-pragmas are the HLS pragmas g++ does not know.
WARNING_FLAGS = ("-Wall", "-Wno-unknown-pragmas", "-Wno-maybe-uninitialized", "-Wno-uninitialized")
HEADER_SUFFIXES = (".h", ".hpp", ".inc")


class CsimError(RuntimeError):
    """A build or a run that failed; the message carries the compiler's or program's output."""


@functools.lru_cache(maxsize=None)
def ap_types_dir() -> Path:
    """The directory holding ap_int.h and hls_stream.h (inside the installed hls4ml)."""
    env = os.environ.get("ERN_AP_TYPES")
    if env:
        path = Path(env)
    else:
        try:
            import hls4ml  # noqa: F401 (only its location is used)
        except ImportError as e:
            raise CsimError("hls4ml is not installed: the Xilinx ap_types headers come with it "
                            "(pip install hls4ml==1.3.0, or set ERN_AP_TYPES=<dir>)") from e
        path = Path(hls4ml.__file__).resolve().parent / "templates" / "vivado" / "ap_types"
    if not (path / "ap_int.h").is_file() or not (path / "hls_stream.h").is_file():
        raise CsimError(f"no ap_int.h / hls_stream.h in {path}")
    return path


@functools.lru_cache(maxsize=None)
def compiler() -> str:
    """The C++ compiler: $CXX or g++."""
    cxx = os.environ.get("CXX", "g++")
    if shutil.which(cxx) is None:
        raise CsimError(f"C++ compiler {cxx!r} not found (install g++ or set CXX)")
    return cxx


@functools.lru_cache(maxsize=None)
def compiler_version() -> str:
    out = subprocess.run([compiler(), "--version"], capture_output=True, text=True, check=False)
    return out.stdout.splitlines()[0] if out.stdout else compiler()


def compile_flags(include_dirs: Sequence[Path] = (), defines: Optional[Dict[str, object]] = None,
                  opt: str = "-O1", werror: bool = False, extra_flags: Sequence[str] = ()) -> List[str]:
    """The g++ flags of a C-simulation build (without sources and output)."""
    flags = [CXX_STD, opt, *WARNING_FLAGS]
    if werror:
        flags.append("-Werror")
    flags += list(extra_flags)
    for name, value in sorted((defines or {}).items()):
        flags.append(f"-D{name}" if value is None else f"-D{name}={value}")
    for d in [*include_dirs, LIB_DIR]:
        flags.append(f"-I{d}")
    flags += ["-isystem", str(ap_types_dir())]
    return flags


def _headers(include_dirs: Iterable[Path]) -> List[Path]:
    found = []
    for d in include_dirs:
        if d.is_dir():
            found += sorted(p for p in d.iterdir() if p.suffix in HEADER_SUFFIXES and p.is_file())
    return found


def build_key(sources: Sequence[Path], flags: Sequence[str], include_dirs: Sequence[Path],
              depends: Sequence[Path] = ()) -> str:
    """Content hash of everything a build depends on (see the module docstring)."""
    h = hashlib.sha256()
    h.update(compiler_version().encode())
    h.update("\0".join(flags).encode())
    for path in sorted(ap_types_dir().iterdir()):  # another hls4ml release: same path, new files
        if path.is_file():
            stat = path.stat()
            h.update(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    for path in [*sources, *depends, *_headers([*include_dirs, LIB_DIR])]:
        h.update(b"\0" + path.name.encode() + b"\0")
        h.update(path.read_bytes())
    return h.hexdigest()[:20]


DEFAULT_BUILD_TIMEOUT = 3600.0   # seconds; ERN_CSIM_TIMEOUT overrides


def build(sources: Sequence[Path], *, include_dirs: Sequence[Path] = (),
          defines: Optional[Dict[str, object]] = None, opt: str = "-O1", werror: bool = False,
          extra_flags: Sequence[str] = (), depends: Sequence[Path] = (), name: str = "csim",
          cache_dir: Optional[Path] = None, nice: bool = True, timeout: Optional[float] = None) -> Path:
    """Compile and link `sources` into an executable, or return the cached one.

    include_dirs: searched before hls/lib/ and ap_types; their headers (.h, .hpp, .inc) are part
        of the cache key.
    depends: further files the build reads (e.g. included .cpp files), hashed into the key.
    werror: turn warnings into errors (the library's own tests do).
    nice: compile at lower priority (the machine is shared).
    timeout: seconds before the compiler is stopped (default $ERN_CSIM_TIMEOUT or 3600: a big
        generated top takes minutes on a loaded 2-core machine; this only guards against hangs).
    Raises CsimError with the compiler's output when the build fails or times out.
    """
    check_model_name(name, "build name")   # one path component under the cache, never ../
    sources = [Path(s).resolve() for s in sources]
    include_dirs = [Path(d).resolve() for d in include_dirs]
    flags = compile_flags(include_dirs, defines, opt, werror, extra_flags)
    key = build_key(sources, flags, include_dirs, [Path(p).resolve() for p in depends])
    out_dir = Path(cache_dir or CACHE_DIR) / f"{name}-{key}"
    exe = out_dir / name
    if exe.is_file():
        return exe
    out_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=out_dir)
    os.close(fd)
    cmd = [compiler(), *flags, *map(str, sources), "-o", tmp]
    if nice and shutil.which("nice"):
        cmd = ["nice", "-n", "10", *cmd]
    if timeout is None:
        timeout = float(os.environ.get("ERN_CSIM_TIMEOUT", DEFAULT_BUILD_TIMEOUT))
    try:
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise CsimError(f"g++ did not finish {' '.join(s.name for s in sources)} within {timeout:.0f} s "
                            f"(an overloaded machine? raise ERN_CSIM_TIMEOUT)") from None
        if proc.returncode != 0:
            raise CsimError(f"compile failed ({' '.join(s.name for s in sources)}):\n"
                            f"{_tail(proc.stderr + proc.stdout)}")
        (out_dir / "build.log").write_text(" ".join(cmd) + "\n" + proc.stderr)
        os.replace(tmp, exe)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return exe


def run(exe: Path, args: Sequence[object] = (), *, cwd: Optional[Path] = None, timeout: float = 600,
        check: bool = True) -> subprocess.CompletedProcess:
    """Run a C-simulation executable; with check, a non-zero exit raises CsimError with the
    end of its output."""
    try:
        proc = subprocess.run([str(exe), *map(str, args)], cwd=cwd, capture_output=True, text=True,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise CsimError(f"{Path(exe).name} {' '.join(map(str, args))} did not finish within {timeout:.0f} s") from None
    if check and proc.returncode != 0:
        raise CsimError(f"{Path(exe).name} {' '.join(map(str, args))} exited with "
                        f"{proc.returncode}:\n{_tail(proc.stdout + proc.stderr)}")
    return proc


def _tail(text: str, lines: int = 60) -> str:
    rows = text.strip().splitlines()
    if len(rows) > lines:
        rows = [f"... ({len(rows) - lines} lines above)"] + rows[-lines:]
    return "\n".join(rows)
