"""Where one model's files are: the repository's build/<model>/ or a deploy folder.

    a = Artifacts.find("ern_tiny")
    a.package_dir      # .../dataflow (model.json, params.npz)
    a.bitfile          # .../overlay/ern_tiny.bit (its .hwh beside it)
    a.interface_json   # .../hls/interface.json (the accelerator's stream and register interface)

Both layouts have the same names under one folder, the *build dir*:

    repository:  <repo>/build/<model>/{model.onnx, dataflow/, estimate.json, folding.json,
                                       hls/{interface.json, emu.cpp, data/, report.json, libern_emu.so},
                                       steps.json, overlay/<model>.bit, verify.json, bench.json}
    deploy:      <deploy>/{deploy.json, dataflow/, overlay/<model>.bit, hls/interface.json,
                           estimate.json, samples/, host/, ern_pynq_z2.ipynb}

This is the one place the pipeline's file names are spelled: the steps of `python -m hls`
(hls/hls_flow.py) read and write only these properties, and so do bench, deploy and the tools.
The checkpoint lives outside the build dir, under models/<model>/ (`models_dir` moves it).

A folder holding `deploy.json` (written by host/deploy.py) is a deploy folder: host/ inside it,
or any host/ run from it as the current directory, finds its files there. Runs on the board: Python 3.10, standard library only.
"""
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from host.names import check_model_name

HOST_DIR = Path(__file__).resolve().parent
DEPLOY_MANIFEST = "deploy.json"
DEFAULT_MODEL = "ern_tiny"
EMU_LIBRARY = "libern_emu.so"    # the host emulation library `make hls` builds into hls/


def repo_root() -> Path:
    """The folder holding host/ (the repository, or a deploy folder)."""
    return HOST_DIR.parent


def deployed() -> bool:
    """True when this host/ is the copy inside a deploy folder."""
    return (repo_root() / DEPLOY_MANIFEST).is_file()


def _manifest_model(folder: Path) -> Optional[str]:
    """The model a deploy folder was made for (None when `folder` is not one)."""
    try:
        return json.loads((folder / DEPLOY_MANIFEST).read_text()).get("model")
    except (OSError, ValueError, AttributeError):
        return None


@dataclass(frozen=True)
class Artifacts:
    model: str
    build_dir: Path  # build/<model>/ in the repository, the deploy folder itself on a board
    models_dir: Optional[Path] = None   # the checkpoints' folder (default: <repo>/models)

    def __post_init__(self):   # a name from --model or a deploy.json: refused unless a plain word
        check_model_name(self.model)

    @classmethod
    def find(cls, model: Optional[str] = None, build_dir=None) -> "Artifacts":
        """The files of `model` (default: the deploy folder's model, else ern_tiny)."""
        if build_dir is not None:
            return cls(model or _manifest_model(Path(build_dir)) or DEFAULT_MODEL, Path(build_dir))
        for root in (repo_root(), Path.cwd()):  # host/ inside a deploy folder, or run from one
            if (root / DEPLOY_MANIFEST).is_file():
                return cls(model or _manifest_model(root) or DEFAULT_MODEL, root)
        model = model or DEFAULT_MODEL
        return cls(model, repo_root() / "build" / model)

    # -- the pipeline: checkpoint -> export -> lower -> estimate -> codegen -> C-simulation ----

    @property
    def checkpoint(self) -> Path:
        """The trained models/<m>/model.pt; without one, the seeded random init that
        `python -m training.random_init` made in the build dir (when it did)."""
        trained = (self.models_dir or repo_root() / "models") / self.model / "model.pt"
        return self.random_init if not trained.is_file() and self.random_init.is_file() else trained

    @property
    def random_init(self) -> Path:
        return self.build_dir / "random_init.pt"

    @property
    def onnx(self) -> Path:
        return self.build_dir / "model.onnx"

    @property
    def package_dir(self) -> Path:
        return self.build_dir / "dataflow"

    @property
    def package_json(self) -> Path:
        return self.package_dir / "model.json"

    @property
    def package_params(self) -> Path:
        return self.package_dir / "params.npz"

    @property
    def lowering_json(self) -> Path:
        return self.build_dir / "lowering.json"

    @property
    def folding_json(self) -> Path:
        """The folding the estimate chose and codegen generates (the only folding.json)."""
        return self.build_dir / "folding.json"

    @property
    def folding_fifos_json(self) -> Path:
        return self.build_dir / "folding_fifos.json"

    @property
    def estimate_png(self) -> Path:
        return self.build_dir / "estimate.png"

    @property
    def steps_json(self) -> Path:
        """What each step of `python -m hls` last ran on (its inputs' digest), its time, its result."""
        return self.build_dir / "steps.json"

    @property
    def test_data_dir(self) -> Path:
        return self.hls_dir / "data"

    @property
    def report_json(self) -> Path:
        return self.hls_dir / "report.json"

    @property
    def emu_library(self) -> Path:
        return self.hls_dir / EMU_LIBRARY

    @property
    def clocked_png(self) -> Path:
        return self.hls_dir / "clocked.png"

    @property
    def fifos_hls_dir(self) -> Path:
        """Where `make fifos` generates the design it sizes (apart from hls/)."""
        return self.build_dir / "fifos" / "hls"

    @property
    def overlay_dir(self) -> Path:
        return self.build_dir / "overlay"

    @property
    def bitfile(self) -> Path:
        return self.overlay_dir / f"{self.model}.bit"

    @property
    def hwh(self) -> Path:
        return self.overlay_dir / f"{self.model}.hwh"

    @property
    def hls_dir(self) -> Path:
        return self.build_dir / "hls"

    @property
    def interface_json(self) -> Path:
        return self.hls_dir / "interface.json"

    @property
    def emu_cpp(self) -> Path:
        return self.hls_dir / "emu.cpp"

    @property
    def estimate_json(self) -> Path:
        return self.build_dir / "estimate.json"

    @property
    def verify_json(self) -> Path:
        return self.build_dir / "verify.json"

    @property
    def bench_json(self) -> Path:
        return self.build_dir / "bench.json"

    @property
    def bench_png(self) -> Path:
        return self.build_dir / "bench.png"

    @property
    def samples_dir(self) -> Path:
        return self.build_dir / "samples"

    def interface_or_none(self) -> Optional[Path]:
        return self.interface_json if self.interface_json.is_file() else None
