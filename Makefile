# User entry points. The first target that needs Python creates .venv and installs the pins.
MODEL    ?= ern_tiny
# the board (host/boards.py: pynq-z2, pynq-z1, kv260, ultra96-v2, aup-zu3, zcu104): its part,
# clock, HP port and processing system for estimate, hls, overlay, deploy and bench
BOARD    ?= pynq-z2
DATASET  ?= fashion_mnist
EPOCHS   ?= 30
IMAGES   ?= 1000
# a folding file for estimate, hls and fifos; empty: the model's committed folding
# (hls/foldings/<model>.json on the xc7z020 of the PYNQ-Z1/Z2, <model>_<board>.json on another
# board; hls/hls_flow.py's default_folding) unless ESTIMATE_ARGS asks for a search; else the search
FOLDING  ?=
RESUME   ?=
FORCE    ?=

# ---- every variable that reaches a path, a command or the shell must be a plain word.
# Checked on the raw $(value VAR) before anything expands it, so MODEL='$(shell ...)' or
# MODEL='x`cmd`' stops here (even under make -n) instead of running. host/names.py is the same
# rule for Python: [A-Za-z0-9_.-], not starting with '.' or '-'.
_ern_chars := a b c d e f g h i j k l m n o p q r s t u v w x y z A B C D E F G H I J K L M N O P Q R S T U V W X Y Z _ . -
_ern_digits := 0 1 2 3 4 5 6 7 8 9
_ern_strip = $(if $(2),$(call _ern_strip,$(subst $(firstword $(2)),,$(1)),$(wordlist 2,999,$(2))),$(1))
# $(call _ern_word,VAR,allowed chars,what): an error unless $(value VAR) is one word of those characters
_ern_word = $(if $(or $(call _ern_strip,$(value $(1)),$(2)),$(filter-out 1,$(words x$(value $(1))x)),$(filter .% -%,$(value $(1)))),$(error $(1)=$(value $(1)) is refused: it must be $(3)))
_ern_name = $(call _ern_word,$(1),$(_ern_chars) $(_ern_digits),a plain name ([A-Za-z0-9_.-], not starting with . or -))
_ern_count = $(call _ern_word,$(1),$(_ern_digits),a whole number (digits only))
$(if $(value MODEL),,$(error MODEL is empty))
$(call _ern_name,MODEL)
$(call _ern_name,DATASET)
$(call _ern_name,BOARD)
$(call _ern_count,EPOCHS)
$(call _ern_count,IMAGES)
$(if $(value RESUME),$(call _ern_name,RESUME))
$(if $(value FORCE),$(call _ern_name,FORCE))
$(if $(filter file,$(origin FOLDING)),,$(if $(value FOLDING),$(call _ern_word,FOLDING,$(_ern_chars) $(_ern_digits) /,a plain path ([A-Za-z0-9_./-]) to a folding file)))
PY       := .venv/bin/python
BUILD    := build/$(MODEL)
FMNIST   := /usr/share/datasets/fashion-mnist

.PHONY: setup test train eval export lower verify estimate fifos hls overlay deploy bench data clean tradeoff

# The pipeline's steps (export, lower, estimate, codegen, testdata, csim, clocked, emu, vitis) are
# run by one runner, hls/hls_flow.py: each step is skipped while its inputs are unchanged
# (build/<m>/steps.json), so the targets below only say which steps; FORCE=1 reruns them.
STEPS    := $(PY) -m hls --model $(MODEL) --board $(BOARD) $(if $(FORCE),--force)

setup: .venv/.stamp

.venv/.stamp: requirements.txt
	@test -x $(PY) || python3 -m venv .venv
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	@touch $@

# Debian ships Fashion-MNIST as IDX files; install the package when missing and we can.
data:
	@if [ -z "$$ERN_DATA_FASHION_MNIST" ] && [ ! -f $(FMNIST)/t10k-labels-idx1-ubyte.gz ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing dataset-fashion-mnist (Debian)"; \
	    (apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1 || \
	     (apt-get update -qq >/dev/null && apt-get install -y -qq dataset-fashion-mnist >/dev/null)) || \
	     echo "could not install dataset-fashion-mnist; set ERN_DATA_FASHION_MNIST=<folder of IDX files>"; \
	  else echo "Fashion-MNIST missing: apt-get install dataset-fashion-mnist, or set ERN_DATA_FASHION_MNIST"; fi; \
	fi

test: setup data
	$(PY) -m pytest -q tests

train: setup data
	$(PY) -m training.train --model $(MODEL) --dataset $(DATASET) --epochs $(EPOCHS) $(if $(RESUME),--resume) \
	  $(if $(FORCE),--force)

eval: setup data
	$(PY) -m training.evaluate --model $(MODEL) --dataset $(DATASET)

# ---- stage 2: QONNX export and lowering to the integer model package -------------------
# The trained checkpoint when there is one; else a seeded random init with randomized BN
# (training/random_init.py; a build output): the bnn_pynq peers and the ImageNet ERNs have no
# trained weights here. `make train` makes models/$(MODEL)/model.pt, which then wins.
TRAINED := models/$(MODEL)/model.pt
CKPT := $(if $(wildcard $(TRAINED)),$(TRAINED),$(BUILD)/random_init.pt)

$(BUILD)/random_init.pt: | setup
	@echo "no trained checkpoint $(TRAINED): using a seeded random init (not trained)"
	$(PY) -m training.random_init --model $(MODEL) --out $@

$(BUILD)/model.onnx: $(CKPT) | setup
	$(STEPS) --step export

export: setup $(BUILD)/model.onnx

# ---- estimate (performance model, folding, fit check) ----------------------------------
# Extra search options, e.g. ern_tiny's PYNQ-Z2 goal (>= 6,100 FPS in 40k LUT / 120 BRAM36 / 0 DSP):
#   make estimate ESTIMATE_ARGS="--target-fps 6100 --budget-lut 40000 --budget-bram 120"
ESTIMATE_ARGS ?=

$(BUILD)/dataflow/model.json: $(BUILD)/model.onnx $(wildcard hls/lower/*.py) host/package.py host/ops.py | setup
	$(STEPS) --step lower

lower: setup $(BUILD)/dataflow/model.json

verify: setup data $(BUILD)/dataflow/model.json
	$(PY) tools/verify.py --model $(MODEL)

# writes build/<m>/estimate.json (+ PNG) and build/<m>/folding.json, the folding hls generates
estimate: setup $(BUILD)/dataflow/model.json
	$(STEPS) --step estimate $(if $(FOLDING),--folding $(FOLDING)) $(ESTIMATE_ARGS)

# ---- stage 3: HLS C++ generation and C-simulation (vitis_hls synthesis when on PATH) -------
# every step from export to vitis; a second run with nothing changed skips them all.
# HLS_ARGS: more options of `python -m hls`, e.g. "--no-emu --clocked-frames 0" or "--from codegen --to csim"
HLS_ARGS ?=

hls: setup data $(BUILD)/dataflow/model.json
	$(STEPS) --images $(IMAGES) $(if $(FOLDING),--folding $(FOLDING)) $(ESTIMATE_ARGS) $(HLS_ARGS)

# ---- FIFO sizing for throughput (hls/fifos.py, clocked C-simulation): writes `_fifo_depths` into
# the folding file FOLDING= names on the command line; otherwise into a new file
# build/<m>/folding_fifos.json (FORCE=1 to overwrite it). FIFOS_ARGS: e.g. "--tolerance 0.05"
FIFOS_ARGS ?=

fifos: setup data $(BUILD)/dataflow/model.json
	$(PY) -m hls.fifos --model $(MODEL) --board $(BOARD) $(if $(FOLDING),--folding $(FOLDING)) \
	  $(if $(and $(FOLDING),$(filter command line environment,$(origin FOLDING))),--update) \
	  $(if $(FORCE),--force) $(FIFOS_ARGS)

# ---- stage 4: overlay (needs Vivado), deploy folder, bench ----------------------------------
# overlay/build.py needs only the standard library: without vivado it says what it needs in one
# line and exits 2.
overlay:
	@python3 overlay/build.py --model $(MODEL) --board $(BOARD)

deploy: setup data $(BUILD)/dataflow/model.json
	$(PY) -m host.deploy --model $(MODEL) --board $(BOARD) $(if $(FORCE),--force)

bench: setup data $(BUILD)/dataflow/model.json
	$(PY) host/bench.py --model $(MODEL) --board $(BOARD) --images $(IMAGES)

clean:
	rm -rf build

# ---- trade-off: accuracy vs bit widths (trains every variant missing a checkpoint) --------
# make tradeoff TRADEOFF_ARGS="--variants ern_tiny_w1p4a2,ern_tiny_w2a2 --epochs 30"
TRADEOFF_ARGS ?=
tradeoff: setup data
	$(PY) tools/tradeoff.py --epochs $(EPOCHS) --images $(IMAGES) --write benchmarks/RESULTS.md $(TRADEOFF_ARGS)
