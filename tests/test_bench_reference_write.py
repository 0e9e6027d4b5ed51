"""benchmarks/bench_reference.py --write: its section is replaced in place and the rest of the
shared results file (preamble, other sections, their order) is kept as it was."""
from script_helpers import load_script


def load_bench():
    return load_script("benchmarks/bench_reference.py")


RESULTS = """# Results

Preamble that must stay.

## Training

| a | b |

## ern_tiny

old ern_tiny figures

## Bit-width trade-off

<!-- tradeoff:begin -->
kept
<!-- tradeoff:end -->
"""


def test_section_is_replaced_in_place(tmp_path):
    path = tmp_path / "RESULTS.md"
    path.write_text(RESULTS)
    load_bench().write_section(path, "ern_tiny", "new ern_tiny figures\n")
    assert path.read_text() == RESULTS.replace("old ern_tiny figures", "new ern_tiny figures")


def test_missing_section_is_appended_after_everything(tmp_path):
    path = tmp_path / "RESULTS.md"
    path.write_text(RESULTS)
    load_bench().write_section(path, "cnv_w1a2", "cnv figures")
    text = path.read_text()
    assert text.startswith(RESULTS) and text.endswith("## cnv_w1a2\n\ncnv figures\n")


def test_new_file_gets_a_title(tmp_path):
    path = tmp_path / "out.md"
    bench = load_bench()
    bench.write_section(path, "ern_tiny", "figures")
    assert path.read_text() == bench.TITLE + "\n## ern_tiny\n\nfigures\n"
