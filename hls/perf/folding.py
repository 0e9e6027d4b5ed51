"""Folding files (PE / SIMD per layer) and the automatic folding search.

A folding file is hand-editable JSON keyed by layer name (the names in model.json):

    {
      "_comment": "keys starting with '_' are ignored",
      "Conv_1": {"pe": 32, "simd": 32},
      "Gemm_2":   {"pe": 5, "simd": 1, "mem": "lut"},
      "MaxPool_0": {"pe": 64}
    }

``pe`` (output channels per cycle; channels per cycle for streaming layers) and ``simd`` (input
channels per cycle, Conv only) must divide the layer's dimensions; ``mem`` (Conv, optional:
"auto", "bram" or "lut") forces where the weights go. Layers a file does not name are folded
automatically: the cheapest folding that does not slow the design below the II the named layers
set (or the target FPS when one is given).

The search (``search``): per layer, every valid folding is a (cycles, cost) point; for a target
initiation interval II each layer independently takes its cheapest point with cycles <= II,
where "cheapest" is LUT + lambda * BRAM36 for an exchange rate lambda (memories are placed in
block or distributed RAM at the same rate). Layers do not interact except through the totals, so
for a given lambda this is exact; sweeping lambda trades LUT against BRAM. ``target_fps`` ->
II = clock / fps, the cheapest design within the budget (least LUT, then least BRAM);
otherwise the smallest II for which some lambda fits the budget (binary search over the II
values the layers can reach).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from hls.perf import resources as R
from hls.perf.cost import Design, evaluate, stream_cost, stream_offsets
from hls.perf.opmodels import Ctx, EstimateError, Graph
from host.errors import NO_FIT


class FoldingError(EstimateError):
    """A folding file that does not match the model (one-line message)."""


class FitError(EstimateError):
    """No folding fits the budget; the message names the costliest layers and what would fit."""

    exit_code = NO_FIT


# --------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------


from hls.codegen.design import FIFO_KEY, RATE_KEY  # noqa: E402  (the generator reads both too)


def _read_object(path: Path) -> dict:
    """A folding file's top-level JSON object, or FoldingError (one line) naming the file."""
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise FoldingError(f"folding file {path}: not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise FoldingError(f"folding file {path}: cannot read ({type(e).__name__})") from None
    except json.JSONDecodeError as e:
        raise FoldingError(f"folding file {path}: not valid JSON ({e.msg}, line {e.lineno})") from None
    if not isinstance(raw, dict):
        raise FoldingError(f"folding file {path}: expected a JSON object {{layer: {{pe, simd}}}}")
    return raw


def read_folding(path) -> dict:
    """The raw folding file: {layer name: {"pe": .., "simd": .., "mem": ..}}. Keys with a leading
    underscore are comments, except "_lut_per_bram" (the LUTs-per-BRAM36 exchange rate at which
    the search placed memories) and "_fifo_depths" (FIFO depths sized by `python -m hls.fifos`),
    kept under the same keys in the returned dict: the one reader of both for codegen, the
    estimate and `make hls`."""
    path = Path(path)
    raw = _read_object(path)
    out = {k: v for k, v in raw.items() if not str(k).startswith("_")}
    if RATE_KEY in raw:
        rate = raw[RATE_KEY]
        if not isinstance(rate, (int, float)) or rate < 0:
            raise FoldingError(f"folding file {path}: {RATE_KEY} must be a number >= 0")
        out[RATE_KEY] = float(rate)
    if FIFO_KEY in raw:
        out[FIFO_KEY] = read_fifo_depths(raw[FIFO_KEY], path)
    return out


def read_fifo_depths(raw, path) -> dict:
    """A folding file's "_fifo_depths" ({FIFO identifier: depth >= 1}); which identifiers the
    design has, and the skip FIFOs' floors, the generator checks (hls/codegen/fifos.py)."""
    if not isinstance(raw, dict) or not all(isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool)
                                            and v >= 1 for k, v in raw.items()):
        raise FoldingError(f"folding file {path}: {FIFO_KEY} must be {{\"FIFO identifier\": depth}} with "
                           f"whole numbers >= 1")
    return dict(raw)


BUDGET_KEY = "_budget"   # a folding file's design budget: {"lut": .., "bram36": .., "dsp": ..}


def read_budget(path) -> dict | None:
    """The budget a folding file was made for (its "_budget" entry), or None."""
    raw = _read_object(Path(path)).get(BUDGET_KEY)
    if raw is None:
        return None
    if not isinstance(raw, dict) or set(raw) - {"lut", "bram36", "dsp"} or \
            not all(isinstance(v, (int, float)) and v >= 0 for v in raw.values()):
        raise FoldingError(f"folding file {path}: {BUDGET_KEY} must be {{\"lut\": N, \"bram36\": N, "
                           f"\"dsp\": N}} with numbers >= 0")
    return raw


def validate_folding(folding: dict, g: Graph, source: str = "folding") -> dict:
    """Check names, keys and divisibility; returns a clean copy. Raises FoldingError (one line)."""
    out = {}
    names = [l["name"] for l in g.layers]
    for name, fold in folding.items():
        if name in (RATE_KEY, FIFO_KEY):
            out[name] = fold
            continue
        if name not in g.by_name:
            raise FoldingError(f"{source}: layer {name!r} is not in model {g.name!r}; valid "
                               f"names: {', '.join(names)}")
        if not isinstance(fold, dict):
            raise FoldingError(f"{source}: layer {name!r}: expected {{\"pe\": .., \"simd\": ..}}, "
                               f"got {fold!r}")
        for key in ("pe", "simd", "out_pe"):   # before any arithmetic: "16" or -4 is named as such
            value = fold.get(key, 1)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise FoldingError(f"{source}: layer {name!r}: {key} must be a positive integer, "
                                   f"got {value!r}")
        layer = g.by_name[name]
        m = g.model(layer)
        fold = dict(fold)
        for key in m.fold_keys:
            fold.setdefault(key, 1)
        err = m.check(layer, fold, g)
        if err:
            raise FoldingError(f"{source}: {err}")
        out[name] = fold
    return out


FOLD_KEYS = ("pe", "simd", "mem", "out_pe")   # a folding file's keys per layer, in order


def write_folding(path, folding: dict, g: Graph | None = None, comment: str | None = None,
                  lut_per_bram: float | None = None, extra: dict | None = None) -> Path:
    """Write a folding file (layer order of the model when ``g`` is given); ``extra``: more
    underscore keys to keep (e.g. "_budget"); the folding's "_fifo_depths" are written last."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    order = [l["name"] for l in g.layers] if g is not None else \
        [k for k in folding if not str(k).startswith("_")]
    if lut_per_bram is None and RATE_KEY in folding:
        lut_per_bram = folding[RATE_KEY]
    data = {}
    if comment:
        data["_comment"] = comment
    if lut_per_bram is not None:
        data[RATE_KEY] = round(lut_per_bram, 6)
    for key, value in (extra or {}).items():
        data[key] = value
    for name in order:
        if name in folding:
            data[name] = {k: folding[name][k] for k in FOLD_KEYS if k in folding[name]}
    if folding.get(FIFO_KEY):
        data[FIFO_KEY] = dict(sorted(folding[FIFO_KEY].items()))
    path.write_text(json.dumps(data, indent=1) + "\n")
    return path


# --------------------------------------------------------------------------------------------
# Search
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Budget:
    """Resource budget as fractions of the part (default: 70% LUT, 85% BRAM36, 0 DSP)."""

    lut_frac: float = 0.70
    bram_frac: float = 0.85
    dsp: int = 0
    part: R.Part = R.XC7Z020
    lut_max: float | None = None      # absolute limits, when given, replace the fractions
    bram_max: float | None = None
    uram_frac: float = 1.0            # URAM holds only weights: the whole part by default

    @property
    def lut(self) -> float:
        if self.lut_max is not None:
            return float(self.lut_max)
        return math.floor(self.part.lut * self.lut_frac)

    @property
    def bram36(self) -> float:
        if self.bram_max is not None:
            return float(self.bram_max)
        return math.floor(self.part.bram36 * self.bram_frac * 2) / 2

    @property
    def uram(self) -> float:
        return math.floor(self.part.uram * self.uram_frac)

    def allows(self, d: Design) -> bool:
        t = d.totals
        return (t.lut <= self.lut and t.bram36 <= self.bram36 and t.dsp <= self.dsp
                and t.uram <= self.uram and t.ff <= self.part.ff
                and (self.part.lutram is None or t.lutram <= self.part.lutram))

    def describe(self) -> str:
        return (f"{self.lut / self.part.lut:.0%} LUT = {self.lut:,.0f}, "
                f"{self.bram36 / self.part.bram36:.0%} BRAM36 = {self.bram36:g}, {self.dsp} DSP "
                f"of the {self.part.name}")

    def as_dict(self) -> dict:
        return {"lut": self.lut, "bram36": self.bram36, "dsp": self.dsp, "uram": self.uram,
                "lut_frac": round(self.lut / self.part.lut, 4),
                "bram_frac": round(self.bram36 / self.part.bram36, 4)}


LAMBDAS = (0.0, 25.0, 50.0, 100.0, 200.0, 380.0, 800.0, 1600.0, 4000.0, 1e5)


class _Space:
    """Every layer's valid foldings with their cycles, and their costs per lambda (cached)."""

    def __init__(self, g: Graph, fixed: dict | None = None):
        self.g = g
        self.fixed = {k: v for k, v in (fixed or {}).items() if k not in (RATE_KEY, FIFO_KEY)}
        self.options = {}
        for layer in g.layers:
            m = g.model(layer)
            if layer["name"] in self.fixed:
                folds = [self.fixed[layer["name"]]]
            else:
                folds = m.choices(layer, g)
            self.options[layer["name"]] = [(g.cycles(layer, f)["cycles"], f) for f in folds]
        self._cost = {}

    def cost(self, name: str, i: int, lam: float) -> float:
        key = (name, i, lam)
        if key not in self._cost:
            layer = self.g.by_name[name]
            fold = self.options[name][i][1]
            c = self.g.model(layer).cost(layer, fold, self.g, Ctx(lut_per_bram=_rate(lam)))
            self._cost[key] = c.lut + lam * c.bram36 + 1e6 * c.dsp + 1e-3 * c.bram36
        return self._cost[key]

    def min_ii(self) -> int:
        return max(min(c for c, _ in opts) for opts in self.options.values())

    def candidate_iis(self) -> list:
        lo = self.min_ii()
        return sorted({c for opts in self.options.values() for c, _ in opts if c >= lo})

    def pick(self, ii: int, lam: float) -> dict | None:
        """Cheapest folding per layer with cycles <= ii at exchange rate lam."""
        out = {}
        for name, opts in self.options.items():
            best, best_c = None, math.inf
            for i, (cyc, fold) in enumerate(opts):
                if cyc <= ii:
                    c = self.cost(name, i, lam)
                    if c < best_c:
                        best, best_c = fold, c
            if best is None:
                return None
            out[name] = dict(best)
        return out


def _rate(lam: float) -> float:
    return lam if lam > 0 else 1e-9


def _pin_weight_memories(g: Graph, fold: dict, lam: float) -> None:
    """Record in ``fold`` where the weights go (block or distributed) at exchange rate lam."""
    for name, f in fold.items():
        layer = g.by_name[name]
        if "simd" in g.model(layer).fold_keys and "mem" not in f:
            c = g.model(layer).cost(layer, f, g, Ctx(lut_per_bram=_rate(lam)))
            style = c.items.get("weights", {}).get("style")
            if style in ("bram", "lut"):
                f["mem"] = style


def _place_in_uram(space: "_Space", fold: dict, lam: float, budget: Budget) -> None:
    """On a part with UltraRAM, move weight memories from block (or distributed) ROM to URAM
    while the design's BRAM36 exceeds the budget: first those that free the most BRAM36 (and
    LUTs, at the exchange rate) per URAM block, as long as URAM blocks remain. URAM needs the
    run-time write path (hls/lib/weight_load.h), so nothing goes there while BRAM suffices."""
    g, part = space.g, budget.part
    if not part.uram:
        return
    ctx = Ctx(lut_per_bram=_rate(lam))
    totals = evaluate(g, fold, part=part, ctx=ctx).totals
    bram, used = totals.bram36, totals.uram
    moves = []
    for name, f in fold.items():
        layer = g.by_name[name]
        if name in space.fixed or "simd" not in g.model(layer).fold_keys or f.get("mem") == "uram":
            continue
        w = g.model(layer).cost(layer, f, g, ctx).items.get("weights")
        if not w or not w.get("depth"):
            continue
        blocks = R.uram_for(w["depth"], w["width"])
        saved = w.get("bram36", 0.0) + w.get("lut", 0.0) / ctx.lut_per_bram
        moves.append((-saved / blocks, name, blocks, w.get("bram36", 0.0)))
    for _, name, blocks, freed in sorted(moves):
        if bram <= budget.bram36:
            break
        if freed and used + blocks <= budget.uram:
            fold[name]["mem"] = "uram"
            bram, used = bram - freed, used + blocks


def _refine(space: _Space, fold: dict, ii: int, lam: float, sweeps: int = 2) -> None:
    """Coordinate descent on the per-layer choice including the FIFOs / width converters on the
    layer's streams (which depend on the neighbours' foldings): a streaming layer whose PE
    matches the next layer's SIMD needs no converter."""
    g = space.g
    ctx = Ctx(lut_per_bram=_rate(lam))
    off = stream_offsets(g)

    def local(name):
        layer = g.by_name[name]
        c = 0.0
        for sname in list(layer["inputs"]) + list(layer["outputs"]):
            f = stream_cost(g, sname, fold, ctx, off)
            if f is not None:
                c += f["lut"] + lam * f["bram36"]
        return c

    for _ in range(sweeps):
        changed = False
        for name, opts in space.options.items():
            if name in space.fixed:
                continue
            cur = fold[name]
            best_i, best_c = None, math.inf
            for i, (cyc, f) in enumerate(opts):
                if cyc > ii:
                    continue
                fold[name] = dict(f)
                c = space.cost(name, i, lam) + local(name)
                if c < best_c - 1e-6:
                    best_i, best_c = i, c
            fold[name] = dict(opts[best_i][1]) if best_i is not None else cur
            changed |= fold[name] != cur
        if not changed:
            break


def _best_at(space: _Space, ii: int, budget: Budget, clock_mhz: float, price=evaluate):
    """(design within budget with least LUT, then BRAM) or (None, cheapest-LUT design)."""
    best, closest = None, None
    seen = []
    for lam in LAMBDAS:
        fold = space.pick(ii, lam)
        if fold is None:
            return None, None
        _refine(space, fold, ii, lam)
        _pin_weight_memories(space.g, fold, lam)
        _place_in_uram(space, fold, lam, budget)
        if fold in seen:
            continue
        seen.append(fold)
        # the exchange rate is saved with the folding, so the file reproduces the design
        d = price(space.g, fold, clock_mhz, budget.part, Ctx(lut_per_bram=_rate(lam)))
        if budget.allows(d):
            if best is None or (d.totals.lut, d.totals.bram36) < (best.totals.lut,
                                                                  best.totals.bram36):
                best = d
        over = max(d.totals.lut / budget.lut, d.totals.bram36 / max(budget.bram36, 0.5))
        if closest is None or over < closest[0]:
            closest = (over, d)
    return best, (closest[1] if closest else None)


def search(g: Graph, clock_mhz: float = R.DEFAULT_CLOCK_MHZ, target_fps: float | None = None,
           budget: Budget = Budget(), fixed: dict | None = None, price=evaluate) -> Design:
    """The automatic folding. ``fixed``: layers whose folding is given (from a file).
    ``price(g, folding, clock_mhz, part, ctx) -> Design`` prices each candidate against the
    budget: the graph model (cost.evaluate) or, with a package, the generated design
    (generated.generated_pricer). Each layer's own choice uses the op models either way.

    With ``target_fps``: the cheapest design that reaches it within the budget. Without: the
    fastest design within the budget. Raises FitError with a readable message otherwise.
    """
    space = _Space(g, fixed)
    iis = space.candidate_iis()
    # Does anything fit at all? (the slowest, cheapest design)
    slowest, closest = _best_at(space, iis[-1], budget, clock_mhz, price)
    if slowest is None and budget.part.uram:
        iis, slowest = _uram_start(space, iis, budget, clock_mhz, price)
    if slowest is None:
        raise FitError(_no_fit_message(g, closest, budget))
    if target_fps is not None:
        ii = int(clock_mhz * 1e6 // target_fps)
        if ii < space.min_ii():
            lim = max(space.options, key=lambda n: min(c for c, _ in space.options[n]))
            raise FitError(
                f"{g.name}: {target_fps:,.0f} FPS needs II <= {ii:,} cycles at {clock_mhz:g} MHz, "
                f"but layer {lim!r} cannot go below {space.min_ii():,} cycles even fully "
                f"unfolded (max {clock_mhz * 1e6 / space.min_ii():,.0f} FPS)")
        best, closest = _best_at(space, ii, budget, clock_mhz, price)
        if best is None:
            top = _fastest(space, iis, budget, clock_mhz, price)
            raise FitError(
                f"{g.name}: {target_fps:,.0f} FPS does not fit the budget ({budget.describe()}): "
                f"the cheapest folding for it needs {_totals(closest)}; costliest layers: "
                f"{_costliest(closest, 'lut' if closest.totals.lut > budget.lut else 'bram36')}."
                f" Within the budget the best is {top.fps:,.0f} FPS (II {top.ii:,} cycles, "
                f"bottleneck {top.bottleneck!r}); or raise the budget "
                f"(--budget-lut-pct / --budget-bram-pct).")
        return best
    return _fastest(space, iis, budget, clock_mhz, price)


def _uram_start(space: _Space, iis: list, budget: Budget, clock_mhz: float, price=evaluate):
    """(the candidate IIs up to the slowest that fits, its design) or (iis, None), on a part with
    UltraRAM where the slowest design does not fit. URAM is 72 bits wide: the slowest folding's
    narrow weight words (PE = SIMD = 1) waste it, so BRAM runs out there while a faster folding,
    with words wide enough for URAM, fits. 24 IIs spread over the range are tried with the graph
    model (fast), the slowest that fits is priced as generated."""
    picks = sorted({iis[round(i * (len(iis) - 1) / 23)] for i in range(24)}, reverse=True)
    for ii in picks:
        if _best_at(space, ii, budget, clock_mhz, evaluate)[0] is None:
            continue
        best, _ = _best_at(space, ii, budget, clock_mhz, price)
        if best is not None:
            return [c for c in iis if c <= ii], best
    return iis, None


def _fastest(space: _Space, iis: list, budget: Budget, clock_mhz: float, price=evaluate) -> Design:
    lo, hi = 0, len(iis) - 1          # iis[hi] is known to fit
    best, _ = _best_at(space, iis[hi], budget, clock_mhz, price)
    while lo < hi:
        mid = (lo + hi) // 2
        d, _ = _best_at(space, iis[mid], budget, clock_mhz, price)
        if d is not None:
            hi, best = mid, d
        else:
            lo = mid + 1
    return best


def _totals(d: Design) -> str:
    t = d.totals
    return f"{t.lut:,.0f} LUT, {t.bram36:g} BRAM36, {t.dsp:.0f} DSP"


def _costliest(d: Design, key: str, n: int = 3) -> str:
    rows = sorted(d.layers, key=lambda l: -l[key])[:n]
    tot = getattr(d.totals, key) or 1
    return ", ".join(f"{l['name']} ({l[key]:,.4g} {key.upper()}, {l[key] / tot:.0%})"
                     for l in rows)


def _no_fit_message(g: Graph, d: Design, budget: Budget) -> str:
    """Even the slowest folding exceeds the budget: say what costs and what would fit."""
    if d is None:
        return f"{g.name}: no valid folding"
    t = d.totals
    parts = []
    if t.bram36 > budget.bram36:
        wbits = sum(l.get("weight_bits", 0) for l in d.layers)
        excess = t.bram36 - budget.bram36
        parts.append(
            f"BRAM36 {t.bram36:g} > {budget.bram36:g} (weights {wbits / 1e6:.2f} Mbit = at "
            f"least {wbits / 36864:.0f} BRAM36; costliest: {_costliest(d, 'bram36')}); it would "
            f"fit with ~{excess * 36864 / 1e3:,.0f} kbit fewer weights (narrower or fewer of "
            f"those layers), or a BRAM budget of >= {math.ceil(t.bram36)} BRAM36 "
            f"(--budget-bram-pct {math.ceil(100 * t.bram36 / budget.part.bram36)}"
            f"{', more than the part has' if t.bram36 > budget.part.bram36 else ''})")
    if t.lut > budget.lut:
        parts.append(
            f"LUT {t.lut:,.0f} > {budget.lut:,.0f} (costliest: {_costliest(d, 'lut')}); it "
            f"would fit with a LUT budget of >= {math.ceil(100 * t.lut / budget.part.lut)}% "
            f"(--budget-lut-pct){' - more than the part has' if t.lut > budget.part.lut else ''}"
            f", or fewer/narrower layers")
    if t.dsp > budget.dsp:
        parts.append(f"DSP {t.dsp:.0f} > {budget.dsp}")
    if t.uram > budget.uram:
        parts.append(f"URAM {t.uram:g} > {budget.uram:g}")
    if budget.part.lutram is not None and t.lutram > budget.part.lutram:
        parts.append(f"distributed RAM {t.lutram:,.0f} > {budget.part.lutram:,} LUTs")
    return (f"{g.name} does not fit {budget.part.name} within the budget ({budget.describe()}) "
            f"even fully folded (PE = SIMD = 1, {d.fps:,.1f} FPS): " + "; ".join(parts))


def complete(g: Graph, partial: dict, clock_mhz: float = R.DEFAULT_CLOCK_MHZ, target_fps: float | None = None,
             part: R.Part = R.XC7Z020) -> dict:
    """Fold the layers ``partial`` does not name: cheapest (at the part's LUT/BRAM ratio) with
    cycles <= the II of the named layers, or of the target FPS when given."""
    space = _Space(g, partial)
    if target_fps is not None:
        ii = int(clock_mhz * 1e6 // target_fps)
    elif space.fixed:
        ii = max(space.options[n][0][0] for n in space.fixed)
    else:
        ii = space.candidate_iis()[-1]
    lam = partial.get(RATE_KEY, part.lut / part.bram36)
    return space.pick(max(ii, space.min_ii()), lam)
