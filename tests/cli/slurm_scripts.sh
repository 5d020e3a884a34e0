#!/bin/bash
# The Slurm examples (share/fsh/examples/slurm) run here without Slurm: the array's tasks in a
# loop with SLURM_ARRAY_TASK_ID set (out of order), then the merge, give exactly the files and
# numbers of one unsharded fsh-adapt + fsh-eval run for every model (byte for byte: summary
# table, JSON, predictions; the merged adapted file scores the same); a missing task stops the
# merge naming the task to rerun; a task outside the array is refused. submit-eval.sh, with a
# stand-in sbatch that runs what it is given, submits the array and the dependent merge with
# the same arguments. train-mpi.sh under mpirun -np 2 writes the checkpoint one process writes,
# and submitted again with more episodes continues it as the straight run would (skipped with a
# message when mpirun or the build's MPI is missing).
set -u
src=${FSH_SOURCE_DIR:?FSH_SOURCE_DIR: the source tree}
slurm=$src/share/fsh/examples/slurm
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
cd "$d" || exit 1
fail=0
die() { echo "FAIL: $*" >&2; fail=1; }

fsh-episodes synth --classes 30 --instances 6 --seed 2 -o glyphs.h5 -q || die synth
fsh-episodes split glyphs.h5 --by class --fraction 0.6,0.2,0.2 -o split.h5 -q || die split
fsh-episodes sample split.h5 --part test -N 5 -K 1 -Q 3 --count 7 --seed 9 -o test.h5 -q ||
  die sample
# Budgets in episodes: the same models on every machine. Two seeds of one method share a name.
mkdir -p seed1 seed2
fsh-train --data split.h5 -N 5 -K 1 -Q 3 -n 6 --hidden 8 --val-part none --seed 1 \
  -o seed1/protonet.h5 -q || die "train protonet seed 1"
fsh-train --data split.h5 -N 5 -K 1 -Q 3 -n 6 --hidden 8 --val-part none --seed 2 \
  -o seed2/protonet.h5 -q || die "train protonet seed 2"
fsh-train --method maml --data split.h5 -n 4 --meta-batch 2 --hidden 8 --inner-steps 1 \
  --val-part none -o maml.h5 -q || die "train maml"
models=(seed1/protonet.h5 seed2/protonet.h5 maml.h5)
shards=3

# ---- the array, task by task, backwards; then the merge ------------------------------------
for ((t = ${#models[@]} * shards - 1; t >= 0; t--)); do
  SLURM_ARRAY_TASK_ID=$t SLURM_CPUS_PER_TASK=1 bash "$slurm/eval-array.sh" test.h5 $shards out \
    "${models[@]}" 2>/dev/null || die "array task $t"
done
bash "$slurm/eval-merge.sh" test.h5 $shards out "${models[@]}" >merge.out || die merge
for i in 0 1 2; do
  m=${models[$i]}
  dir=out/$i-$(basename "$m" .h5)
  fsh-adapt -m "$m" -e test.h5 -o "full$i.h5" -q || die "unsharded adapt $m"
  fsh-eval -a "full$i.h5" -e test.h5 --predictions "full$i.tsv" >"full$i.txt" || die "unsharded eval $m"
  fsh-eval -a "full$i.h5" -e test.h5 --json >"full$i.json" || die "unsharded eval --json $m"
  cmp -s "$dir/summary.txt" "full$i.txt" || die "$m: merged summary differs: $(cat "$dir/summary.txt")"
  cmp -s "$dir/summary.json" "full$i.json" || die "$m: merged JSON differs: $(cat "$dir/summary.json")"
  cmp -s "$dir/predictions.tsv" "full$i.tsv" || die "$m: merged predictions differ"
  fsh-eval -a "$dir/adapted.h5" -e test.h5 --predictions "again$i.tsv" >"again$i.txt" ||
    die "$m: the merged adapted file does not score"
  cmp -s "again$i.txt" "full$i.txt" && cmp -s "again$i.tsv" "full$i.tsv" ||
    die "$m: the merged adapted file scores differently"
  # The summary line: the model and its figures, from the merged JSON.
  acc=$(sed 's/.*"accuracy":\([0-9.]*\).*/\1/' "full$i.json")
  grep -q "^$i	$m	[a-z]*	7	$acc	" out/summary.tsv || die "summary.tsv line of $m: $(cat out/summary.tsv)"
done
cmp -s merge.out out/summary.tsv || die "the merge did not print summary.tsv"
# The two seeds are different models (so the test can tell them apart).
cmp -s out/0-protonet/summary.json out/1-protonet/summary.json &&
  cmp -s out/0-protonet/predictions.tsv out/1-protonet/predictions.tsv && die "the two seeds score alike"

# A missing task: the merge names it and writes nothing for that model.
rm out/2-maml/part.1.json out/2-maml/adapted.h5
err=$(bash "$slurm/eval-merge.sh" test.h5 $shards out "${models[@]}" 2>&1 >/dev/null) &&
  die "merge with a missing part succeeded"
grep -q "out/2-maml/part.1.json is missing: rerun task 7 of the array (model maml.h5, shard 1/3)" <<<"$err" ||
  die "missing part message: $err"
[ -e out/2-maml/adapted.h5 ] && die "merge left an adapted file for a model with a missing part"
# A task outside the array, or none at all.
err=$(SLURM_ARRAY_TASK_ID=9 bash "$slurm/eval-array.sh" test.h5 $shards out "${models[@]}" 2>&1) &&
  die "task 9 of 9 accepted"
grep -q "make tasks 0-8 (sbatch --array=0-8)" <<<"$err" || die "out-of-range message: $err"
err=$(env -u SLURM_ARRAY_TASK_ID bash "$slurm/eval-array.sh" test.h5 $shards out "${models[@]}" 2>&1) &&
  die "no SLURM_ARRAY_TASK_ID accepted"
grep -q "run as a job array (sbatch --array=0-8)" <<<"$err" || die "no-task message: $err"
# A shard count that is not one: refused before anything runs.
err=$(SLURM_ARRAY_TASK_ID=0 bash "$slurm/eval-array.sh" test.h5 0 out maml.h5 2>&1) && die "0 shards accepted"
grep -q "SHARDS must be a positive integer, not '0'" <<<"$err" || die "0 shards message: $err"

# ---- submit-eval.sh with a stand-in sbatch: the array's tasks, then the merge ---------------
cat >sbatch <<'EOF'
#!/bin/bash
# Runs what sbatch would queue, now: an --array's tasks one by one, anything else once.
echo "sbatch $*" >>"$SBATCH_LOG"
array="" script=""
while [ $# -gt 0 ]; do
  case $1 in
    --array=*) array=${1#--array=} ;;
    --parsable | --dependency=* | --partition=*) ;;
    -*) echo "stand-in sbatch: unexpected option $1" >&2; exit 2 ;;
    *) script=$1; shift; break ;;
  esac
  shift
done
if [ -n "$array" ]; then
  for ((t = ${array%-*}; t <= ${array#*-}; t++)); do
    SLURM_ARRAY_TASK_ID=$t SLURM_ARRAY_TASK_MAX=${array#*-} bash "$script" "$@" 2>/dev/null || exit 1
  done
else
  bash "$script" "$@" >/dev/null || exit 1
fi
echo "$((++JOB))"
EOF
chmod +x sbatch
out=$(SBATCH_LOG=$d/sbatch.log FSH_SBATCH=$d/sbatch bash "$slurm/submit-eval.sh" --partition=x -- \
  test.h5 2 sub maml.h5 seed1/protonet.h5) || die "submit-eval.sh: $out"
[ "$out" = "array job 1 (4 tasks), merge job 1" ] || die "submit-eval.sh printed: $out"
grep -q "^sbatch --parsable --partition=x --array=0-3 $slurm/eval-array.sh test.h5 2 sub maml.h5 seed1/protonet.h5\$" sbatch.log &&
  grep -q "^sbatch --parsable --partition=x --dependency=afterok:1 $slurm/eval-merge.sh test.h5 2 sub maml.h5 seed1/protonet.h5\$" sbatch.log ||
  die "submit-eval.sh's sbatch lines: $(cat sbatch.log)"
cmp -s sub/0-maml/summary.json full2.json && cmp -s sub/1-protonet/summary.json full0.json ||
  die "submitted run's merged results differ"

# ---- train-mpi.sh under mpirun -np 2 ------------------------------------------------------
if ! command -v mpirun >/dev/null; then
  echo "train-mpi.sh part skipped: mpirun is not on PATH (Debian: openmpi-bin)"
elif ! fsh-train --version | grep -q '^ *MPI: [A-Z]'; then
  echo "train-mpi.sh part skipped: this build has no MPI (fsh-train --version: $(fsh-train --version | grep 'MPI:'))"
else
  if [ "$(id -u)" -eq 0 ]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  fi
  launcher="mpirun --oversubscribe --bind-to none --mca btl self,vader -np 2"
  flags=(--method protonet --data split.h5 -N 5 -K 1 -Q 3 --meta-batch 2 --hidden 8
    --val-part none --no-best --seed 4 --no-provenance)
  FSH_LAUNCHER=$launcher FSH_THREADS=1 bash "$slurm/train-mpi.sh" mpi.h5 "${flags[@]}" -n 4 -q 2>mpi.err ||
    die "train-mpi.sh: $(cat mpi.err)"
  fsh-train "${flags[@]}" -n 4 --threads 1 -o one.h5 -q || die "one-process training"
  FSH_LAUNCHER=$launcher FSH_THREADS=1 FSH_RESUME_ARGS="-n 8" bash "$slurm/train-mpi.sh" mpi.h5 2>mpi.err ||
    die "train-mpi.sh, continued: $(cat mpi.err)"
  grep -q "fsh-train --resume mpi.h5 -n 8 --threads 1 -o mpi.h5" mpi.err || die "continued: $(cat mpi.err)"
  fsh-train "${flags[@]}" -n 8 --threads 1 -o straight.h5 -q || die "one-process training, 8 episodes"
  # Bit for bit: the checkpoints' datasets and attributes (h5py, not fsh, reads them) when
  # /usr/bin/python3 has h5py; and in any case fsh-eval's figures of the two models.
  if /usr/bin/python3 -c 'import h5py, numpy' 2>/dev/null; then
    # Every dataset and attribute but the volatile ones (as tests/py/test_mpi_train.py).
    /usr/bin/python3 "$src/tests/support/h5_contents.py" mpi.h5 straight.h5 ||
      die "checkpoints differ"
  else
    echo "h5py missing for /usr/bin/python3: checkpoints compared through fsh-eval only"
  fi
  fsh-eval -m mpi.h5 -e test.h5 --json >mpi.json && fsh-eval -m straight.h5 -e test.h5 --json >straight.json ||
    die "eval of the MPI checkpoint"
  cmp -s mpi.json straight.json || die "MPI checkpoint scores $(cat mpi.json), one process $(cat straight.json)"
  cmp -s one.h5 mpi.h5 && die "continuing did not change mpi.h5"
  # Without the options of a new run and without a checkpoint: refused.
  err=$(FSH_LAUNCHER=$launcher bash "$slurm/train-mpi.sh" none.h5 2>&1) && die "train-mpi.sh without options ran"
  grep -q "none.h5 does not exist: give the fsh-train options of a new run" <<<"$err" || die "message: $err"
fi
exit $fail
