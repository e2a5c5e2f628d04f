# InsureCloud fleet and the SRE-Space control plane, from wheels built on the host.
#
#   .ci/images.sh (build_fleet_images) builds dist/wheels with the project's venv, then:
#   DOCKER_BUILDKIT=0 docker build --network none --build-arg BASE=local/debian-py:base \
#       --target fleet -t insurecloud/fleet:0.1.0 .
#
# BASE defaults to the usual python:3.11-slim; CI, which reaches no registry, passes a Debian
# bookworm base made with debootstrap (python3 3.11 + python3-venv). Nothing is downloaded during
# the build (pip --no-index), so it works with --network none and the classic builder.
ARG BASE=python:3.11-slim

FROM ${BASE} AS fleet
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    HOST=0.0.0.0 \
    PORT=8080 \
    DATA_DIR=/data
COPY dist/wheels/ /tmp/wheels/
RUN python3 -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-index --no-cache-dir --disable-pip-version-check \
        --find-links /tmp/wheels 'sre-space[docker]' \
    && rm -rf /tmp/wheels \
    && mkdir -p /data /app \
    && chown 10001:10001 /data /app
WORKDIR /app
USER 10001:10001
EXPOSE 8080
# One image runs any service: the command picks it (python -m services.<name>).
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('PORT', '8080'), timeout=2)"]
CMD ["python", "-m", "services.frontend"]

FROM fleet AS control-plane
ENV PORT=8090
# The agents probe the fleet themselves; the container's own liveness is its process.
HEALTHCHECK NONE
CMD ["sre-space", "agents"]
