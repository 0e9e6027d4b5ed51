"""The folder to copy to a PYNQ-Z2: `make deploy MODEL=...` -> build/<model>/deploy/.

    python -m host.deploy --model ern_tiny [--samples 1000] [--out build/ern_tiny/deploy]

Contents (host/artifacts.py finds them there, so the notebook and `python host/bench.py` run
from the folder unchanged):

    deploy.json                 what is in it (model, bitstream or not, package digest, samples)
    README.md                   how to put it on a board
    ern_pynq_z2.ipynb           the notebook
    host/  setup.py             the host library (numpy + pynq), installable into the pynq venv
    dataflow/                   the model package (model.json, params.npz)
    overlay/<m>.bit, <m>.hwh    the bitstream, when `make overlay` has built it
    hls/interface.json          the accelerator's interface, when `make hls` has generated it
    estimate.json               the predicted FPS, when `make estimate` has run
    samples/                    test images (uint8 N x H x W x C), labels, class names, and the
                                CPU reference's expected class sums, logits and labels (.npy)

Needs the model package (make lower) and the test set (Fashion-MNIST IDX files, or CIFAR-10);
the rest is copied when it exists. Prints one line per item and a summary; on an error one line
`deploy: error: ...` and exit 2 (host/errors.py).
"""
import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import List, Optional

if __package__ in (None, ""):  # run as a script: python host/deploy.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from host import boards, datasets  # noqa: E402
from host.artifacts import DEPLOY_MANIFEST, Artifacts, repo_root  # noqa: E402
from host.driver import package_digest  # noqa: E402
from host.errors import ErnError, cli, fail  # noqa: E402
from host.names import model_name_arg, positive_int  # noqa: E402
from host.package import load, save  # noqa: E402
from host.reference import Reference  # noqa: E402

NOTEBOOK = repo_root() / "notebooks" / "ern_pynq_z2.ipynb"
BOARD_DIR = "/home/xilinx/jupyter_notebooks"
PYNQ_VENV = "/usr/local/share/pynq-venv"

SETUP_PY = '''"""pip install --no-deps --no-build-isolation .  (into the PYNQ image's venv: see README.md)"""
from setuptools import setup

setup(name="ern-host", version="0.1.0", packages=["host"], python_requires=">=3.10",
      description="ERN accelerator host library: model package, numpy reference, PYNQ driver")
'''


def readme(model: str, has_bit: bool, samples: int, dataset: str, board: str = boards.DEFAULT) -> str:
    name = f"{model}.bit"
    bit_note = ("" if has_bit else
                f"\n> **No bitstream in this folder.** `overlay/{name}` is built by `make overlay` "
                "on a machine with Vivado 2022.2 (after `make hls` with Vitis HLS); run "
                "`make deploy` again afterwards. Without it, on the board the notebook stops with "
                "'no bitstream'; off the board it (and the bench) run in emulation.\n")
    return f"""# {model} on a {boards.get(board).title}

Made by `make deploy MODEL={model} BOARD={board}`. Everything the board needs: the bitstream and its `.hwh`
(`overlay/`), the model package (`dataflow/`), the host library (`host/`: numpy + pynq, no
torch), {samples} test images ({dataset}) with the CPU reference's expected outputs (`samples/`),
and the notebook `ern_pynq_z2.ipynb`.
{bit_note}
## Put it on the board

The board runs the PYNQ v3.x image (Python 3.10, pynq 3.1 in `{PYNQ_VENV}`); the default
login is `xilinx` / `xilinx`.

1. Copy the folder (from the repository root):

       scp -r build/{model}/deploy xilinx@pynq:{BOARD_DIR}/{model}

2. Install the host library into the board's pynq venv (optional: the notebook and the bench
   find `host/` in this folder without it; installing makes `import host` work everywhere):

       ssh xilinx@pynq
       sudo -i                                   # root: pynq maps /dev/mem
       cd {BOARD_DIR}/{model}
       {PYNQ_VENV}/bin/pip install --no-deps --no-build-isolation .

   `--no-deps`: numpy and pynq come with the image; nothing is downloaded.

3. Run the notebook: open Jupyter (http://pynq:9090), `{model}/ern_pynq_z2.ipynb`, Run All.
   It loads `overlay/{name}`, classifies sample images, draws a confusion matrix and compares
   the accelerator's FPS with the CPU reference's; it checks the accelerator's class sums
   against the reference (they must be identical).

4. Or the bench from a shell (as root, in this folder):

       {PYNQ_VENV}/bin/python host/bench.py --images {samples}

   prints the accelerator (`hardware`) and the CPU reference rows, their top-1, whether the class
   sums are identical on every image, and `throughput_test()` (runtime, images/s, DRAM in/out
   bandwidth, fclk, batch size); writes `bench.json` and `bench.png` here.

## Use from Python

```python
from host.driver import ErnAccelerator
accel = ErnAccelerator("overlay/{name}", "dataflow")   # programs the PL
labels, scores = accel.classify(images)                # uint8 N x H x W x C
print(accel.throughput_test())
```

Every DMA wait has a deadline: a wrong bitstream raises `TimeoutError` (and resets the DMA)
instead of hanging; `accel.reload()` programs the logic again.

## Files

| path | what |
|---|---|
| `overlay/{model}.bit`, `.hwh` | bitstream and hardware handoff (pynq reads the `.hwh` beside the `.bit`) |
| `hls/interface.json` | stream widths, words per frame, register offsets, IP VLNV, package digest |
| `dataflow/` | the model package: the integer network and the head's scale |
| `samples/images.npy`, `labels.npy`, `classes.json` | test images (uint8 N x H x W x C), labels, class names |
| `samples/expected_class_sums.npy`, `expected_logits.npy`, `expected_labels.npy` | the CPU reference's outputs on them |
| `estimate.json` | the performance model's predicted FPS and resources |
| `deploy.json` | what this folder holds |
"""


# The repository's own folders: a deploy never writes into them, --force or not.
PROJECT_FOLDERS = ("host", "hls", "training", "overlay", "models", "tests", "tools", "docs", "notebooks",
                   "benchmarks", ".git", ".venv", "shared")


class DeployError(ErnError, ValueError):
    """An output folder the deploy refuses (one line)."""


def check_out(out: Path, force: bool = False) -> None:
    """Refuse an --out that would lose files the deploy did not make: the repository (or a
    folder above it, or one of its own folders) always; a file, or a non-empty folder that is not
    an earlier deploy folder (no deploy.json), unless `force`."""
    target = out.resolve()
    root = repo_root().resolve()
    if target == root or target in root.parents:
        raise DeployError(f"--out {out}: is the repository{'' if target == root else ' or a folder above it'} "
                          f"({root}); choose a new folder (default: build/<model>/deploy)")
    if root in target.parents:
        top = target.relative_to(root).parts[0]
        if top in PROJECT_FOLDERS:
            raise DeployError(f"--out {out}: is inside the repository's own {top}/ folder; "
                              f"choose a new folder (default: build/<model>/deploy)")
    if target.exists() and not target.is_dir():
        raise DeployError(f"--out {out}: exists and is not a folder")
    if force or not target.is_dir():
        return
    if (target / DEPLOY_MANIFEST).is_file() or not any(target.iterdir()):
        return  # an earlier deploy folder (this tool made it) or an empty one
    raise DeployError(f"--out {out}: is a non-empty folder that is not a deploy folder (no {DEPLOY_MANIFEST}); "
                      f"its files would be replaced: choose a new folder or pass --force")


def copy_host(out: Path) -> List[str]:
    target = out / "host"
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    names = []
    for path in sorted((repo_root() / "host").iterdir()):
        if path.suffix in (".py", ".md") and path.is_file():
            shutil.copy2(path, target / path.name)
            names.append(path.name)
    (out / "setup.py").write_text(SETUP_PY)
    return names


def sample_images(files: Artifacts, package, count: int):
    """The build folder's own samples/ when it has them, else the package's dataset."""
    images, labels, classes, source = datasets.load_test_images(package.input_shape, count,
                                                                files.samples_dir)
    if labels is None:
        raise ValueError(f"{source}: no labels.npy beside the images")
    return images, labels, classes or [str(c) for c in range(package.classes)], source


def write_samples(out: Path, images, labels, classes, package) -> str:
    """The images with labels, class names and the CPU reference's outputs, under out/samples."""
    reference = Reference(package)
    sums = reference.class_sums(images)
    logits = reference.logits_from_sums(sums)
    folder = out / "samples"
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "images.npy", images)
    np.save(folder / "labels.npy", labels)
    np.save(folder / "expected_class_sums.npy", sums)
    np.save(folder / "expected_logits.npy", logits)
    np.save(folder / "expected_labels.npy", np.argmax(logits, axis=1))
    (folder / "classes.json").write_text(json.dumps(list(classes)) + "\n")
    top1 = 100.0 * float(np.mean(np.argmax(logits, axis=1) == labels))
    return f"{len(images)} images, reference top-1 {top1:.2f}%"


def deploy(model: Optional[str] = None, build_dir=None, out=None, samples: int = 1000,
           force: bool = False, board: str = boards.DEFAULT) -> Path:
    board = boards.get(board).name
    files = Artifacts.find(model, build_dir)
    if files.interface_json.is_file():   # the core must be the one generated for this board
        made_for = json.loads(files.interface_json.read_text()).get("board", boards.DEFAULT)
        if made_for != board:
            raise ValueError(f"{files.interface_json} was generated for {made_for}, not {board}: run "
                             f"`make hls MODEL={files.model} BOARD={board}` (and make overlay) first")
    out = Path(out or files.build_dir / "deploy")
    check_out(out, force)
    package = load(files.package_dir)  # validated: a broken package stops here
    out.mkdir(parents=True, exist_ok=True)
    print(f"deploy: {files.model} -> {out}")

    save(package, out / "dataflow")
    print(f"  dataflow/        model package ({len(package.layers)} layers, {package.classes} classes)")
    print(f"  host/            {', '.join(copy_host(out))} + setup.py")
    if NOTEBOOK.is_file():
        shutil.copy2(NOTEBOOK, out / NOTEBOOK.name)
        print(f"  {NOTEBOOK.name}")
    images, labels, classes, dataset = sample_images(files, package, samples)
    print(f"  samples/         {write_samples(out, images, labels, classes, package)} ({dataset})")

    has_bit = files.bitfile.is_file() and files.hwh.is_file()
    (out / "overlay").mkdir(exist_ok=True)
    for path in (files.bitfile, files.hwh):
        target = out / "overlay" / path.name
        if has_bit:
            shutil.copy2(path, target)
        elif target.exists():
            target.unlink()  # never ship a bitstream from an older build
    print(f"  overlay/         " + (f"{files.bitfile.name}, {files.hwh.name}" if has_bit else
                                    "no bitstream: run `make overlay` (needs Vivado), then deploy again"))
    interface = None
    if files.interface_json.is_file():
        (out / "hls").mkdir(exist_ok=True)
        shutil.copy2(files.interface_json, out / "hls" / "interface.json")
        interface = json.loads(files.interface_json.read_text())
        stale = interface.get("package_sha256") not in (None, package_digest(package))
        print("  hls/interface.json" + ("  WARNING: generated from another package: run make hls"
                                         if stale else ""))
    if files.estimate_json.is_file():
        shutil.copy2(files.estimate_json, out / "estimate.json")
        print("  estimate.json")

    manifest = {"model": files.model, "board": board, "package_sha256": package_digest(package),
                "bitstream": f"overlay/{files.bitfile.name}" if has_bit else None,
                "interface": "hls/interface.json" if interface else None,
                "samples": int(len(images)), "dataset": dataset,
                "notebook": NOTEBOOK.name if NOTEBOOK.is_file() else None}
    (out / DEPLOY_MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    (out / "README.md").write_text(readme(files.model, has_bit, len(images), dataset, board))
    print(f"deploy: wrote {out} ({'with' if has_bit else 'WITHOUT'} a bitstream); see {out / 'README.md'}")
    return out


def main(argv=None) -> int:
    return cli("deploy", _main, argv)


def _main(argv) -> int:
    p = argparse.ArgumentParser(prog="python -m host.deploy", description=__doc__.splitlines()[0])
    p.add_argument("--model", default=None, type=model_name_arg, help="default: ern_tiny")
    p.add_argument("--build-dir", default=None, help="default: build/<model>")
    p.add_argument("--out", default=None, help="default: build/<model>/deploy")
    p.add_argument("--samples", type=positive_int, default=1000, help="test images to include (default 1000)")
    p.add_argument("--force", action="store_true",
                   help="write into an existing non-empty --out that is not a deploy folder (replacing its "
                        "host/, README.md, ...); the repository's own folders are refused even so")
    p.add_argument("--board", default=boards.DEFAULT, help=f"one of {boards.names()}")
    args = p.parse_args(argv)
    try:
        deploy(args.model, args.build_dir, args.out, args.samples, args.force, args.board)
    except ValueError as e:   # PackageError, DatasetError, DeployError, BadName are ValueErrors too
        return fail(e, "deploy")
    return 0


if __name__ == "__main__":
    sys.exit(main())
