"""Checkpoints: plain dicts of tensors and primitives, so they load with weights_only=True."""
from pathlib import Path

import torch

from .models import build_model

DEFAULT_DIR = "models"


class CheckpointError(ValueError):
    """A checkpoint is missing, unreadable, or of another model (one-line message)."""


def default_path(model: str) -> Path:
    return Path(DEFAULT_DIR) / model / "model.pt"


def save(path, model_name, model, *, in_channels, num_classes, dataset, epoch, metrics,
         extra=None):
    state = {
        "model": model_name, "in_channels": in_channels, "num_classes": num_classes,
        "dataset": dataset, "epoch": epoch, "metrics": metrics,
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
    }
    state.update(extra or {})
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)  # never leave a half-written checkpoint behind


def read(path) -> dict:
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: checkpoint not found (train it with make train)")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise CheckpointError(f"{path}: not a readable checkpoint ({type(e).__name__})") from None


def load_model(path, expected_model: str = None):
    """(model in eval mode, checkpoint dict). A checkpoint of another model is an error."""
    ckpt = read(path)
    name = ckpt.get("model")
    if expected_model is not None and name != expected_model:
        raise CheckpointError(f"{path}: checkpoint is of model {name!r}, not {expected_model!r}")
    model = build_model(name, ckpt["in_channels"], ckpt["num_classes"])
    try:
        model.load_state_dict(ckpt["state_dict"])
    except RuntimeError as e:
        first = str(e).splitlines()[1].strip() if len(str(e).splitlines()) > 1 else str(e)
        raise CheckpointError(f"{path}: weights do not match model {name!r} ({first})") from None
    return model.eval(), ckpt
