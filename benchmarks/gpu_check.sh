#!/usr/bin/env bash
# Everything issue 5 needs from a GPU, in one device call (about: tests a few minutes, table several):
#   bash benchmarks/gpu_check.sh            # the whole test suite on CUDA, then the benchmark table
#   bash benchmarks/gpu_check.sh tests      # only the tests;   bash benchmarks/gpu_check.sh bench: only the table
# Uses the machine's python3 (PyTorch with CUDA, Triton, pytest, scipy, hypothesis). Logs go to $OUT when set.
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-/tmp/gpu_check}"
mkdir -p "$out"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
python3 -c "import torch, triton; print('torch', torch.__version__, 'triton', triton.__version__, torch.cuda.get_device_name())"
nvidia-smi --query-gpu=name,clocks.max.sm,clocks.max.mem --format=csv 2>/dev/null
status=0
if [[ "${1:-all}" != bench ]]; then
    python3 -m pytest -q -p no:cacheprovider 2>&1 | tee "$out/tests.log"
    status=${PIPESTATUS[0]}
fi
if [[ "${1:-all}" != tests ]]; then
    python3 benchmarks/kernels.py 2>&1 | tee "$out/kernels_table.md"
    status=$((status || PIPESTATUS[0]))
fi
exit "$status"
