#!/usr/bin/env bash
# Start a gin-configured training run on every worker (in the background, logging to
# ~/train.log on each worker). jax.distributed finds the other workers by itself on TPU VMs.
#
#   tpu_scripts/launch.sh --name=irec --zone=us-central2-b [--dry-run] -- \
#       --gin_file=gin/runs/finetune.gin --gin_file=gin/models/flan_t5_base.gin \
#       --gin.MIXTURE_OR_TASK_NAME="'instructrec_ml100k_all'" \
#       --gin.MODEL_DIR="'gs://my-bucket/runs/ml100k'"
# shellcheck source=tpu_scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

LOG_FILE="${TRAIN_LOG:-train.log}"
EXTRA_ARGS=()
while (($#)); do
  if [[ "$1" == "--" ]]; then
    shift
    EXTRA_ARGS=("$@")
    break
  fi
  parse_common_flag "$1" || die "unknown flag $1"
  shift
done
require_target
((${#EXTRA_ARGS[@]})) || die "give the training flags after -- (at least --gin_file=...)"

train_command="$(quote_args python3 -m instructrec_jax.train "${EXTRA_ARGS[@]}")"
remote_command="cd ${REMOTE_DIR} && nohup ${train_command} > ~/${LOG_FILE} 2>&1 &"
gcloud_tpu ssh "${TPU_NAME}" --worker=all "--command=${remote_command}"
