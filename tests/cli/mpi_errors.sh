#!/usr/bin/env bash
# fsh-train and MPI, the edges: --version says whether MPI is built in. With MPI: failures
# under mpirun are said once (by the lowest failing rank) and every process exits with the
# same status -- a bad input while setting up, and an output that rank 0 cannot write -- and
# no output is left behind. Without MPI: a launcher's environment for several processes is
# refused with one line (exit 2, said by rank 0 only), and for one process it trains as usual.
set -u
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
cd "$d"
fail=0
die() { echo "FAIL: $*" >&2; fail=1; }

fsh-episodes synth --classes 12 --instances 4 --seed 2 -o glyphs.h5 -q || die synth
fsh-episodes split glyphs.h5 --by class --fraction 0.6,0.4 -o split.h5 -q || die split
train=(fsh-train --data split.h5 -N 3 -K 1 -Q 2 --hidden 4 -n 4 --meta-batch 2 --val-every 0
  --threads 1)

version=$(fsh-train --version) || die "--version"
mpi_line=$(grep "^  MPI: " <<<"$version") || die "--version has no MPI line: $version"

if grep -q "MPI: not built in" <<<"$mpi_line"; then
  # Open MPI's mpirun sets these in every process it starts.
  err=$(OMPI_COMM_WORLD_SIZE=2 OMPI_COMM_WORLD_RANK=0 "${train[@]}" -o r0.h5 2>&1 >/dev/null)
  rc=$?
  [ $rc -eq 2 ] || die "rank 0 of 2 without MPI: exit $rc, not 2"
  [ "$(wc -l <<<"$err")" -eq 1 ] || die "rank 0 of 2 without MPI: not one line: $err"
  grep -q "this build has no MPI" <<<"$err" || die "rank 0 of 2 without MPI: $err"
  err=$(OMPI_COMM_WORLD_SIZE=2 OMPI_COMM_WORLD_RANK=1 "${train[@]}" -o r1.h5 2>&1 >/dev/null)
  rc=$?
  [ $rc -eq 2 ] || die "rank 1 of 2 without MPI: exit $rc, not 2"
  [ -z "$err" ] || die "rank 1 of 2 without MPI must be silent: $err"
  [ ! -e r0.h5 ] && [ ! -e r1.h5 ] || die "output left behind"
  OMPI_COMM_WORLD_SIZE=1 OMPI_COMM_WORLD_RANK=0 "${train[@]}" -o one.h5 -q ||
    die "one process of a launcher without MPI must train"
  [ -e one.h5 ] || die "one.h5 not written"
  echo "no MPI: several launched processes refused with one line; one trains"
  exit $fail
fi

command -v mpirun >/dev/null || { echo "skipped: MPI built in ($mpi_line) but no mpirun"; exit 77; }
if [ "$(id -u)" -eq 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
mpi=(mpirun --oversubscribe --bind-to none --mca btl self,vader -np 2)

# Every rank fails alike while setting up: one message, exit 2 (a usage error) or 1.
err=$("${mpi[@]}" "${train[@]}" --resume missing.h5 -o out.h5 2>&1)
rc=$?
[ $rc -ne 0 ] || die "missing checkpoint under mpirun: exit 0"
[ "$(grep -c "^fsh-train: error:" <<<"$err")" -eq 1 ] || die "missing checkpoint: not one message: $err"
grep -q "missing.h5" <<<"$err" || die "the message must name the file: $err"
[ ! -e out.h5 ] || die "out.h5 left behind"

err=$("${mpi[@]}" "${train[@]}" --method nosuch -o out.h5 2>&1)
[ "$(grep -c "^fsh-train: error:" <<<"$err")" -eq 1 ] || die "--method nosuch: not one message: $err"
grep -q "MPI_ABORT" <<<"$err" && die "--method nosuch: a usage error must not abort: $err"
[ ! -e out.h5 ] || die "out.h5 left behind"

# Parsing: a bad flag, --help and --version are printed once, by rank 0.
err=$("${mpi[@]}" "${train[@]}" --no-such-flag -o out.h5 2>&1)
[ "$(grep -c "^fsh-train: error:" <<<"$err")" -eq 1 ] || die "bad flag: not one message: $err"
[ "$("${mpi[@]}" fsh-train --version | grep -c "^fsh-train (fsh)")" -eq 1 ] ||
  die "--version under mpirun must print once"

# Rank 0 cannot write the output: its failure stops the other rank, which waits for it.
err=$("${mpi[@]}" "${train[@]}" -o nodir/out.h5 2>&1)
rc=$?
[ $rc -ne 0 ] || die "unwritable output under mpirun: exit 0"
[ "$(grep -c "^fsh-train: error:" <<<"$err")" -eq 1 ] || die "unwritable output: not one message: $err"
grep -q "nodir/out.h5" <<<"$err" || die "the message must name the output: $err"

# And it trains (the data-parallel line says how).
out=$("${mpi[@]}" "${train[@]}" -o ok.h5 2>&1) || die "mpirun -np 2: $out"
grep -q "data-parallel over 2 processes" <<<"$out" || die "no data-parallel line: $out"
echo "MPI: failures under mpirun said once; training runs"
exit $fail
