# shellcheck shell=bash
# Build the project's images offline (DESIGN §8.5). Source this file; it defines functions only.
#
#   build_fleet_images [BASE]   wheels of the project (+ dependencies) into dist/wheels with the
#                               venv's pip, then insurecloud/fleet:<version> and
#                               insurecloud/control-plane:<version> from the Dockerfile with the
#                               classic builder and no network. BASE defaults to local/debian-py:base
#                               (build it with build_debian_python_image from .ci/dockerd.sh).
#
# Needs DOCKER_HOST pointing at a running engine (dockerd_start) and the venv at .venv.

_sre_root() { cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd; }

build_fleet_wheels() {
    local root wheels
    root=$(_sre_root)
    wheels="$root/dist/wheels"
    rm -rf "$wheels" && mkdir -p "$wheels"
    "$root/.venv/bin/pip" wheel --quiet --disable-pip-version-check --wheel-dir "$wheels" "$root[docker]"
}

build_fleet_images() {
    local base=${1:-local/debian-py:base} root version target
    root=$(_sre_root)
    version=$("$root/.venv/bin/python" -c \
        "import tomllib; print(tomllib.load(open('$root/pyproject.toml', 'rb'))['project']['version'])")
    build_fleet_wheels || return 1
    for target in fleet control-plane; do
        local image="insurecloud/$target:$version"
        DOCKER_BUILDKIT=0 docker build --quiet --network none --build-arg "BASE=$base" \
            --target "$target" -t "$image" "$root" >/dev/null || return 1
        echo "built $image" >&2
    done
}
