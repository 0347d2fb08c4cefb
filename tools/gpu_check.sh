#!/usr/bin/env bash
# The GPU checks in one run, for a machine with an NVIDIA GPU and CuPy (from the repository root):
#
#   bash tools/gpu_check.sh [OUT]          # OUT: where the record goes (default gpu-results/)
#
# Correctness comes first: every CUDA test (on a GPU none of them may skip), then notebook 16 on
# the GPU (its source is plain Python and fails if one of its checks is wrong), then the speed of
# npgpt against PyTorch on the same GPU. OUT gets machine.txt (date, GPU, driver, versions, commit)
# and one log per step: the record notebook 16 quotes. npgpt needs no install: it runs from here.
set -u -o pipefail
out=${1:-gpu-results}
py=${PYTHON:-python3}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 MPLBACKEND=Agg HF_HUB_OFFLINE=1

if ! "$py" -c "from npgpt.backend import cuda_available; raise SystemExit(0 if cuda_available() else 1)"; then
    echo "gpu_check: no usable GPU here (CuPy missing, or no CUDA device): nothing to check" >&2
    exit 2
fi
mkdir -p "$out"
{
    date -u +%Y-%m-%dT%H:%MZ
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
    "$py" -c "import sys, numpy, cupy; print('python', sys.version.split()[0], '| numpy', numpy.__version__,
'| cupy', cupy.__version__, '| CUDA runtime', cupy.cuda.runtime.runtimeGetVersion())"
    echo "npgpt at $(git rev-parse --short HEAD 2>/dev/null || echo 'an unknown commit')"
} 2>&1 | tee "$out/machine.txt"

status=0
step() {  # step NAME COMMAND...: run it, keep its output in OUT/NAME.log, remember a failure
    local name=$1
    shift
    echo "== $name: $*"
    "$@" 2>&1 | tee "$out/$name.log" || { status=1; echo "== $name FAILED"; }
}
step cuda_tests "$py" -m pytest -q -p no:cacheprovider -m cuda -rs tests
if grep -q "skipped" "$out/cuda_tests.log"; then
    echo "== cuda_tests: a CUDA test skipped on a GPU machine (see the reasons above)"
    status=1
fi
step notebook16 bash -c "cd notebooks && '$py' 16_the_gpu.py"
step bench_cuda "$py" -m npgpt bench --device cuda --json "$out/bench_cuda.json"
exit $status
