"""Brevitas model (checkpoint) vs the numpy CPU reference (model package) on the test set.

    python tools/verify.py --model ern_tiny

Reads models/<m>/model.pt (training) and build/<m>/dataflow (hls.lower's package); runs both on
every test image; writes build/<m>/verify.json and prints as its last line

    class_sums_equal=NN.NN% agreement_up_to_ties=NN.NN% ties=N agreement=NN.NN% top1_reference=NN.NN top1_brevitas=NN.NN

The headline is `class_sums_equal`: the share of images whose integer class sums equal the ones
Brevitas' float logits imply (logits minus the head's bias, times divisor / scale, within 0.5),
which is what the lowering promises. `agreement_up_to_ties` counts an image as agreeing when
Brevitas' top-1 is one of the reference's top classes, several of which may be exactly tied
(equal integer class sums that Brevitas' float32 breaks either way); `ties` counts those
images. `agreement` is the plain top-1 agreement of before (ties count as disagreements).

Exit status: 0, or 1 when class_sums_equal or agreement_up_to_ties < --min-agreement (default
99.9) or the two top-1 differ by more than --max-top1-gap points (default 0.1); 2 on an error
(one line).
"""
import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from host.artifacts import Artifacts  # noqa: E402
from host.errors import cli  # noqa: E402
from host.names import model_name_arg, positive_int  # noqa: E402


def brevitas_logits(model, images, batch_size=500):
    import torch
    outs = []
    with torch.no_grad():
        for i in range(0, len(images), batch_size):
            outs.append(model(torch.from_numpy(images[i:i + batch_size]).float()).numpy())
    return np.concatenate(outs)


def main(argv=None) -> int:
    return cli("verify", _main, argv)


def _main(argv) -> int:
    p = argparse.ArgumentParser(prog="python tools/verify.py", description=__doc__.splitlines()[0])
    p.add_argument("--model", default="ern_tiny", type=model_name_arg)
    p.add_argument("--checkpoint", default=None, help="default: models/<model>/model.pt")
    p.add_argument("--package", default=None, help="default: build/<model>/dataflow")
    p.add_argument("--dataset", default=None, help="default: the checkpoint's dataset")
    p.add_argument("--data-root", default=None)
    p.add_argument("--limit", type=positive_int, default=None, help="only the first N test images")
    p.add_argument("--out", default=None, help="default: build/<model>/verify.json")
    p.add_argument("--min-agreement", type=float, default=99.9)
    p.add_argument("--max-top1-gap", type=float, default=0.1)
    p.add_argument("--allow-stale", action="store_true",
                   help="compare even when the package is older than the checkpoint")
    args = p.parse_args(argv)

    import torch
    from host.package import PackageError, load
    from host.reference import Reference
    from training import checkpoint, data

    ckpt_path = Path(args.checkpoint) if args.checkpoint else checkpoint.default_path(args.model)
    files = Artifacts.find(args.model)
    package_dir = Path(args.package) if args.package else files.package_dir
    out = Path(args.out) if args.out else files.verify_json
    model, ckpt = checkpoint.load_model(ckpt_path, expected_model=args.model)
    package = load(package_dir)
    test = data.load(args.dataset or ckpt["dataset"], "test", args.data_root)
    stamp = package_dir / "model.json"
    if not args.allow_stale and stamp.stat().st_mtime < ckpt_path.stat().st_mtime:
        raise PackageError(f"{package_dir} is older than {ckpt_path}: lower the checkpoint again "
                           f"(make lower MODEL={args.model}) or pass --allow-stale")
    images = test.images.numpy()
    labels = test.labels.numpy()
    if args.limit:
        images, labels = images[:args.limit], labels[:args.limit]
    if images.shape[1:] != (package.input_shape[2],) + package.input_shape[:2]:
        raise data.DataError(f"the package takes {list(package.input_shape)} (H x W x C) images, the "
                             f"dataset has {list(images.shape[1:])} (C x H x W)")

    start = time.perf_counter()
    logits_b = brevitas_logits(model, images)
    seconds_b = time.perf_counter() - start
    reference = Reference(package)
    start = time.perf_counter()
    sums = reference.class_sums(np.ascontiguousarray(images.transpose(0, 2, 3, 1)))
    seconds_r = time.perf_counter() - start
    logits_r = reference.logits_from_sums(sums)

    pred_b, pred_r = logits_b.argmax(1), logits_r.argmax(1)
    agreement = 100.0 * float(np.mean(pred_b == pred_r))
    top1_r = 100.0 * float(np.mean(pred_r == labels))
    top1_b = 100.0 * float(np.mean(pred_b == labels))
    equal, sum_error = class_sums_equal(package, logits_b, sums)
    tied, agree_ties = ties_and_agreement(package, logits_r, pred_b)
    differing = np.nonzero(pred_b != pred_r)[0]
    result = {
        "images": int(len(images)), "class_sums_equal": round(100.0 * float(np.mean(equal)), 4),
        "agreement_up_to_ties": round(100.0 * float(np.mean(agree_ties)), 4), "ties": int(tied.sum()),
        "agreement": round(agreement, 4),
        "top1_reference": round(top1_r, 4), "top1_brevitas": round(top1_b, 4),
        "model": args.model, "checkpoint": str(ckpt_path), "epoch": ckpt.get("epoch"),
        "package": str(package_dir),
        "images_with_different_class_sums": int(np.sum(~equal)),
        "max_class_sum_difference": float(sum_error.max()) if len(sum_error) else 0.0,
        "disagreeing_images": differing[:50].tolist(),
        "tied_images": np.nonzero(tied)[0][:50].tolist(),
        "disagreeing_images_beyond_ties": np.nonzero(~agree_ties)[0][:50].tolist(),
        "seconds_reference": round(seconds_r, 3), "seconds_brevitas": round(seconds_b, 3),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"model={args.model} checkpoint={ckpt_path} epoch={ckpt.get('epoch')} package={package_dir} "
          f"images={len(images)}")
    print(f"reference {seconds_r:.1f} s ({len(images) / max(seconds_r, 1e-9):.0f} images/s), brevitas "
          f"{seconds_b:.1f} s; images whose integer class sums differ from Brevitas': "
          f"{result['images_with_different_class_sums']} (max difference {result['max_class_sum_difference']:.3g})")
    print(f"wrote {out}")
    print(f"top-1: {len(differing)} images differ, {result['ties']} images have exactly tied top class sums "
          f"in the reference, {int(np.sum(~agree_ties))} differ beyond a tie")
    print(f"class_sums_equal={result['class_sums_equal']:.2f}% agreement_up_to_ties="
          f"{result['agreement_up_to_ties']:.2f}% ties={result['ties']} agreement={agreement:.2f}% "
          f"top1_reference={top1_r:.2f} top1_brevitas={top1_b:.2f}")
    ok = result["class_sums_equal"] >= args.min_agreement and result["agreement_up_to_ties"] >= args.min_agreement \
        and abs(top1_r - top1_b) <= args.max_top1_gap
    return 0 if ok else 1


def class_sums_equal(package, logits_b, sums):
    """(per image: every class sum equals the one Brevitas implies, per image: the largest
    difference). Implied sums = (logits - bias) * divisor / scale: integers up to float rounding
    wherever the two agree bit for bit."""
    implied = (logits_b.astype(np.float64) - package.head_bias) * package.head.divisor \
        / package.head_scale.astype(np.float64)
    error = np.abs(implied - sums).max(axis=1) if len(sums) else np.zeros(0)
    return error < 0.5, error


def ties_and_agreement(package, logits_r, pred_b):
    """(per image: the reference's top logit is shared by several classes, per image: Brevitas'
    top-1 is one of the reference's top classes). Tied logits come from equal integer class
    sums; they are equal in float64 up to the rounding of the head's scale and bias, hence the
    relative 1e-9."""
    size = np.abs(logits_r) + np.abs(package.head_bias)
    top = logits_r.max(axis=1, keepdims=True)
    tolerance = 1e-9 * np.maximum(size.max(axis=1, keepdims=True), 1e-30)
    best = logits_r >= top - tolerance
    tied = best.sum(axis=1) > 1
    agree = best[np.arange(len(pred_b)), pred_b]
    return tied, agree


if __name__ == "__main__":
    sys.exit(main())
