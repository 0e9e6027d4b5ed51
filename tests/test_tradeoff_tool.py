"""tools/tradeoff.py without training: the table, the markers in the results file, the plot,
and the one-line error for an unknown variant."""
import pytest

from script_helpers import load_script


def load_tool():
    return load_script("tools/tradeoff.py")


ROWS = [{"model": "ern_tiny_w1p4a2", "weight_bits": 1.401, "act_bits": 2, "epochs": 3, "top1": 90.5,
         "fps": 1234.5, "lut": 20345, "bram36": 80.5, "fits": True, "csim_images": 20, "csim_mismatches": 0,
         "commands": ["python -m training.export --model ern_tiny_w1p4a2"]},
        {"model": "ern_tiny_w2a1", "weight_bits": 2.0, "act_bits": 1, "epochs": 3, "top1": 88.0,
         "fps": 999.0, "lut": 30000, "bram36": 120, "fits": False, "csim_images": 0, "csim_mismatches": None,
         "commands": ["a", "b"]}]


def test_table_has_a_row_per_variant_with_its_commands():
    text = load_tool().table(ROWS)
    lines = text.strip().splitlines()
    assert len(lines) == 4
    assert "| `ern_tiny_w1p4a2` | 1.40 | 2 | 3 | 90.50 | 1,234 | 20,345 | 80.5 | yes | 20, 0 |" in lines[2]
    assert lines[2].endswith("`python -m training.export --model ern_tiny_w1p4a2` |")
    assert "| no | - | `a`<br>`b` |" in lines[3]


def test_write_table_replaces_only_between_the_markers(tmp_path):
    tool = load_tool()
    results = tmp_path / "RESULTS.md"
    results.write_text("# Results\n\nkept\n")
    tool.write_table(results, "first\n", "python tools/tradeoff.py")
    tool.write_table(results, tool.table(ROWS), "python tools/tradeoff.py --epochs 3")
    text = results.read_text()
    assert text.startswith("# Results\n\nkept\n") and text.count(tool.BEGIN) == 1
    assert "first" not in text and "`ern_tiny_w2a1`" in text and "--epochs 3" in text


def test_plot_writes_a_png(tmp_path):
    load_tool().plot(ROWS, tmp_path / "t.png")
    assert (tmp_path / "t.png").read_bytes()[:4] == b"\x89PNG"


def test_unknown_variant_is_one_line(capsys):
    assert load_tool().main(["--variants", "ern_tiny_w9a9"]) == 2
    assert capsys.readouterr().err == "tradeoff: error: unknown ERN variant 'ern_tiny_w9a9' (zoo: " \
        + ", ".join(sorted(__import__("training.models", fromlist=["ZOO"]).ZOO)) + ")\n"


def test_training_commands_come_from_the_checkpoints_log(tmp_path):
    log = tmp_path / "train.log"
    log.write_text("# 2026-11-23 14:58:27 python -m training.train --model ern_tiny --epochs 8 "
                   "(world=1, device=cpu, threads=1)\n"
                   "# 2026-11-23 15:34:42 python -m training.train --model ern_tiny --epochs 20 --resume "
                   "(world=1, device=cpu, threads=1)\n")
    tool = load_tool()
    assert tool.training_commands(log) == ["python -m training.train --model ern_tiny --epochs 8",
                                           "python -m training.train --model ern_tiny --epochs 20 --resume"]
    assert tool.training_commands(tmp_path / "missing.log") == []


def test_write_table_links_the_plot(tmp_path):
    tool = load_tool()
    results = tmp_path / "RESULTS.md"
    tool.write_table(results, tool.table(ROWS), "python tools/tradeoff.py", "tradeoff.png")
    assert "![accuracy vs bit widths](tradeoff.png)" in results.read_text()


def test_unknown_csim_variant_is_one_line(capsys):
    assert load_tool().main(["--variants", "ern_tiny", "--csim-variants", "ern_tiny_w7a2"]) == 2
    assert "unknown ERN variant 'ern_tiny_w7a2'" in capsys.readouterr().err


def test_commands_name_the_interpreter_python():
    import sys
    tool = load_tool()
    assert tool.command_text([sys.executable, "-m", "hls.estimate", "--out", "a b"]) == \
        "python -m hls.estimate --out 'a b'"
