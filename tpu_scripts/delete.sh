#!/usr/bin/env bash
# Delete a TPU VM or pod slice (no prompt).
#
#   tpu_scripts/delete.sh --name=irec --zone=us-central2-b [--dry-run]
# shellcheck source=tpu_scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

for arg in "$@"; do
  parse_common_flag "${arg}" || die "unknown flag ${arg}"
done
require_target

gcloud_tpu delete "${TPU_NAME}" --quiet
