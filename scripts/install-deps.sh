#!/usr/bin/env bash
# Installs every Debian package troupe builds, tests and runs with.
#
# Idempotent and quick when everything is present: it asks dpkg first and only
# calls apt-get for what is missing. CUDA and NCCL are not installed here; they
# come with the machine's CUDA toolkit and the build enables them when `nvcc`
# is found (see -DTROUPE_CUDA in CMakeLists.txt).
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libcaf-dev                       # actor system (0.17)
  libucx-dev ucx-utils             # process-to-process transport
  libflatbuffers-dev flatbuffers-compiler
  librocksdb-dev rocksdb-tools     # replay store; ldb for comparison
  liblz4-dev                       # replay values are LZ4-compressed (comes with librocksdb-dev)
  prometheus-cpp-dev prometheus    # metrics library; real server for integration tests
  libopenblas-dev                  # CPU GEMM
  libyaml-cpp-dev libcli11-dev libfmt-dev libspdlog-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev
  libcurl4-openssl-dev libcivetweb-dev  # reward model clients and `troupe serve`
  clang libclang-rt-14-dev         # libFuzzer and sanitizer runtimes
  python3                          # the Python bridge's worker (envs/python/) and its tests
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "installed" ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
# The package lists may be absent on a fresh machine, or stale; refresh once.
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install-deps: done"
