# shellcheck shell=bash
# Docker engine helpers for CI and tests (DESIGN §8.5). Source this file; it defines functions only.
#
#   docker_install                 Debian's docker.io, busybox-static, debootstrap, docker-compose
#   dockerd_start DIR              a private dockerd whose state lives in DIR; exports DOCKER_HOST
#   dockerd_stop DIR               remove its containers, stop it, unmount what it left mounted
#   build_busybox_image [TAG]      local/busybox:base from the host's static busybox (no registry)
#   build_debian_python_image [TAG] local/debian-py:base via debootstrap (tar cached outside the tree)
#
# Keep DIR short (e.g. /tmp/sre-dockerd): containerd puts unix sockets under DIR/exec and socket
# paths are limited to 108 bytes.

SRE_IMAGE_CACHE=${SRE_IMAGE_CACHE:-/var/cache/sre-space}

_sre_log() { echo "[dockerd.sh] $*" >&2; }

docker_install() {
    if command -v dockerd >/dev/null && command -v docker >/dev/null && command -v docker-compose >/dev/null \
        && command -v debootstrap >/dev/null && [ -x /bin/busybox ]; then
        return 0
    fi
    _sre_log "installing docker.io busybox-static debootstrap docker-compose"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        docker.io busybox-static debootstrap docker-compose >/dev/null \
        || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y \
            --no-install-recommends docker.io busybox-static debootstrap docker-compose >/dev/null; }
}

dockerd_start() {
    local dir=${1:?usage: dockerd_start DIR}
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    export DOCKER_HOST="unix://$dir/docker.sock"
    if [ -s "$dir/dockerd.pid" ] && kill -0 "$(cat "$dir/dockerd.pid")" 2>/dev/null; then
        _sre_log "dockerd already running (pid $(cat "$dir/dockerd.pid"))"
        return 0
    fi
    # Defaults on purpose: overlay2, cgroupfs, iptables and the docker0 bridge all work here;
    # --bridge=none and the systemd cgroup driver both break (DESIGN §8.5).
    setsid dockerd --data-root "$dir/data" --exec-root "$dir/exec" --pidfile "$dir/dockerd.pid" \
        -H "$DOCKER_HOST" </dev/null >"$dir/dockerd.log" 2>&1 &
    local i
    for i in $(seq 1 600); do
        if docker info >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.05
    done
    _sre_log "dockerd did not answer on $DOCKER_HOST within 30 s; last lines of $dir/dockerd.log:"
    tail -n 20 "$dir/dockerd.log" >&2
    return 1
}

dockerd_stop() {
    local dir=${1:?usage: dockerd_stop DIR}
    [ -d "$dir" ] || return 0
    dir=$(cd "$dir" && pwd)
    local host="unix://$dir/docker.sock" pid="" i
    if [ -S "$dir/docker.sock" ]; then
        DOCKER_HOST=$host docker ps -aq 2>/dev/null | xargs -r env DOCKER_HOST="$host" docker rm -f >/dev/null 2>&1
    fi
    [ -s "$dir/dockerd.pid" ] && pid=$(cat "$dir/dockerd.pid")
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
        for i in $(seq 1 400); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.05
        done
        if kill -0 "$pid" 2>/dev/null; then
            _sre_log "dockerd $pid ignored SIGTERM for 20 s; killing it"
            kill -KILL "$pid" 2>/dev/null
        fi
    fi
    # Whatever stays mounted under the exec/data roots (netns, overlay, shm) blocks deletion.
    awk -v d="$dir/" 'index($2, d) == 1 {print $2}' /proc/mounts | sort -r | while read -r m; do
        umount -l "$m" 2>/dev/null || _sre_log "could not unmount $m"
    done
    return 0
}

build_busybox_image() {
    local tag=${1:-local/busybox:base}
    docker image inspect "$tag" >/dev/null 2>&1 && return 0
    local root
    root=$(mktemp -d /tmp/sre-busybox.XXXXXX)
    mkdir -p "$root/bin" "$root/tmp" "$root/www" "$root/etc"
    chmod 1777 "$root/tmp"
    cp /bin/busybox "$root/bin/busybox"
    # Run the installer inside the rootfs: from the host it writes links to the host's paths.
    chroot "$root" /bin/busybox --install -s /bin
    tar -C "$root" -c . | docker import -c 'CMD ["/bin/sh"]' - "$tag" >/dev/null
    local rc=$?
    rm -rf "$root"
    return $rc
}

_debian_mirror() {
    local mirror=""
    if [ -r /etc/apt/sources.list.d/debian.sources ]; then
        mirror=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
    fi
    if [ -z "$mirror" ] && [ -r /etc/apt/sources.list ]; then
        mirror=$(awk '$1 == "deb" && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list)
    fi
    echo "${mirror:-http://deb.debian.org/debian}"
}

build_debian_python_image() {
    local tag=${1:-local/debian-py:base} suite=${SRE_DEBIAN_SUITE:-bookworm}
    docker image inspect "$tag" >/dev/null 2>&1 && return 0
    local tar="$SRE_IMAGE_CACHE/debian-py-$suite.tar"
    if [ ! -s "$tar" ]; then
        mkdir -p "$SRE_IMAGE_CACHE"
        local root mirror
        root=$(mktemp -d /var/tmp/sre-debootstrap.XXXXXX)
        mirror=$(_debian_mirror)
        _sre_log "debootstrap $suite from $mirror (about 2 minutes the first time; cached in $tar)"
        if ! debootstrap --variant=minbase --include=python3,python3-venv "$suite" "$root" "$mirror" \
            >"$root.log" 2>&1; then
            _sre_log "debootstrap failed; last lines of $root.log:"
            tail -n 20 "$root.log" >&2
            rm -rf "$root"
            return 1
        fi
        rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
        tar -C "$root" -c . >"$tar.tmp" && mv "$tar.tmp" "$tar"
        rm -rf "$root" "$root.log"
    fi
    docker import -c 'CMD ["/usr/bin/python3"]' "$tar" "$tag" >/dev/null
}
