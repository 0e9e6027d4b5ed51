"""The estimate is the generated design: estimate.json and the generated C++ folder agree on every
FIFO (width, depth, storage), every weight / threshold / direction memory (banks, width, depth,
storage) and every width converter.

Both come from the command lines users run (`python -m hls.estimate`, `python -m hls.codegen`)
on the same package and folding file. The generated side is read from the C++ text with this
file's own regexes (hls::stream declarations, STREAM / BIND_STORAGE / ARRAY_RESHAPE /
ARRAY_PARTITION pragmas, the array declarations of params_*.h, the width_convert calls), not
from the generator's objects, so a pragma the generator writes differently from what the
estimate prices is caught. The last tests tamper with the text and expect the check to say so.
"""
import json
import math
import re
from pathlib import Path

import pytest

from codegen_helpers import cnv_like, random_ern
from hls.codegen.__main__ import main as codegen_main
from hls.perf.estimate import main as estimate_main
from hls.lower import lower
from host.package import save
from lower_helpers import ternary_cnn

REPO = Path(__file__).resolve().parents[1]

# -- the generated text, read on its own ---------------------------------------------------------

STREAM_DECL = re.compile(r'hls::stream<ap_uint<(\d+)> > (\w+)\("\w+"\);')
STREAM_DEPTH = re.compile(r"#pragma HLS STREAM variable=(\w+) depth=(\d+)")
FIFO_IMPL = re.compile(r"#pragma HLS BIND_STORAGE variable=(\w+) type=fifo impl=(\w+)")
# constant arrays are ROMs; weights in UltraRAM are RAMs the loader writes (one port) and the MVU reads
ROM_IMPL = re.compile(r"#pragma HLS BIND_STORAGE variable=(\w+) type=(?:rom_1p|ram_s2p) impl=(\w+)")
RESHAPE = re.compile(r"#pragma HLS ARRAY_RESHAPE variable=(\w+) complete dim=(\d+)")
PARTITION = re.compile(r"#pragma HLS ARRAY_PARTITION variable=(\w+) complete dim=(\d+)")
ARRAY = re.compile(r"static (?:const )?ap_u?int<(\d+)> (\w+)((?:\[\d+\])+)(?: =|;)")
CONVERTER = re.compile(r'ERN_PROCESS\("([^"]+)",\s*ern::width_convert<[^>]*/\*IN_PE\*/ (\d+), '
                       r'/\*OUT_PE\*/ (\d+), /\*BITS\*/ (\d+)>\((\w+),\s*(\w+),\s*frames\)\)')


def generated_fifos(top: str) -> dict:
    widths = {ident: int(w) for w, ident in STREAM_DECL.findall(top)}
    depths = {ident: int(d) for ident, d in STREAM_DEPTH.findall(top)}
    impls = dict(FIFO_IMPL.findall(top))
    return {i: {"width": widths.get(i), "depth": depths.get(i), "storage": impls.get(i)}
            for i in set(widths) | set(depths) | set(impls)}


def generated_memories(top: str, headers: str) -> dict:
    """{array: {banks, depth, width, storage}} from the declarations and the pragmas: reshaped
    dimensions widen the word, partitioned ones make banks (dim=0: every element a register)."""
    reshape, partition = {}, {}
    for ident, d in RESHAPE.findall(top):
        reshape.setdefault(ident, set()).add(int(d))
    for ident, d in PARTITION.findall(top):
        partition.setdefault(ident, set()).add(int(d))
    impls = dict(ROM_IMPL.findall(top))
    out = {}
    for bits, ident, dims_text in ARRAY.findall(headers):
        dims = [int(x) for x in re.findall(r"\[(\d+)\]", dims_text)]
        banks, depth, width = 1, 1, int(bits)
        if 0 in partition.get(ident, ()):
            out[ident] = {"banks": 1, "depth": 1, "width": width * math.prod(dims), "storage": "reg"}
            continue
        for i, d in enumerate(dims, start=1):
            if i in reshape.get(ident, ()):
                width *= d
            elif i in partition.get(ident, ()):
                banks *= d
            else:
                depth *= d
        out[ident] = {"banks": banks, "depth": depth, "width": width, "storage": impls.get(ident)}
    return out


def generated_converters(top: str) -> dict:
    return {name: {"in": a, "out": b, "in_width": int(i) * int(bits), "out_width": int(o) * int(bits)}
            for name, i, o, bits, a, b in CONVERTER.findall(top)}


def disagreements(est: dict, top: str, headers: str) -> list:
    """Every way estimate.json and the generated text differ (empty: they agree)."""
    bad = []

    def compare(kind, theirs: dict, ours: dict, keys):
        for name in sorted(set(theirs) | set(ours)):
            if name not in ours:
                bad.append(f"{kind} {name}: generated, not in estimate.json")
            elif name not in theirs:
                bad.append(f"{kind} {name}: in estimate.json, not generated")
            else:
                for k in keys:
                    if theirs[name][k] != ours[name][k]:
                        bad.append(f"{kind} {name}: {k} generated {theirs[name][k]!r}, "
                                   f"estimate {ours[name][k]!r}")

    compare("FIFO", generated_fifos(top), {f["fifo"]: f for f in est["fifos"]},
            ("width", "depth", "storage"))
    compare("memory", generated_memories(top, headers), {m["param"]: m for m in est["memories"]},
            ("banks", "depth", "width", "storage"))
    compare("converter", generated_converters(top), {c["process"]: c for c in est["converters"]},
            ("in", "out", "in_width", "out_width"))
    # what is priced follows the storage: block RAM exactly where the estimate says BRAM
    for rec in est["fifos"] + est["memories"]:
        name = rec.get("fifo") or rec.get("param")
        if (rec["storage"] == "bram") != (rec["bram36"] > 0):
            bad.append(f"{name}: storage {rec['storage']} priced at {rec['bram36']} BRAM36")
        if (rec["storage"] == "uram") != (rec.get("uram", 0) > 0):
            bad.append(f"{name}: storage {rec['storage']} priced at {rec.get('uram', 0)} URAM")
    return bad


# -- the two command lines on one package and folding --------------------------------------------

def run_both(tmp_path: Path, package, folding, board: str = "pynq-z2"):
    """(estimate.json, ern_top.cpp text, params headers text) for `folding` (None: the search)."""
    pkg = tmp_path / "dataflow"
    save(package, pkg)
    est_path = tmp_path / "estimate.json"
    args = ["--package", str(pkg), "--out", str(est_path), "--quiet", "--budget-lut-pct", "100",
            "--budget-bram-pct", "100", "--board", board]
    fold_file = None
    if folding is not None:
        fold_file = tmp_path / "fold.json"
        fold_file.write_text(json.dumps(folding))
        args += ["--folding", str(fold_file)]
    assert estimate_main(args) == 0
    est = json.loads(est_path.read_text())
    assert est["priced_from"].startswith("the generated dataflow")
    hls_dir = tmp_path / "hls"
    # the user's flow: the folding file itself (completed by codegen as by the estimate), or the
    # folding the estimate saved when it searched
    assert codegen_main(["--package", str(pkg), "--folding", str(fold_file or est["folding_file"]),
                         "--out", str(hls_dir), "--board", board]) == 0
    headers = "".join(p.read_text() for p in sorted(hls_dir.glob("params_*.h")))
    return est, (hls_dir / "ern_top.cpp").read_text(), headers



def _uram(package_folding, layers=("b1.conv1", "b2.conv2")):
    package, folding = package_folding
    return package, {k: dict(v, **({"mem": "uram"} if k in layers else {})) for k, v in folding.items()}


BOARD = {"ern weights in uram (kv260)": "kv260"}
FOLDINGS = {
    "ern helper folding": lambda: random_ern(0),
    # weights in UltraRAM, written by the loader: non-const arrays bound to ram_s2p impl=uram
    "ern weights in uram (kv260)": lambda: _uram(random_ern(0)),
    "ern partial folding": lambda: (random_ern(0)[0], {"b2.conv2": {"pe": 16, "simd": 16},
                                                       "stem": {"pe": 4, "simd": 4}}),
    "ern search": lambda: (random_ern(1)[0], None),
    # full PE on thresholded layers: one-word threshold arrays become constants (storage 'reg')
    "ern fully parallel": lambda: (random_ern(2)[0], {"embed": {"pe": 4}, "stem": {"pe": 8, "simd": 4},
                                                     "b1.act": {"pe": 8}, "head.act": {"pe": 16},
                                                     "b2.conv1": {"pe": 16, "simd": 8}}),
    "cnv-like helper folding": lambda: cnv_like(0),
    # ternary weights (Conv `zeros`): the sign plane and the nonzero mask in one word
    "ternary convs": lambda: (lower(ternary_cnn(), "ternary"), {"Conv_0": {"pe": 4, "simd": 1},
                                                               "Conv_1": {"pe": 2, "simd": 8}}),
}


@pytest.mark.parametrize("case", sorted(FOLDINGS))
def test_estimate_and_generated_folder_agree(tmp_path, case):
    package, folding = FOLDINGS[case]()
    est, top, headers = run_both(tmp_path, package, folding, BOARD.get(case, "pynq-z2"))
    assert est["fifos"] and est["memories"]
    assert disagreements(est, top, headers) == []
    if case in BOARD:
        urams = [m for m in est["memories"] if m["storage"] == "uram"]
        assert [m["layer"] for m in urams] == ["b1.conv1", "b2.conv2"]
        assert est["uram"] == sum(m["uram"] for m in urams) > 0
    if case == "ern fully parallel":
        assert {m["param"] for m in est["memories"] if m["storage"] == "reg"} >= \
            {"embed_thresholds", "stem_thresholds", "b1_act_thresholds", "head_act_thresholds"}
    # the totals are the sums of what is listed (nothing priced that is not emitted)
    listed = sum(f["bram36"] for f in est["fifos"]) + sum(m["bram36"] for m in est["memories"])
    internal = sum(v.get("bram36", 0) for l in est["layers"] for k, v in l["resources"].items()
                   if k not in ("weights", "thresholds", "direction"))
    assert est["bram36"] == pytest.approx(listed + internal + est["shell"]["bram36"])


COMMITTED = {"ern_tiny": "hls/foldings/ern_tiny.json", "cnv_w1a2": "hls/foldings/cnv_w1a2_bnn_pynq.json"}


@pytest.mark.parametrize("name", sorted(COMMITTED))
def test_committed_models_estimate_and_generated_folder_agree(tmp_path, name):
    """The committed checkpoints (models/<m>/model.pt), exported with the fast TorchScript path
    and lowered (~10 s each), under the foldings `make estimate` uses for them."""
    from hls.lower import lower
    from lower_helpers import export_fast
    from training import checkpoint
    model, ckpt = checkpoint.load_model(REPO / "models" / name / "model.pt", expected_model=name)
    package = lower(export_fast(model, ckpt["in_channels"], 28, 28, tmp_path / "model.onnx"), name)
    folding = json.loads((REPO / COMMITTED[name]).read_text())
    layers = [k for k in folding if not k.startswith("_")]
    if set(layers) != {l.name for l in package.layers}:
        # the TorchScript export names the FC layers MatMul_i where `make export` says Gemm_i:
        # the same layers in the same order
        assert len(layers) == len(package.layers)
        renamed = {k: l.name for k, l in zip(layers, package.layers)}
        folding = {**{k: v for k, v in folding.items() if k.startswith("_")},
                   **{l.name: folding[k] for k, l in zip(layers, package.layers)}}
        if "_fifo_depths" in folding:      # FIFO identifiers carry the layer name: s_<layer>[_...]
            def rename(ident):
                for old, new in sorted(renamed.items(), key=lambda kv: -len(kv[0])):
                    if ident == f"s_{old}" or ident.startswith(f"s_{old}_"):
                        return f"s_{new}" + ident[len(f"s_{old}"):]
                return ident
            folding["_fifo_depths"] = {rename(k): v for k, v in folding["_fifo_depths"].items()}
    est, top, headers = run_both(tmp_path, package, folding)
    assert disagreements(est, top, headers) == []
    assert len(est["fifos"]) > 10 and len(est["memories"]) >= 3 * sum(l.op == "Conv" for l in package.layers) // 2
    if name == "ern_tiny":   # the review's case: the skip FIFO is 2-bit, on the Duplicate, in BRAM
        skip = next(f for f in est["fifos"] if f["fifo"] == "s_Duplicate_0_0")
        assert skip["width"] == 2 and skip["depth"] > 4000 and skip["storage"] == "bram"


# -- the check can fail --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def agreed(tmp_path_factory):
    est, top, headers = run_both(tmp_path_factory.mktemp("agreed"), *random_ern(0))
    assert disagreements(est, top, headers) == []
    return est, top, headers


def test_a_tampered_fifo_depth_is_reported(agreed):
    est, top, headers = agreed
    fifo = max(est["fifos"], key=lambda f: f["depth"])
    pragma = f"#pragma HLS STREAM variable={fifo['fifo']} depth={fifo['depth']}"
    assert pragma in top
    bad = disagreements(est, top.replace(pragma, pragma + "1"), headers)
    assert bad == [f"FIFO {fifo['fifo']}: depth generated {int(str(fifo['depth']) + '1')}, "
                   f"estimate {fifo['depth']}"]


def test_tampered_storage_weights_and_converters_are_reported(agreed):
    est, top, headers = agreed
    w = next(m for m in est["memories"] if m["role"] == "weights" and m["storage"] == "lutram")
    impl = f"variable={w['param']} type=rom_1p impl=lutram"
    assert any(w["param"] in b for b in disagreements(est, top.replace(impl, impl.replace("lutram", "bram")),
                                                      headers))
    # one bank per PE (what the code did before ARRAY_RESHAPE) is a different memory
    reshape = f"#pragma HLS ARRAY_RESHAPE variable={w['param']} complete dim=1"
    partitioned = top.replace(reshape, reshape.replace("ARRAY_RESHAPE", "ARRAY_PARTITION"))
    assert any(f"memory {w['param']}: banks" in b for b in disagreements(est, partitioned, headers))
    decl = re.search(rf"{w['param']}\[(\d+)\]", headers)
    wider = headers.replace(decl.group(0), f"{w['param']}[{int(decl.group(1)) * 2}]")
    assert any(f"memory {w['param']}: width" in b for b in disagreements(est, top, wider))
    conv = est["converters"][0]
    gone = re.sub(rf'ERN_PROCESS\("{re.escape(conv["process"])}"', 'ERN_PROCESS("x"', top)
    assert f"converter {conv['process']}: in estimate.json, not generated" in disagreements(est, gone, headers)
    fifo = next(f for f in est["fifos"] if f["storage"] == "srl")
    srl = f"variable={fifo['fifo']} type=fifo impl=srl"
    assert f"FIFO {fifo['fifo']}: storage generated 'lutram', estimate 'srl'" in \
        disagreements(est, top.replace(srl, srl.replace("srl", "lutram")), headers)


# -- one set of folding rules ---------------------------------------------------------------------

BAD_FOLDS = [
    {"b1.conv1": {"pe": 3, "simd": 8}},                      # C_out % PE
    {"b1.conv1": {"pe": 2, "simd": 3}},                      # C_in % SIMD
    {"b2.conv2": {"pe": 16, "simd": 16, "out_pe": 3}},       # PE % OUT_PE
    {"b2.conv2": {"pe": 16, "simd": 16, "out_pe": 1}},       # PE / OUT_PE > SF
    {"b1.conv1": {"pe": 2, "simd": 8, "mem": "fast"}},
    {"b1.add": {"pe": 3}},                                   # channels % PE
    {"embed": {"pe": 5}},                                    # Thermometer: output channels % PE
    {"fork1": {"pe": 2, "simd": 2}},                         # a key the op does not take
]


@pytest.mark.parametrize("bad", BAD_FOLDS, ids=lambda b: json.dumps(b))
def test_the_generator_and_the_estimate_reject_a_folding_with_the_same_line(tmp_path, bad):
    from hls.codegen import CodegenError, build
    from hls.perf.estimate import load_graph
    from hls.perf.folding import FoldingError, validate_folding
    package, folding = random_ern(0)
    save(package, tmp_path)
    with pytest.raises(CodegenError) as gen:
        build(package, dict(folding, **bad))
    with pytest.raises(FoldingError) as est:
        validate_folding(dict(folding, **bad), load_graph(tmp_path), "f.json")
    assert str(est.value) == f"f.json: {gen.value}"
    assert "\n" not in str(gen.value) and str(gen.value).startswith(f"layer {next(iter(bad))!r}")


def test_layers_no_folding_can_make_stop_the_estimate_as_they_stop_the_generator(tmp_path):
    """Only the generator knew these before: a Duplicate of 4 outputs, an MVU reading a signed
    stream."""
    from hls.perf.opmodels import EstimateError, Graph
    package, _ = random_ern(0)
    model = json.loads((save(package, tmp_path) / "model.json").read_text())
    fork = next(l for l in model["layers"] if l["op"] == "Duplicate")
    for k in range(2):
        name = f"{fork['outputs'][0]}_extra{k}"
        model["streams"][name] = dict(model["streams"][fork["outputs"][0]])
        fork["outputs"].append(name)
    with pytest.raises(EstimateError, match=rf"layer '{fork['name']}' \(Duplicate\): 4 outputs; "
                                            r"hls/lib/duplicate.h forks into 2 or 3"):
        Graph(model)
    model = json.loads((tmp_path / "model.json").read_text())
    conv = next(l for l in model["layers"] if l["op"] == "Conv")
    model["streams"][conv["inputs"][0]]["signed"] = True
    with pytest.raises(EstimateError, match=rf"layer '{conv['name']}' \(Conv\): reads a signed stream"):
        Graph(model)


# -- a folding's `_fifo_depths`: one reader, read by both sides ----------------------------------

def test_fifo_depths_in_the_folding_reach_codegen_and_the_estimate(tmp_path):
    from hls.codegen import build
    package, folding = random_ern(0)
    df = build(package, folding)
    plain = next(f for f in df.fifos if f.depth == 2 and f.width >= 8)
    skip = max(df.fifos, key=lambda f: f.depth)
    depths = {plain.ident: 200, skip.ident: skip.depth + 3}
    est, top, headers = run_both(tmp_path, package, dict(folding, _fifo_depths=depths))
    assert disagreements(est, top, headers) == []
    priced = {f["fifo"]: f for f in est["fifos"]}
    for name, depth in depths.items():
        assert priced[name]["depth"] == depth
        assert f"#pragma HLS STREAM variable={name} depth={depth}" in top
    assert priced[plain.ident]["storage"] != "srl"     # 200 words: a RAM FIFO, priced as such
    assert "FIFO depths sized" in est["mode"]


@pytest.mark.parametrize("which", ["unknown", "below the skip rule", "not a number"])
def test_bad_fifo_depths_are_one_line_errors_on_both_sides(tmp_path, capsys, which):
    from hls.codegen import build
    package, folding = random_ern(0)
    skip = max(build(package, folding).fifos, key=lambda f: f.depth)
    bad = {"unknown": {"s_nosuch": 8}, "below the skip rule": {skip.ident: 2},
           "not a number": {skip.ident: "deep"}}[which]
    expect = {"unknown": "_fifo_depths names FIFO 's_nosuch', which this design does not have",
              "below the skip rule": f"skip FIFO {skip.ident!r} depth 2 is below its deadlock-safe depth {skip.depth}",
              "not a number": "_fifo_depths must be"}[which]
    pkg = tmp_path / "dataflow"
    save(package, pkg)
    fold_file = tmp_path / "fold.json"
    fold_file.write_text(json.dumps(dict(folding, _fifo_depths=bad)))
    capsys.readouterr()
    assert estimate_main(["--package", str(pkg), "--out", str(tmp_path / "e.json"), "--quiet",
                          "--folding", str(fold_file)]) == 2
    assert codegen_main(["--package", str(pkg), "--folding", str(fold_file), "--out", str(tmp_path / "h")]) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 2 and all(expect in line for line in lines), err
