"""Train a zoo model: `python -m training.train --model ern_tiny --dataset fashion_mnist`.

Adam + cosine schedule, weight decay only on conv/FC weights, a progress bar with loss,
accuracy and images/s, a checkpoint every epoch (resumable), metrics as CSV/JSON and a PNG of
the curves. CUDA + AMP when present; DDP under `torchrun --nproc_per_node=N` (gloo on CPU).
"""
import argparse
import csv
import json
import math
import os
import shlex
import sys
import time
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
from tqdm import tqdm

from . import checkpoint, data
from host.errors import ErnError, cli
from host.names import non_negative_int, positive_int

from .models import MODEL_NAMES, build_model, train_defaults


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m training.train", description=__doc__.splitlines()[0])
    p.add_argument("--model", default="ern_tiny", choices=MODEL_NAMES)
    p.add_argument("--dataset", default="fashion_mnist", choices=tuple(data.DATASETS))
    p.add_argument("--data-root", default=None, help="override the dataset folder")
    p.add_argument("--epochs", type=positive_int, default=30)
    p.add_argument("--batch-size", type=positive_int, default=128, help="per process")
    p.add_argument("--lr", type=float, default=None,
                   help="default: the model's (2e-3; 0.02 for the bnn_pynq models)")
    p.add_argument("--weight-decay", type=float, default=1e-5, help="conv/FC weights only")
    p.add_argument("--label-smoothing", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="run folder (default models/<model>)")
    p.add_argument("--resume", action="store_true", help="continue from <out>/last.pt")
    p.add_argument("--force", action="store_true",
                   help="without --resume: replace an existing <out>/model.pt and last.pt")
    p.add_argument("--threads", type=non_negative_int, default=0, help="CPU threads (0: all cores)")
    p.add_argument("--limit-batches", type=non_negative_int, default=0,
                   help="batches per epoch, and as many test batches (smoke runs)")
    p.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None,
                   help="random shift and flip of the training images (default: the model's; "
                        "off for the bnn_pynq MLPs)")
    p.add_argument("--no-progress", action="store_true")
    return p.parse_args(argv)


def overwrite_refusal(out: Path, resume: bool, force: bool):
    """Why training into `out` would replace a checkpoint it should not (None when it may go on):
    without --resume an existing model.pt or last.pt is kept unless --force; with --resume and
    no last.pt, an existing model.pt would be replaced by a fresh run's."""
    if force:
        return None
    last, final = out / "last.pt", out / "model.pt"
    if resume:
        if not last.exists() and final.exists():
            return (f"{last} missing, so --resume would start over and replace {final}; "
                    f"--force (make train FORCE=1) to replace it")
        return None
    existing = [str(p) for p in (final, last) if p.exists()]
    if existing:
        return (f"{' and '.join(existing)} exist: --resume (make train RESUME=1) continues, --force "
                f"(make train FORCE=1) replaces them")
    return None


def param_groups(model, weight_decay):
    """No weight decay on BN parameters or biases (ERN recipe)."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (decay if p.dim() > 1 else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0}]


def evaluate(model, split, device, batch_size=500, limit=0):
    """(top-1 %, mean loss) on the first `limit` images of `split` (0: all of them)."""
    model.eval()
    n = min(len(split), limit) if limit else len(split)
    correct, loss = 0, 0.0
    with torch.no_grad():
        for i in range(0, n, batch_size):
            x = split.images[i:min(i + batch_size, n)].to(device).float()
            y = split.labels[i:min(i + batch_size, n)].to(device)
            out = model(x)
            loss += F.cross_entropy(out, y, reduction="sum").item()
            correct += (out.argmax(1) == y).sum().item()
    return 100.0 * correct / n, loss / n


def plot_curves(rows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    epochs = [r["epoch"] for r in rows]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    a.plot(epochs, [r["train_loss"] for r in rows], label="train")
    a.plot(epochs, [r["test_loss"] for r in rows], label="test")
    a.set_xlabel("epoch"); a.set_ylabel("cross-entropy"); a.legend(); a.grid(alpha=.3)
    b.plot(epochs, [r["train_top1"] for r in rows], label="train")
    b.plot(epochs, [r["test_top1"] for r in rows], label="test")
    b.set_xlabel("epoch"); b.set_ylabel("top-1 %"); b.legend(); b.grid(alpha=.3)
    fig.suptitle(Path(path).parent.name)
    fig.tight_layout(); fig.savefig(path, dpi=100); plt.close(fig)


def write_metrics(rows, out: Path):
    with open(out / "metrics.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader(); w.writerows(rows)
    (out / "metrics.json").write_text(json.dumps(rows, indent=1) + "\n")
    plot_curves(rows, out / "curves.png")


def setup_distributed():
    """(rank, world, device). Under torchrun: gloo on CPU, nccl on CUDA."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    cuda = torch.cuda.is_available()
    if world > 1:
        dist.init_process_group("nccl" if cuda else "gloo")
    if cuda:
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        return rank, world, torch.device("cuda", local)
    return rank, world, torch.device("cpu")


def main(argv=None) -> int:
    return cli("training.train", _main, argv)


def _main(argv):
    args = parse_args(argv)
    recipe = train_defaults(args.model)
    args.lr = recipe["lr"] if args.lr is None else args.lr
    args.augment = recipe["augment"] if args.augment is None else args.augment
    rank, world, device = setup_distributed()
    if args.threads:
        torch.set_num_threads(args.threads)
    elif world > 1 and device.type == "cpu":
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // world))
    torch.manual_seed(args.seed)
    out = Path(args.out or Path(checkpoint.DEFAULT_DIR) / args.model)
    main_proc = rank == 0
    refusal = overwrite_refusal(out, args.resume, args.force)
    if refusal:
        raise ErnError(refusal)
    train_set = data.load(args.dataset, "train", args.data_root)
    test_set = data.load(args.dataset, "test", args.data_root)
    in_ch, n_cls = train_set.images.shape[1], len(train_set.classes)
    model = build_model(args.model, in_ch, n_cls).to(device)
    opt = torch.optim.Adam(param_groups(model, args.weight_decay), lr=args.lr, eps=1e-4)
    steps_per_epoch = math.ceil(len(train_set) / (args.batch_size * world))
    if args.limit_batches:
        steps_per_epoch = min(steps_per_epoch, args.limit_batches)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(1.0, s / (args.epochs * steps_per_epoch)))))
    start_epoch, rows = 0, []
    last = out / "last.pt"
    if args.resume and last.exists():
        ckpt = checkpoint.read(last, checkpoint.RESUME_KEYS)
        if ckpt["model"] != args.model:
            raise checkpoint.CheckpointError(f"{last} is a checkpoint of {ckpt['model']!r}, not {args.model!r}")
        try:
            model.load_state_dict(ckpt["state_dict"])
            opt.load_state_dict(ckpt["optimizer"])
            sched.load_state_dict(ckpt["scheduler"])
        except (RuntimeError, ValueError, KeyError, TypeError, IndexError) as e:
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise checkpoint.CheckpointError(f"{last}: cannot resume from it ({type(e).__name__}: "
                                             f"{first[:200]})") from None
        start_epoch, rows = ckpt["epoch"], list(ckpt["metrics"])
        if main_proc:
            print(f"resumed {last} at epoch {start_epoch}")
    ddp_model = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    use_amp = device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    if main_proc:
        out.mkdir(parents=True, exist_ok=True)
        with open(out / "train.log", "a") as f:
            f.write(f"# {time.strftime('%Y-%m-%d %H:%M:%S')} python -m training.train "
                    f"{shlex.join(argv if argv is not None else sys.argv[1:])} "
                    f"(world={world}, device={device}, threads={torch.get_num_threads()}, "
                    f"lr={args.lr:g}, augment={args.augment})\n")
    for epoch in range(start_epoch, args.epochs):
        ddp_model.train()
        g = torch.Generator().manual_seed(args.seed * 1000 + epoch)
        perm = torch.randperm(len(train_set), generator=g)[rank::world]
        bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch + 1}/{args.epochs}",
                   disable=not main_proc or args.no_progress, leave=False)
        seen = correct = 0
        loss_sum, t0 = 0.0, time.time()
        for step in bar:
            idx = perm[step * args.batch_size:(step + 1) * args.batch_size]
            if len(idx) == 0:
                break
            x = train_set.images[idx]
            x = (data.augment(x, generator=g) if args.augment else x).to(device).float()
            y = train_set.labels[idx].to(device)
            with torch.autocast(device.type, enabled=use_amp):
                logits = ddp_model(x)
                loss = F.cross_entropy(logits, y, label_smoothing=args.label_smoothing)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt); scaler.update(); sched.step()
            if hasattr(model, "clip_weights"):   # the bnn_pynq models' latent weights stay in [-1, 1]
                model.clip_weights(-1.0, 1.0)
            seen += len(y)
            correct += (logits.argmax(1) == y).sum().item()
            loss_sum += loss.item() * len(y)
            bar.set_postfix(loss=f"{loss_sum / seen:.3f}", acc=f"{100 * correct / seen:.1f}",
                            img_s=f"{seen * world / (time.time() - t0):.0f}")
        train_seconds = time.time() - t0
        if not main_proc:
            continue
        test_top1, test_loss = evaluate(model, test_set, device,
                                        limit=args.limit_batches * args.batch_size)
        rows.append({"epoch": epoch + 1, "train_loss": round(loss_sum / max(seen, 1), 5),
                     "train_top1": round(100 * correct / max(seen, 1), 3),
                     "test_loss": round(test_loss, 5), "test_top1": round(test_top1, 2),
                     "lr": opt.param_groups[0]["lr"], "seconds": round(train_seconds, 1),
                     "images_per_s": round(seen * world / train_seconds, 1)})
        print(f"epoch {epoch + 1}/{args.epochs} loss={rows[-1]['train_loss']:.4f} "
              f"train_top1={rows[-1]['train_top1']:.2f} test_top1={test_top1:.2f} "
              f"img/s={rows[-1]['images_per_s']:.0f}", flush=True)
        common = dict(in_channels=in_ch, num_classes=n_cls, dataset=args.dataset,
                      epoch=epoch + 1, metrics=rows)
        checkpoint.save(last, args.model, model, **common, extra={
            "optimizer": opt.state_dict(), "scheduler": sched.state_dict()})
        checkpoint.save(out / "model.pt", args.model, model, **common)
        write_metrics(rows, out)
    if world > 1:
        dist.destroy_process_group()


if __name__ == "__main__":
    sys.exit(main())
