#!/bin/sh
# Compare archsim's NITRO-D MLP 784-200-100-50-10 with the NITRO-D authors' code on epoch-1/2 test
# accuracy per seed, and run both in lock-step on one random stream. See README.md.
#
# usage: sh benchmarks/nitro_epoch1/run_all.sh
#   quick: SEEDS=42 EPOCHS=1 LOCKSTEP_SEEDS=42 FLUCT_SEEDS=42 sh benchmarks/nitro_epoch1/run_all.sh
# environment (defaults in brackets):
#   NITRO_EPOCH1_WORK  work folder for everything written [/tmp/nitro-epoch1]
#   SEEDS              seeds of the per-seed runs, both codes [42 .. 51]
#   EPOCHS             epochs per run [2]
#   LOCKSTEP_SEEDS     seeds of the lock-step runs in both directions [42 45]; the first also gets
#                      the input-statistics, first-step and wake-up reports
#   FLUCT_SEEDS        seeds of the within-epoch-1 accuracy swings [42 43]
#   NITRO_D_DIR        the authors' code [$NITRO_EPOCH1_WORK/nitro-d]; lib/ and the mlp_2_fmnist notebook
#                      are taken from NITRO_D_REPO (a git dir or checkout) if missing
#   ARCHSIM_PYTHON     python with archsim's dependencies [archsim's .venv/bin/python]
#   ARCHSIM_CACHE      archsim's training cache [$NITRO_EPOCH1_WORK/cache]
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
WORK=${NITRO_EPOCH1_WORK:-/tmp/nitro-epoch1}
REPO=${NITRO_D_REPO:-/work/.mirror/AI-Tech-Research-Lab+nitro-d/repo}
SEEDS=${SEEDS:-$(seq 42 51)}
EPOCHS=${EPOCHS:-2}
LOCKSTEP_SEEDS=${LOCKSTEP_SEEDS:-42 45}
FLUCT_SEEDS=${FLUCT_SEEDS:-42 43}
AV=${ARCHSIM_PYTHON:-$ROOT/.venv/bin/python}
TV=$WORK/tvenv/bin/python
export NITRO_EPOCH1_WORK="$WORK"
export NITRO_D_DIR="${NITRO_D_DIR:-$WORK/nitro-d}"
export ARCHSIM_CACHE="${ARCHSIM_CACHE:-$WORK/cache}"
export OPENBLAS_NUM_THREADS=1

mkdir -p "$WORK" "$NITRO_D_DIR"
NOTEBOOK=results/mlp_2_fmnist/train.ipynb
for p in lib "$NOTEBOOK"; do
  [ -e "$NITRO_D_DIR/$p" ] || git -C "$REPO" archive HEAD "$p" | tar -x -C "$NITRO_D_DIR"
done
[ -d "$NITRO_D_DIR/lib" ] && [ -f "$NITRO_D_DIR/$NOTEBOOK" ] || {
  echo "no lib/ or $NOTEBOOK in $NITRO_D_DIR (extracted from $REPO)" >&2; exit 1; }

# the authors' code needs what it imports (torch/torchvision and cupy are replaced by stubs/)
if ! "$TV" -c 'import numpy, tqdm, matplotlib, seaborn; assert numpy.__version__ == "1.26.4"' 2>/dev/null; then
  [ -x "$TV" ] || python3 -m venv "$WORK/tvenv"
  nice -n 10 "$TV" -m pip install --quiet numpy==1.26.4 tqdm matplotlib seaborn
fi

# step NAME PYTHON SCRIPT ARGS...: run a script at low priority, its output into $WORK/NAME.log, then show it
step() {
  log=$WORK/$1.log; shift
  echo "== $log"
  nice -n 10 "$@" >"$log"
  cat "$log"
}

step archsim_seeds "$AV" "$HERE/archsim_seeds.py" "$WORK/archsim_raw.csv" "$EPOCHS" $SEEDS
step authors_seeds "$TV" "$HERE/authors_seeds.py" "$WORK/authors_raw.csv" "$EPOCHS" $SEEDS
for s in $LOCKSTEP_SEEDS; do
  step dump$s "$AV" "$HERE/archsim_dump.py" "$WORK/dump$s" "$s" "$EPOCHS"
  step lockstep$s "$TV" "$HERE/authors_lockstep.py" "$WORK/dump$s" "$EPOCHS"
  step authors_dump$s "$TV" "$HERE/authors_dump.py" "$WORK/authors$s.npz" "$s" "$EPOCHS"
  step replay$s "$AV" "$HERE/archsim_replay.py" "$WORK/authors$s.npz" "$s" "$EPOCHS"
done
set -- $LOCKSTEP_SEEDS
step stats "$TV" "$HERE/compare_stats.py" "$WORK/dump$1" $SEEDS
step first_step "$AV" "$HERE/first_step_numbers.py" "$WORK/dump$1"
step wakeup$1 "$AV" "$HERE/archsim_wakeup.py" "$1"
for s in $FLUCT_SEEDS; do
  step fluct$s "$AV" "$HERE/archsim_epoch1_fluct.py" "$s"
done
step analysis "$AV" "$HERE/analyse.py"
echo "done: logs, epoch_acc.csv and the dumps are in $WORK"
