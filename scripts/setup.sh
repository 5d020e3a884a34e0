#!/usr/bin/env bash
# Sets fsh up on a Debian 12 machine: installs the packages it needs (apt-get, only those
# missing), configures and builds. Usage: scripts/setup.sh [BUILD_DIR] [extra cmake args...]
# Default BUILD_DIR: build. Re-running is cheap: it only installs and rebuilds what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:-build}
shift || true

packages=(g++ cmake make pkg-config libcli11-dev libhdf5-dev libxtensor-dev libxtensor-blas-dev
  libopenblas-dev doctest-dev libpng-dev libjpeg-dev libzip-dev zlib1g-dev
  python3-h5py python3-numpy python3-pil
  libopenmpi-dev openmpi-bin)
# libopenmpi-dev + openmpi-bin: optional for fsh (CMake FSH_MPI=AUTO builds without them), here
# so that data-parallel fsh-train (mpirun) is built in and tested (tests/py/test_mpi_train.py).
# python3-torch is only needed to regenerate the committed PyTorch fixture
# (scripts/make_nn_fixture.py); the tests read the fixture and do not need it.
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Portable binaries (any x86-64) unless the extra arguments say -DFSH_NATIVE=ON; explicit
# because a build folder configured before that default changed keeps ON in its cache.
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DFSH_NATIVE=OFF "$@" >/dev/null
cmake --build "$build_dir" -j "$(nproc)"
