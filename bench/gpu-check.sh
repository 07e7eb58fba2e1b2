#!/usr/bin/env bash
# bench/gpu-check.sh — one self-contained check for a machine with a real GPU (not run in CI; never
# run here: this project has had no GPU). Installs what it needs from npm and Debian only (./setup:
# Deno; the Vulkan loader when absent), then
#   1. prints `gennas info` (adapter, backend, device class, limits);
#   2. scores the 20 NB-201 archs of fixtures/gpu-check/nb201-lavapipe.json at paper settings
#      (task combo, built-in images, seed 0, 100 iterations, batch 16, 16 init channels) with the
#      "gpu" kernel tilings (GENNAS_DEVICE_CLASS=gpu) and 10 iterations per submit;
#   3. prints seconds per arch and per iteration, dispatches and submits per iteration;
#   4. checks every arch's first training loss (before any update) against the lavapipe value
#      committed in that fixture (same seed) within 1e-5 relative, and the Kendall τ of the
#      100-iteration losses against lavapipe's (≥ 0.8); prints the 5- and 100-iteration losses
#      beside lavapipe's (not checked one by one: the backward amplifies rounding); exits 1 if a
#      check disagrees.
#   bash bench/gpu-check.sh [--limit N]
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
export DEBIAN_FRONTEND=noninteractive
# A vendor ICD outside the standard folders (e.g. NVIDIA's container toolkit layout).
if [ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ]; then
  for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json \
    /usr/share/vulkan/icd.d/nvidia_icd.json; do
    if [ -f "$icd" ]; then export VK_DRIVER_FILES="$icd"; break; fi
  done
fi
if ! ldconfig -p | grep -q 'libvulkan\.so\.1'; then
  as_root apt-get update -q >&2 && as_root apt-get install -y -q libvulkan1 >&2
fi
if ! command -v deno >/dev/null && ! command -v npm >/dev/null; then
  as_root apt-get update -q >&2 && as_root apt-get install -y -q npm >&2
fi
./setup

export GENNAS_DEVICE_CLASS=gpu
deno run -A cli.ts info
deno run -A bench/gpu_check.ts --per-submit 10 "$@"
