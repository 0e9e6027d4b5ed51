"""The 11 bnn_pynq configs (training.models.BNN_PYNQ), random init with BN / TensorNorm in a random
state: export (training/export.py, as `make export`), lower (hls.lower), and compare the numpy
reference with Brevitas on N random images. One row per config:

    python benchmarks/bnn_pynq_exactness.py --images 1000 [--models bnn_tfc_w1a1 ...]

Columns: export / lower (ok or the one-line error), class_sums_equal (images whose integer
class sums equal those Brevitas' logits imply, tools/verify.py's headline), ties (images whose
top class sums are exactly tied in the reference), agreement up to ties, plain agreement.
No checkpoints exist for these models (none can be downloaded here): random init only.
"""
import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "tools", ROOT / "tests"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import numpy as np  # noqa: E402


def main(argv=None) -> int:
    import torch
    import verify
    from bnn_helpers import export_bnn, random_images
    from hls.lower import LoweringError, lower
    from host.reference import Reference
    from training.models import BNN_PYNQ

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=100)
    p.add_argument("--models", nargs="*", default=sorted(BNN_PYNQ))
    p.add_argument("--seed", type=int, default=0, help="weights and BN state")
    args = p.parse_args(argv)
    print("| model | export | lower | class_sums_equal | ties | agreement up to ties | agreement | seconds |")
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        for name in args.models:
            start = time.perf_counter()
            try:
                model, path = export_bnn(name, folder, args.seed)
            except Exception as e:  # a failed export is a row, not a stop
                print(f"| `{name}` | {type(e).__name__}: {str(e).splitlines()[0][:80]} | - | - | - | - | - | - |")
                continue
            try:
                package = lower(str(path), name)
            except LoweringError as e:
                print(f"| `{name}` | ok | {str(e)[:120]} | - | - | - | - | - |")
                continue
            images = random_images(name, args.images, seed=1)
            with torch.no_grad():
                logits = model(torch.from_numpy(images).float()).numpy()
            reference = Reference(package)
            sums = reference.class_sums(np.ascontiguousarray(images.transpose(0, 2, 3, 1)))
            equal, _ = verify.class_sums_equal(package, logits, sums)
            tied, agree = verify.ties_and_agreement(package, reference.logits_from_sums(sums), logits.argmax(1))
            plain = logits.argmax(1) == reference.logits_from_sums(sums).argmax(1)
            n = len(images)
            print(f"| `{name}` | ok | ok | {int(equal.sum())}/{n} | {int(tied.sum())} | {int(agree.sum())}/{n} | "
                  f"{int(plain.sum())}/{n} | {time.perf_counter() - start:.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
