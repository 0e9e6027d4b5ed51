"""Compile and run HLS C++ with g++ and the Xilinx ap_types headers (C-simulation).

The builder is host/cxx.py (the one C++ build service: ap_types lookup, compiler check, content
key, temporary name + rename, ERN_CSIM_TIMEOUT); this module adds what a C-simulation build
is: C++14, -Wall without the ap_types' noise, the layer library hls/lib/ always on the include
path, and the cache under build/csim_cache/.

    from hls import csim
    exe = csim.build([Path("tb.cpp")], include_dirs=[Path("gen")], name="tb")
    result = csim.run(exe, ["case0", "data/"])
"""
import subprocess
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from host import cxx
from host.cxx import ap_types_dir  # noqa: F401  (the headers' folder, for callers)

REPO = Path(__file__).resolve().parents[1]
LIB_DIR = REPO / "hls" / "lib"                   # the layer library (always on the include path)
CACHE_DIR = cxx.default_cache_dir()             # build/csim_cache/ (gitignored), or $ERN_CSIM_CACHE

CXX_STD = "-std=c++14"
# -Wall for our code. The ap_types headers come in through -isystem, but some of their
# (maybe-)uninitialized warnings are reported where they are inlined into our code, hence the
# two -Wno-; unknown-pragmas are the HLS pragmas g++ does not know.
WARNING_FLAGS = ("-Wall", "-Wno-unknown-pragmas", "-Wno-maybe-uninitialized", "-Wno-uninitialized")

CsimError = cxx.CxxError   # the name callers catch: a build or a run that failed (one line)


def compile_flags(defines: Optional[Dict[str, object]] = None, opt: str = "-O1", werror: bool = False,
                  extra_flags: Sequence[str] = ()) -> List[str]:
    """The g++ flags of a C-simulation build (without include folders, sources and output)."""
    flags = [CXX_STD, opt, *WARNING_FLAGS]
    if werror:
        flags.append("-Werror")
    flags += list(extra_flags)
    for name, value in sorted((defines or {}).items()):
        flags.append(f"-D{name}" if value is None else f"-D{name}={value}")
    return flags


def build(sources: Sequence[Path], *, include_dirs: Sequence[Path] = (),
          defines: Optional[Dict[str, object]] = None, opt: str = "-O1", werror: bool = False,
          extra_flags: Sequence[str] = (), depends: Sequence[Path] = (), name: str = "csim",
          cache_dir: Optional[Path] = None, nice: bool = True, timeout: Optional[float] = None) -> Path:
    """Compile and link `sources` into an executable (a shared library with -shared in
    extra_flags), or return the cached one (host.cxx.build).

    include_dirs: searched before hls/lib/ and ap_types; their headers are part of the key.
    depends: further files the build reads (e.g. included .cpp files), hashed into the key.
    werror: turn warnings into errors (the library's own tests do).
    Raises CsimError (one line) when the build fails or times out.
    """
    return cxx.build(sources, compile_flags(defines, opt, werror, extra_flags),
                     include_dirs=[*include_dirs, LIB_DIR], depends=depends, name=name,
                     cache_dir=cache_dir or CACHE_DIR, nice=nice, timeout=timeout)


def run(exe: Path, args: Sequence[object] = (), *, cwd: Optional[Path] = None, timeout: float = 600,
        check: bool = True) -> subprocess.CompletedProcess:
    """Run a C-simulation executable; with check, a non-zero exit raises CsimError: one line
    ending with the program's last line of output (all of it in the error's `output`)."""
    what = f"{Path(exe).name} {' '.join(map(str, args))}".strip()
    try:
        proc = subprocess.run([str(exe), *map(str, args)], cwd=cwd, capture_output=True, text=True,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise CsimError(f"{what} did not finish within {timeout:.0f} s") from None
    if check and proc.returncode != 0:
        output = (proc.stdout + proc.stderr).strip()
        error = CsimError(f"{what} exited with {proc.returncode}: "
                          f"{(output.splitlines() or ['no output'])[-1].strip()}")
        error.output = output
        raise error
    return proc
