# The Omniglot protocol as files: every step a file target, so `make -j2` runs independent steps
# side by side and a re-run redoes only what is out of date (touch a model: only its adaptation,
# evaluation, the comparison and the results are redone).
#
#   import   OUT/omniglot.h5           the two official archives (DATA), 28x28, ink bright
#   split    OUT/omniglot-vinyals.h5   Vinyals classes: trainval to train on, test to test on
#   sample   OUT/episodes/test-C.h5    COUNT test episodes per configuration C (5w1s, 5w5s,
#                                      20w1s), QUERIES queries per class, drawn with SEED
#   train    OUT/models/M.h5           protonet, hypernet, maml-5w, maml-20w (MAML's head is
#                                      fixed to one way count: one model per way count)
#   adapt    OUT/adapted/M-C.h5        each model adapted to each configuration's episodes
#   eval     OUT/eval/M-C.json         accuracy ± 95% CI (and OUT/eval/M-C.tsv, predictions)
#   bench    OUT/bench/bench.csv       fsh-bench on the same episodes: paired differences,
#                                      adaptation time, throughput, memory (bench.md, .json, .svg)
#   results  OUT/results.txt           the table, beside the published figures; printed by `all`
#
# Usage, from the source tree (tools in build/bin) or with fsh installed (tools on PATH):
#   make -f share/fsh/examples/omniglot.mk -j2 DATA=DIR OUT=DIR BIN=build/bin
#   make -f PREFIX/share/fsh/examples/omniglot.mk -j2 DATA=DIR OUT=DIR
# DATA is the folder holding images_background.zip and images_evaluation.zip, the official
# archives (github.com/brendenlake/omniglot, folder python/; MIT licence). The class lists ship
# with fsh (share/fsh/omniglot/vinyals, found next to this file, in the source tree or
# installed). The whole protocol takes about 50 minutes of training on 2 cores with -j2 (five
# trainings, 5800 s of one core in all) plus adaptation, evaluation and fsh-bench.
#
# The training protocol is the one behind README "Results" (scripts/omniglot_compare.sh), with
# budgets in wall time, one thread per training, two trainings side by side (-j2):
#   protonet-warm  ProtoNet, 60-way 1-shot 5-query episodes, Adam 1e-3 halved every 2000
#                  episodes, for WARM_SECONDS (1160 s)
#   protonet       that checkpoint resumed for TRAIN_SECONDS - WARM_SECONDS (580 s): --resume
#                  continues bit for bit, so this is the ProtoNet of TRAIN_SECONDS (1740 s)
#   hypernet       the hypernetwork started from protonet-warm (--init-from) for the same 580 s,
#                  Adam 5e-4 halved every 1000 episodes (scripts/omniglot_hypernet.sh): its
#                  budget counts the warm start, 1740 s in all
#   maml-5w        MAML, exact second order, 5-way 1-shot 5-query episodes in meta-batches of 8,
#                  Adam 1e-3 halved every 8000 episodes, inner lr 0.4, 1 inner step in training
#                  and 3 when adapting (Finn et al. 2017), TRAIN_SECONDS
#   maml-20w       the same 20-way with inner lr 0.1 and 5 adaptation steps, TRAIN_SECONDS
#                  (other way counts: the 5-way recipe)
# No validation part (the Vinyals protocol has none, and nothing may be chosen on test
# episodes): each model is the last checkpoint. With a time budget the number of episodes
# trained, and so the accuracies, depend on the machine's speed and load; MAX_EPISODES caps the
# episodes instead (a budget that gives the same models on every machine).
#
# Every tool writes its output under a temporary name and renames it when complete; a training
# runs into M.training.h5, renamed when it has finished, and .DELETE_ON_ERROR removes a target
# whose recipe failed or was interrupted, so a target that exists is complete.

# ---- settings (make VAR=value) -------------------------------------------------------------
# DATA: the folder holding images_background.zip and images_evaluation.zip (required)
DATA ?=
# OUT: where everything is written
OUT ?= omniglot-run
# CLASSES: the folder of the class lists trainval.txt and test.txt; by default the Vinyals lists
# that ship with fsh, ../omniglot/vinyals from this file's folder, in the source tree
# (share/fsh/examples) and installed (PREFIX/share/fsh/examples) alike
HERE := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
CLASSES ?= $(HERE)/../omniglot/vinyals
# BIN: the folder of the fsh tools; empty (default): found on PATH; BIN=build/bin for a source
# tree's build
BIN ?=
# TRAIN_SECONDS: wall-time budget of each model, warm start included (hypernet); WARM_SECONDS:
# the ProtoNet warm start that protonet continues and hypernet starts from (0 < WARM < TRAIN)
TRAIN_SECONDS ?= 1740
WARM_SECONDS ?= 1160
# MAX_EPISODES: episode cap of each training (a machine-independent budget when small)
MAX_EPISODES ?= 100000000
# CONFIGS: the test configurations, NwKs; METHODS: any of protonet, hypernet, maml
CONFIGS ?= 5w1s 5w5s 20w1s
METHODS ?= protonet hypernet maml
# COUNT test episodes per configuration with QUERIES queries per class, drawn with SEED (which
# also seeds the training episodes and initialisations)
COUNT ?= 600
QUERIES ?= 15
SEED ?= 1
# THREADS: worker threads of each tool (0 = all cores); with make -jJ, J tools run at once
THREADS ?= 1
# TRAIN_WAY, TRAIN_QUERY: ProtoNet's and the hypernetwork's training episodes (1-shot)
TRAIN_WAY ?= 60
TRAIN_QUERY ?= 5
# BENCH_FLAGS: extra fsh-bench flags (e.g. --timing-episodes 10 --train-timing 0: quicker)
BENCH_FLAGS ?=

# ---- derived ---------------------------------------------------------------------------------
tool = $(if $(BIN),$(BIN)/,)$(1)
EPISODES_TOOL := $(call tool,fsh-episodes)
TRAIN := $(call tool,fsh-train)
ADAPT := $(call tool,fsh-adapt)
EVAL := $(call tool,fsh-eval)
BENCH := $(call tool,fsh-bench)

comma := ,
ways = $(firstword $(subst w, ,$(1)))
shots = $(patsubst %s,%,$(word 2,$(subst w, ,$(1))))
uniq = $(if $(1),$(firstword $(1)) $(call uniq,$(filter-out $(firstword $(1)),$(1))))
MAML_WAYS := $(call uniq,$(foreach c,$(CONFIGS),$(call ways,$(c))))
# The models of each method, and the model that scores configuration C for method M.
models_protonet := protonet
models_hypernet := hypernet
models_maml := $(foreach n,$(MAML_WAYS),maml-$(n)w)
model_for = $(if $(filter maml,$(1)),maml-$(call ways,$(2))w,$(1))
MODELS := $(foreach m,$(METHODS),$(models_$(m)))
PAIRS := $(foreach c,$(CONFIGS),$(foreach m,$(METHODS),$(m)-$(c)))
SPLIT := $(OUT)/omniglot-vinyals.h5
EPISODE_FILES := $(foreach c,$(CONFIGS),$(OUT)/episodes/test-$(c).h5)
MODEL_FILES := $(foreach m,$(MODELS),$(OUT)/models/$(m).h5)
ADAPTED_FILES := $(foreach p,$(PAIRS),$(OUT)/adapted/$(p).h5)
EVAL_FILES := $(foreach p,$(PAIRS),$(OUT)/eval/$(p).json)
HYPER_SECONDS = $(shell awk 'BEGIN { print $(TRAIN_SECONDS) - $(WARM_SECONDS) }')

ifeq ($(filter help,$(MAKECMDGOALS)),)
ifeq ($(strip $(DATA)),)
$(error DATA is not set: make -f $(lastword $(MAKEFILE_LIST)) DATA=FOLDER (the folder holding images_background.zip and images_evaluation.zip; make ... help says more))
endif
ifneq ($(filter-out protonet hypernet maml,$(METHODS)),)
$(error METHODS may hold protonet, hypernet and maml, not: $(filter-out protonet hypernet maml,$(METHODS)))
endif
ifneq ($(shell awk 'BEGIN { print ($(WARM_SECONDS) > 0 && $(WARM_SECONDS) < $(TRAIN_SECONDS)) }'),1)
$(error WARM_SECONDS ($(WARM_SECONDS)) must be above 0 and below TRAIN_SECONDS ($(TRAIN_SECONDS)))
endif
endif

.DELETE_ON_ERROR:
.SUFFIXES:
.PHONY: all help import split sample train adapt eval bench results

# The models first, in this order, so that -j2 runs the long trainings side by side from the
# start: protonet-warm and maml-5w, then maml-20w, protonet and hypernet as slots free up (two
# lanes of about 2900 s each with the default budgets).
WARM := $(if $(filter protonet hypernet,$(METHODS)),$(OUT)/models/protonet-warm.h5)
all: $(WARM) $(filter $(OUT)/models/maml-%,$(MODEL_FILES)) $(MODEL_FILES) $(OUT)/results.txt
	@cat $(OUT)/results.txt

help:
	@sed -n '1,/^# ---- derived/p' $(lastword $(MAKEFILE_LIST)) | sed '$$d'

import: $(OUT)/omniglot.h5
split: $(SPLIT)
sample: $(EPISODE_FILES)
train: $(MODEL_FILES)
adapt: $(ADAPTED_FILES)
eval: $(EVAL_FILES)
bench: $(OUT)/bench/bench.csv
results: $(OUT)/results.txt

# A missing archive: say where it comes from.
$(DATA)/images_background.zip $(DATA)/images_evaluation.zip:
	@echo "omniglot.mk: $@ is missing: download images_background.zip and images_evaluation.zip from github.com/brendenlake/omniglot (folder python/) into $(DATA)" >&2
	@exit 1

$(OUT)/omniglot.h5: $(DATA)/images_background.zip $(DATA)/images_evaluation.zip
	@mkdir -p $(@D)
	$(EPISODES_TOOL) import omniglot $^ --threads $(THREADS) -o $@

$(SPLIT): $(OUT)/omniglot.h5 $(CLASSES)/trainval.txt $(CLASSES)/test.txt
	$(EPISODES_TOOL) split $< --classes trainval=$(CLASSES)/trainval.txt,test=$(CLASSES)/test.txt -o $@

# ---- test episodes: one file per configuration, the same for every method ---------------------
define episodes_rule
$(OUT)/episodes/test-$(1).h5: $(SPLIT)
	@mkdir -p $$(@D)
	$(EPISODES_TOOL) sample $(SPLIT) --part test -N $(call ways,$(1)) -K $(call shots,$(1)) -Q $(QUERIES) --count $(COUNT) --seed $(SEED) -o $$@
endef
$(foreach c,$(CONFIGS),$(eval $(call episodes_rule,$(c))))

# ---- training ----------------------------------------------------------------------------------
# Each training writes MODEL.training.h5, renamed MODEL.h5 when it has finished, and logs to
# MODEL.csv (removed first: --log appends). protonet.csv holds the continuation only; the warm
# start's records are in protonet-warm.csv.
tmp_model = $(@:.h5=.training.h5)

$(OUT)/models/protonet-warm.h5: $(SPLIT)
	@mkdir -p $(@D)
	rm -f $(tmp_model) $(@:.h5=.csv)
	$(TRAIN) --method protonet --data $(SPLIT) --part train -N $(TRAIN_WAY) -K 1 -Q $(TRAIN_QUERY) -n $(MAX_EPISODES) --lr 1e-3 --lr-step 2000 --lr-gamma 0.5 --val-part none --no-best --max-time $(WARM_SECONDS) --seed $(SEED) --threads $(THREADS) --log $(@:.h5=.csv) -o $(tmp_model)
	mv $(tmp_model) $@

$(OUT)/models/protonet.h5: $(OUT)/models/protonet-warm.h5
	rm -f $(tmp_model) $(@:.h5=.csv)
	$(TRAIN) --resume $< --max-time $(HYPER_SECONDS) --threads $(THREADS) --no-best --log $(@:.h5=.csv) -o $(tmp_model)
	mv $(tmp_model) $@

$(OUT)/models/hypernet.h5: $(OUT)/models/protonet-warm.h5 $(SPLIT)
	rm -f $(tmp_model) $(@:.h5=.csv)
	$(TRAIN) --method hypernet --init-from $< --data $(SPLIT) --part train -N $(TRAIN_WAY) -K 1 -Q $(TRAIN_QUERY) -n $(MAX_EPISODES) --lr 5e-4 --lr-step 1000 --lr-gamma 0.5 --val-part none --no-best --max-time $(HYPER_SECONDS) --seed $(SEED) --threads $(THREADS) --log $(@:.h5=.csv) -o $(tmp_model)
	mv $(tmp_model) $@

# MAML at N ways: Finn et al.'s inner learning rate and adaptation steps for 5 and 20 ways.
maml_inner_lr = $(if $(filter 20,$(1)),0.1,0.4)
maml_adapt_steps = $(if $(filter 20,$(1)),5,3)
define maml_rule
$(OUT)/models/maml-$(1)w.h5: $(SPLIT)
	@mkdir -p $$(@D)
	rm -f $$(tmp_model) $$(@:.h5=.csv)
	$(TRAIN) --method maml --data $(SPLIT) --part train -N $(1) -K 1 -Q $(TRAIN_QUERY) -n $(MAX_EPISODES) --meta-batch 8 --lr 1e-3 --lr-step 8000 --lr-gamma 0.5 --inner-lr $(call maml_inner_lr,$(1)) --inner-steps 1 --adapt-steps $(call maml_adapt_steps,$(1)) --bn support --val-part none --checkpoint-every 0 --no-best --max-time $(TRAIN_SECONDS) --seed $(SEED) --threads $(THREADS) --log $$(@:.h5=.csv) -o $$(tmp_model)
	mv $$(tmp_model) $$@
endef
$(foreach n,$(MAML_WAYS),$(eval $(call maml_rule,$(n))))

# ---- adaptation and evaluation: method M on configuration C ------------------------------------
define pair_rule
$(OUT)/adapted/$(1)-$(2).h5: $(OUT)/models/$(call model_for,$(1),$(2)).h5 $(OUT)/episodes/test-$(2).h5 $(SPLIT)
	@mkdir -p $$(@D)
	$(ADAPT) -m $$< -e $(OUT)/episodes/test-$(2).h5 --dataset $(SPLIT) --threads $(THREADS) -q -o $$@

$(OUT)/eval/$(1)-$(2).json: $(OUT)/adapted/$(1)-$(2).h5 $(OUT)/episodes/test-$(2).h5 $(SPLIT)
	@mkdir -p $$(@D)
	$(EVAL) -a $$< -e $(OUT)/episodes/test-$(2).h5 --dataset $(SPLIT) --threads $(THREADS) --predictions $$(@:.json=.tsv) --json -o $$@
endef
$(foreach c,$(CONFIGS),$(foreach m,$(METHODS),$(eval $(call pair_rule,$(m),$(c)))))

# ---- fsh-bench on the same episodes: written into bench.tmp, renamed as a whole ---------------
# (its markdown, printed on stdout, is bench/bench.md)
bench_models = $(foreach m,$(MODELS),-m $(firstword $(subst -, ,$(m)))=$(OUT)/models/$(m).h5)
$(OUT)/bench/bench.csv: $(MODEL_FILES) $(EPISODE_FILES) $(SPLIT)
	rm -rf $(OUT)/bench.tmp
	$(BENCH) $(bench_models) $(foreach e,$(EPISODE_FILES),-e $(e)) --dataset $(SPLIT) --seed $(SEED) --threads $(THREADS) $(BENCH_FLAGS) -o $(OUT)/bench.tmp >/dev/null
	rm -rf $(OUT)/bench
	mv $(OUT)/bench.tmp $(OUT)/bench

# ---- the results beside the published figures -------------------------------------------------
$(OUT)/results.txt: $(EVAL_FILES) $(OUT)/bench/bench.csv $(HERE)/omniglot-results.sh
	sh $(HERE)/omniglot-results.sh $(OUT) "$(CONFIGS)" "$(METHODS)" >$@.tmp || { cat $@.tmp; rm -f $@.tmp; exit 1; }
	mv $@.tmp $@
