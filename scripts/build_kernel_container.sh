#!/usr/bin/env bash
# Build and run a Neuralis kernel container with the plain docker CLI.
#
#   scripts/build_kernel_container.sh --python 3.11 --package pandas --package 'numpy<3' [--name NAME]
#   scripts/build_kernel_container.sh --print ...   # only print the generated script
#
# The Dockerfile comes from the same renderer the app uses (neuralis.docker.script), so the image
# is the one `neuralis kernels build` makes; packages are checked (PEP 508) before any build.
# Honours NEURALIS_BASE_IMAGE, NEURALIS_BUILD_NETWORK, NEURALIS_EXTRA_CA_CERTS and
# NEURALIS_PIP_INDEX_URL like the app.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON_BIN="${PYTHON:-python3}"
PRINT_ONLY=0
ARGS=()
while [ $# -gt 0 ]; do
    case "$1" in
        --print) PRINT_ONLY=1; shift ;;
        --python|--package|--name|--requirements|--apt)
            [ $# -ge 2 ] || { echo "build_kernel_container.sh: $1 needs a value" >&2; exit 2; }
            ARGS+=("$1" "$2"); shift 2 ;;
        -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "build_kernel_container.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done

SCRIPT="$(PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" "$PYTHON_BIN" -m neuralis.docker.script "${ARGS[@]}")"
if [ "$PRINT_ONLY" = 1 ]; then
    printf '%s\n' "$SCRIPT"
else
    bash -c "$SCRIPT"
fi
