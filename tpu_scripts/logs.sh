#!/usr/bin/env bash
# Stream the training log of one worker (default 0, the one that writes metrics).
#
#   tpu_scripts/logs.sh --name=irec --zone=us-central2-b [--worker=0] [--dry-run]
# shellcheck source=tpu_scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

WORKER=0
LOG_FILE="${TRAIN_LOG:-train.log}"
for arg in "$@"; do
  parse_common_flag "${arg}" && continue
  case "${arg}" in
    --worker=*) WORKER="${arg#*=}" ;;
    *) die "unknown flag ${arg}" ;;
  esac
done
require_target
[[ "${WORKER}" =~ ^[0-9]+$ ]] || die "--worker must be a worker number, got ${WORKER}"

gcloud_tpu ssh "${TPU_NAME}" "--worker=${WORKER}" "--command=tail -n 100 -F ~/${LOG_FILE}"
