"""host/cxx.py, the one C++ builder (C-simulation and emulation both build through it): the
content key, the cache across folders, concurrent builds, and its one-line errors."""
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

from host import cxx
from host.errors import CHECK, USAGE

pytestmark = pytest.mark.skipif(shutil.which(os.environ.get("CXX", "g++")) is None, reason="no g++")

FLAGS = ["-std=c++14", "-O0"]
MAIN = '#include <ap_int.h>\n#include "answer.h"\nint main() { ap_uint<7> x = ANSWER; return x.to_int() - 42; }\n'


def sources(folder, answer=42):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "main.cpp").write_text(MAIN)
    (folder / "answer.h").write_text(f"#define ANSWER {answer}\n")
    return [folder / "main.cpp"]


def test_the_key_follows_content_not_folders(tmp_path):
    cache = tmp_path / "cache"
    exe = cxx.build(sources(tmp_path / "a"), FLAGS, include_dirs=[tmp_path / "a"], name="t", cache_dir=cache)
    assert subprocess.run([str(exe)]).returncode == 0
    # the same sources generated into another folder: the same build, not compiled again
    again = cxx.build(sources(tmp_path / "b"), FLAGS, include_dirs=[tmp_path / "b"], name="t", cache_dir=cache)
    assert again == exe
    # a header's content, a flag: another build
    other = cxx.build(sources(tmp_path / "c", 41), FLAGS, include_dirs=[tmp_path / "c"], name="t", cache_dir=cache)
    assert other != exe and subprocess.run([str(other)]).returncode != 0
    assert cxx.build(sources(tmp_path / "a"), FLAGS + ["-DERN_TEST_FLAG"], include_dirs=[tmp_path / "a"], name="t",
                     cache_dir=cache) not in (exe, other)


def test_concurrent_builds_of_one_thing_give_one_whole_result(tmp_path):
    src = sources(tmp_path / "s")
    with ThreadPoolExecutor(max_workers=3) as pool:
        built = list(pool.map(lambda _: cxx.build(src, FLAGS, include_dirs=[tmp_path / "s"], name="race",
                                                  cache_dir=tmp_path / "cache", nice=False), range(3)))
    assert len(set(built)) == 1 and subprocess.run([str(built[0])]).returncode == 0
    assert [p.name for p in built[0].parent.iterdir() if p.name.startswith(".race.")] == []   # no temporaries


def test_a_failed_build_is_one_line_naming_the_first_error_and_the_log(tmp_path):
    bad = tmp_path / "bad.cpp"
    bad.write_text("int main() { return undeclared; }\n")
    with pytest.raises(cxx.CxxError) as e:
        cxx.build([bad], FLAGS, name="bad", cache_dir=tmp_path / "cache")
    message = str(e.value)
    assert "\n" not in message and "undeclared" in message and "full output:" in message
    assert e.value.exit_code == CHECK
    log = message.rsplit("full output: ", 1)[1].rstrip(")")
    assert "undeclared" in open(log).read()


def test_no_compiler_or_no_headers_is_a_setup_error(tmp_path, monkeypatch):
    monkeypatch.setenv("CXX", "no-such-compiler")
    cxx.compiler.cache_clear()
    try:
        with pytest.raises(cxx.CxxSetupError, match="'no-such-compiler' not found") as e:
            cxx.compiler()
        assert e.value.exit_code == USAGE
    finally:
        monkeypatch.undo()
        cxx.compiler.cache_clear()
    monkeypatch.setenv("ERN_AP_TYPES", str(tmp_path))
    cxx.ap_types_dir.cache_clear()
    try:
        with pytest.raises(cxx.CxxSetupError, match="no ap_int.h"):
            cxx.ap_types_dir()
    finally:
        monkeypatch.undo()
        cxx.ap_types_dir.cache_clear()
