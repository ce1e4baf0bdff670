#!/usr/bin/env bash
# Make a Docker engine and the local base images available on a fresh machine (run as root).
#
# Idempotent: installs docker.io, debootstrap, openssh-server only if missing, starts dockerd only if `docker info`
# fails, and builds local/debian-python:{3.9,3.11,3.13} only when the image is not there yet.
# Docker Hub is unreachable here, so base images come from debootstrap (DESIGN.md, "Docker on
# these machines"). Usage: scripts/ci/setup_docker.sh [PYTHON ...]   (default: 3.9 3.11 3.13)
set -euo pipefail

MIRROR="${DEBIAN_MIRROR:-}"  # empty: the Debian archive apt is configured with (see apt_mirror)
WORK="${NEURALIS_ROOTFS_DIR:-/var/tmp/neuralis-rootfs}"
LOG_DIR="${NEURALIS_SETUP_LOG_DIR:-/var/tmp/neuralis-setup}"
PYTHONS=("$@")
[ ${#PYTHONS[@]} -gt 0 ] || PYTHONS=(3.9 3.11 3.13)

log() { printf '[setup_docker] %s\n' "$*" >&2; }

suite_for() {
    case "$1" in
        3.9) echo bullseye ;;
        3.11) echo bookworm ;;
        3.13) echo trixie ;;
        *) log "no Debian suite ships Python $1 (have 3.9, 3.11, 3.13)"; return 2 ;;
    esac
}

install_packages() {
    local missing=()
    command -v dockerd >/dev/null || missing+=(docker.io)
    command -v debootstrap >/dev/null || missing+=(debootstrap)
    # sshd for the DOCKER_HOST=ssh:// test (it starts its own on loopback, then stops it).
    [ -x /usr/sbin/sshd ] || missing+=(openssh-server)
    [ ${#missing[@]} -eq 0 ] && return 0
    log "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

start_engine() {
    docker info >/dev/null 2>&1 && return 0
    mkdir -p "$LOG_DIR"
    log "starting dockerd --iptables=false (log: $LOG_DIR/dockerd.log)"
    # setsid: the engine must outlive this script and the shell that ran it.
    setsid dockerd --iptables=false >"$LOG_DIR/dockerd.log" 2>&1 < /dev/null &
    for _ in $(seq 1 60); do
        docker info >/dev/null 2>&1 && return 0
        sleep 0.5
    done
    log "dockerd did not answer within 30 s; see $LOG_DIR/dockerd.log"
    tail -n 20 "$LOG_DIR/dockerd.log" >&2 || true
    return 3
}

# Print the Debian archive this machine's apt uses: the first URI of a plain suite (not
# -security or -updates) in /etc/apt/sources.list.d/*.sources (deb822) or sources.list lines,
# so a team's mirror or proxy is used unchanged.
apt_mirror() {
    local f uri
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        uri="$(awk '
            BEGIN { RS = ""; FS = "\n" }
            /(^|\n)Enabled: *no/ { next }
            {
                uri = ""; plain = 0
                for (i = 1; i <= NF; i++) {
                    if ($i ~ /^URIs:/) { split(substr($i, 6), u, " "); uri = u[1] }
                    if ($i ~ /^Suites:/) {
                        n = split(substr($i, 8), s, " ")
                        for (j = 1; j <= n; j++) if (s[j] !~ /-/) plain = 1
                    }
                }
                if (uri != "" && plain && uri !~ /security/) { print uri; exit }
            }' "$f")"
        [ -n "$uri" ] && { echo "$uri"; return 0; }
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        uri="$(awk '$1 == "deb" {
                line = $0; sub(/\[[^]]*\] */, "", line); split(line, w, " ")
                if (w[3] !~ /-/ && w[2] !~ /security/) { print w[2]; exit }
            }' "$f")"
        [ -n "$uri" ] && { echo "$uri"; return 0; }
    done
    return 1
}

# Build one rootfs with debootstrap, trust the host's extra CAs inside it, import it as an image.
build_base() {
    local py="$1" suite dir tag="local/debian-python:$1"
    suite="$(suite_for "$py")"
    dir="$WORK/$suite"
    rm -rf "$dir"
    mkdir -p "$dir"
    debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates \
        "$suite" "$dir" "$MIRROR" >"$LOG_DIR/debootstrap-$suite.log" 2>&1
    # Package downloads go through a TLS-intercepting proxy: pip inside images must trust it.
    if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
        cp /usr/local/share/ca-certificates/*.crt "$dir/usr/local/share/ca-certificates/"
        chroot "$dir" update-ca-certificates >/dev/null 2>&1
    fi
    rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
    tar -C "$dir" -c . | docker import \
        --change 'ENV LANG=C.UTF-8' --change 'CMD ["/bin/bash"]' - "$tag" >/dev/null
    rm -rf "$dir"
    log "built $tag ($suite)"
}

main() {
    if [ -z "$MIRROR" ]; then
        MIRROR="$(apt_mirror)" || {
            log "no Debian archive found in /etc/apt/sources.list(.d): set DEBIAN_MIRROR"
            return 2
        }
    fi
    install_packages
    start_engine
    mkdir -p "$WORK" "$LOG_DIR"
    local pids=() names=() py
    for py in "${PYTHONS[@]}"; do
        suite_for "$py" >/dev/null
        if docker image inspect "local/debian-python:$py" >/dev/null 2>&1; then
            log "local/debian-python:$py already present"
            continue
        fi
        # The three debootstraps are network-bound: running them side by side saves a minute.
        build_base "$py" &
        pids+=("$!")
        names+=("$py")
    done
    local failed=0 i
    for i in "${!pids[@]}"; do
        if ! wait "${pids[$i]}"; then
            log "building local/debian-python:${names[$i]} failed; see $LOG_DIR/"
            failed=1
        fi
    done
    return "$failed"
}

main
