#!/usr/bin/env bash
# Shared flag parsing and command running for the TPU VM scripts (sourced, not run).
#
# Every script accepts:
#   --name=NAME            TPU VM / pod slice name              (env TPU_NAME)
#   --zone=ZONE            e.g. us-central2-b                   (env TPU_ZONE)
#   --project=PROJECT      GCP project (default: gcloud's)      (env TPU_PROJECT)
#   --dry-run              print the exact gcloud commands instead of running them
# Unknown flags are an error.

set -euo pipefail

TPU_NAME="${TPU_NAME:-}"
TPU_ZONE="${TPU_ZONE:-}"
TPU_PROJECT="${TPU_PROJECT:-}"
DRY_RUN=0
REMOTE_DIR="${REMOTE_DIR:-instructrec-jax}"

die() {
  echo "error: $*" >&2
  exit 2
}

# parse_common_flag ARG: consume one common flag; returns 1 when ARG is not one.
parse_common_flag() {
  case "$1" in
    --name=*) TPU_NAME="${1#*=}" ;;
    --zone=*) TPU_ZONE="${1#*=}" ;;
    --project=*) TPU_PROJECT="${1#*=}" ;;
    --dry-run) DRY_RUN=1 ;;
    *) return 1 ;;
  esac
}

require_target() {
  [[ -n "${TPU_NAME}" ]] || die "--name (or TPU_NAME) is required"
  [[ -n "${TPU_ZONE}" ]] || die "--zone (or TPU_ZONE) is required"
}

# gcloud_tpu SUBCOMMAND...: `gcloud compute tpus tpu-vm SUBCOMMAND... --zone=... [--project=...]`
gcloud_tpu() {
  local command=(gcloud compute tpus tpu-vm "$@" "--zone=${TPU_ZONE}")
  if [[ -n "${TPU_PROJECT}" ]]; then
    command+=("--project=${TPU_PROJECT}")
  fi
  run "${command[@]}"
}

# run CMD...: execute, or with --dry-run print it shell-quoted (copy-pasteable).
run() {
  if [[ "${DRY_RUN}" == 1 ]]; then
    printf '%q ' "$@" | sed 's/ $//'
    printf '\n'
  else
    "$@"
  fi
}

# quote_args ARGS...: one string of shell-quoted words, for a remote --command.
quote_args() {
  printf '%q ' "$@" | sed 's/ $//'
}
