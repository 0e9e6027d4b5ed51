"""Checkpoints: plain dicts of tensors and primitives, so they load with weights_only=True."""
from pathlib import Path

import torch

from host.errors import ErnError

from .models import MODEL_NAMES, build_model

DEFAULT_DIR = "models"
RANDOM_INIT_DIR = "build"


class CheckpointError(ErnError, ValueError):
    """A checkpoint is missing, unreadable, or of another model (one-line message)."""


def trained_path(model: str) -> Path:
    return Path(DEFAULT_DIR) / model / "model.pt"


def random_init_path(model: str) -> Path:
    """Where `python -m training.random_init` puts a model's seeded random init (a build
    output: never committed)."""
    return Path(RANDOM_INIT_DIR) / model / "random_init.pt"


def default_path(model: str) -> Path:
    """The trained checkpoint models/<m>/model.pt, or else the random init when one was made."""
    trained, random_init = trained_path(model), random_init_path(model)
    return random_init if not trained.exists() and random_init.exists() else trained


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


KEYS = ("model", "in_channels", "num_classes", "dataset", "epoch", "metrics", "state_dict")
RESUME_KEYS = KEYS + ("optimizer", "scheduler")   # what last.pt adds to model.pt
_KINDS = {"model": (str,), "in_channels": (int,), "num_classes": (int,), "epoch": (int,),
          "metrics": (list, dict), "state_dict": (dict,), "optimizer": (dict,), "scheduler": (dict,)}


def read(path, keys=KEYS) -> dict:
    """The checkpoint dict at `path`, with `keys` present and of the right kinds (RESUME_KEYS for
    a last.pt to resume from); CheckpointError naming the file and what is wrong otherwise."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: checkpoint not found (train it with make train, or make a "
                              f"random init: python -m training.random_init --model <m>)")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise CheckpointError(f"{path}: not a readable checkpoint ({type(e).__name__})") from None
    if not isinstance(ckpt, dict):
        raise CheckpointError(f"{path}: not a checkpoint of this project (a {type(ckpt).__name__}, "
                              f"not a dict)")
    missing = [k for k in keys if k not in ckpt]
    if missing:
        hint = (" (a model.pt holds the weights only: resume needs a last.pt)"
                if set(missing) <= {"optimizer", "scheduler"} else "")
        raise CheckpointError(f"{path}: checkpoint lacks {', '.join(repr(k) for k in missing)}{hint}")
    for key in keys:
        kinds = _KINDS.get(key)
        if kinds is not None and (not isinstance(ckpt[key], kinds) or isinstance(ckpt[key], bool)):
            raise CheckpointError(f"{path}: checkpoint's {key!r} is a {type(ckpt[key]).__name__}, "
                                  f"not a {' or '.join(k.__name__ for k in kinds)}")
    if ckpt["model"] not in MODEL_NAMES:
        raise CheckpointError(f"{path}: checkpoint of unknown model {ckpt['model'][:64]!r}")
    return ckpt


def load_model(path, expected_model: str = None):
    """(model in eval mode, checkpoint dict). A checkpoint of another model is an error."""
    ckpt = read(path)
    name = ckpt.get("model")
    if expected_model is not None and name != expected_model:
        raise CheckpointError(f"{path}: checkpoint is of model {name!r}, not {expected_model!r}")
    try:
        model = build_model(name, ckpt["in_channels"], ckpt["num_classes"])
        model.load_state_dict(ckpt["state_dict"])
    except (RuntimeError, ValueError, TypeError, KeyError) as e:
        first = str(e).splitlines()[1].strip() if len(str(e).splitlines()) > 1 else str(e)
        raise CheckpointError(f"{path}: weights do not match model {name!r} ({first})") from None
    return model.eval(), ckpt
