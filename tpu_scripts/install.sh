#!/usr/bin/env bash
# Copy this repository to every worker of a TPU VM / pod slice and install it with jax[tpu].
#
#   tpu_scripts/install.sh --name=irec --zone=us-central2-b [--source=.] [--dry-run]
# shellcheck source=tpu_scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

SOURCE_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
for arg in "$@"; do
  parse_common_flag "${arg}" && continue
  case "${arg}" in
    --source=*) SOURCE_DIR="${arg#*=}" ;;
    *) die "unknown flag ${arg}" ;;
  esac
done
require_target

# A clean copy without virtual environments, caches or run outputs.
ARCHIVE="/tmp/${REMOTE_DIR}.tar.gz"
run tar --exclude=.venv --exclude=.git --exclude='__pycache__' --exclude='*.egg-info' \
  -czf "${ARCHIVE}" -C "${SOURCE_DIR}" .
gcloud_tpu scp "${ARCHIVE}" "${TPU_NAME}:${REMOTE_DIR}.tar.gz" --worker=all
remote_steps=(
  "mkdir -p ${REMOTE_DIR}"
  "tar -xzf ${REMOTE_DIR}.tar.gz -C ${REMOTE_DIR}"
  "python3 -m pip install --upgrade pip"
  "python3 -m pip install -e '${REMOTE_DIR}[tpu]' -f https://storage.googleapis.com/jax-releases/libtpu_releases.html"
)
remote_command="set -e; $(printf '%s; ' "${remote_steps[@]}")"
gcloud_tpu ssh "${TPU_NAME}" --worker=all "--command=${remote_command}"
