#!/usr/bin/env bash
# Create a TPU VM or pod slice.
#
#   tpu_scripts/create.sh --name=irec --zone=us-central2-b --accelerator-type=v4-32 \
#       [--version=tpu-ubuntu2204-base] [--spot] [--project=P] [--dry-run]
# shellcheck source=tpu_scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

ACCELERATOR_TYPE="${TPU_ACCELERATOR_TYPE:-v4-8}"
RUNTIME_VERSION="${TPU_RUNTIME_VERSION:-tpu-ubuntu2204-base}"
SPOT=0
for arg in "$@"; do
  parse_common_flag "${arg}" && continue
  case "${arg}" in
    --accelerator-type=*) ACCELERATOR_TYPE="${arg#*=}" ;;
    --version=*) RUNTIME_VERSION="${arg#*=}" ;;
    --spot) SPOT=1 ;;
    *) die "unknown flag ${arg}" ;;
  esac
done
require_target

flags=(create "${TPU_NAME}" "--accelerator-type=${ACCELERATOR_TYPE}" "--version=${RUNTIME_VERSION}")
if [[ "${SPOT}" == 1 ]]; then
  flags+=(--spot)
fi
gcloud_tpu "${flags[@]}"
