#!/usr/bin/env bash
# What issue 5 needs from a GPU, as separate device calls that each fit in the 10-minute limit:
#   bash benchmarks/gpu_check.sh tests [PYTEST ARGS]   # the whole test suite on CUDA (or e.g. tests/kernels)
#   bash benchmarks/gpu_check.sh bench --dtypes float32    # the float32 half of the table (16 cold compiles)
#   bash benchmarks/gpu_check.sh bench --dtypes bfloat16   # the bfloat16 half
# `bench` passes its arguments to benchmarks/kernels.py (--shapes, --dtypes, --ops, --no-compile), which prints
# each row as it is measured, so a call cut short still leaves its rows in the log.
# Uses the machine's python3 (PyTorch with CUDA, Triton, pytest, scipy, hypothesis). Logs go to $OUT when set.
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-/tmp/gpu_check}"
mkdir -p "$out"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
mode="${1:-}"
shift || true
case "$mode" in
    tests | bench) ;;
    *) echo "usage: $0 tests [PYTEST ARGS] | bench [kernels.py ARGS]  (one device call each)" >&2; exit 2 ;;
esac
python3 -c "import torch, triton; print('torch', torch.__version__, 'triton', triton.__version__, torch.cuda.get_device_name())"
nvidia-smi --query-gpu=name,clocks.max.sm,clocks.max.mem --format=csv 2>/dev/null
if [[ "$mode" == tests ]]; then
    python3 -m pytest -q -p no:cacheprovider "$@" 2>&1 | tee "$out/tests.log"
    exit "${PIPESTATUS[0]}"
fi
python3 benchmarks/kernels.py "$@" 2>&1 | tee -a "$out/kernels_table.md"
exit "${PIPESTATUS[0]}"
