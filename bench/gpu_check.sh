#!/usr/bin/env bash
# One prepared call on a lent GPU machine (repo root, its own python3 with jax and torch):
# first the deviceless compile check for the same GPU model (instructrec_jax.compile_check:
# XLA:GPU compiles tiny's train step from published figures, no GPU touched), then where
# XLA:GPU compilation of the train step spends its time on the device, then the base/large
# numbers of bench/train_step.py. Each stage is bounded; on its timeout Python's
# faulthandler prints where it was (SIGABRT). At most 545 s of stages (under the device
# tool's 600 s per command).
#
#     bash bench/gpu_check.sh OUT_DIR
set -u
out=${1:-/tmp/gpu_check}
mkdir -p "$out"
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1 PYTHONFAULTHANDLER=1

stage() {
  local name=$1 limit=$2
  shift 2
  echo "== $name (at most ${limit} s)"
  local start=$SECONDS
  timeout -s ABRT "$limit" "$@" >"$out/$name.log" 2>&1
  local rc=$?
  echo "rc=$rc after $((SECONDS - start)) s"
  grep -v '^config' "$out/$name.log" | tail -n 12
  return "$rc"
}

nvidia-smi -L
# The compile check's target for this GPU model (h100x1, h200x1, a100x1), if it has one.
gpu_name=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -n 1)
case "$gpu_name" in
  *H200*) aot_target=h200x1 ;;
  *H100*) aot_target=h100x1 ;;
  *A100*) aot_target=a100x1 ;;
  *) aot_target="" ;;
esac
if [ -n "$aot_target" ]; then
  # The bench's tiny shape: batch 16 x (128 + 32), bfloat16 activations.
  stage compile_check 60 python3 -m instructrec_jax.compile_check --topology="$aot_target" \
    --gin_file=runs/finetune.gin --gin_file=models/flan_t5_tiny.gin --gin.BATCH_SIZE=16 \
    --gin.TASK_FEATURE_LENGTHS="{'inputs': 128, 'targets': 32}"
else
  echo "== compile_check: no target for '$gpu_name' (instructrec_jax/aot/gpu_targets.py)"
fi
stage jit_smoke 45 python3 -c 'import time, jax, jax.numpy as jnp
start = time.time()
total = jax.jit(lambda a: (a @ a).sum())(jnp.ones((1024, 1024), jnp.bfloat16))
print(jax.__version__, jax.devices(), float(total), f"{time.time() - start:.1f} s")'
tiny=(bench/train_step.py --platform=gpu --compare=none --steps=3 --repeats=1)
# XLA's own log of the GPU compiler's phases (LLVM, ptxas or the driver's PTX JIT, autotuning)
# shows in tiny_jax_only.log where a slow compilation spends its time.
stage tiny_jax_only 75 env TF_CPP_MIN_LOG_LEVEL=0 \
  TF_CPP_VMODULE=gpu_compiler=1,nvptx_compiler=2,ptx_compiler_helpers=1,autotuner_util=1 \
  python3 "${tiny[@]}"
tiny_ok=$?
# Fast compilation: no autotuning, and LLVM split into modules compiled on all cores.
fast_flags="--xla_gpu_autotune_level=0 --xla_gpu_enable_llvm_module_compilation_parallelism=true"
stage tiny_fast_compile 75 env XLA_FLAGS="$fast_flags" python3 "${tiny[@]}"
fast_ok=$?
# base and large keep XLA's defaults when tiny compiled with them; otherwise they take the
# fast-compilation flags if those let tiny finish (the log says which).
size_flags=""
if [ "$tiny_ok" -ne 0 ] && [ "$fast_ok" -eq 0 ]; then size_flags=$fast_flags; fi
echo "base/large XLA_FLAGS: '${size_flags}'"
sizes=(--platform=gpu --batch=32 --inputs=512 --targets=64)
stage base 130 env XLA_FLAGS="$size_flags" \
  python3 bench/train_step.py "${sizes[@]}" --preset=base --steps=5 --repeats=2
stage large 160 env XLA_FLAGS="$size_flags" \
  python3 bench/train_step.py "${sizes[@]}" --preset=large --steps=3 --repeats=2
