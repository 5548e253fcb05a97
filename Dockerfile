# dockyard: a container registry. Build: `docker build -t dockyard .`, or `podman build --format docker
# -t dockyard .` (podman's default OCI image format drops HEALTHCHECK).
# Run:   podman run -p 5000:5000 -v dockyard-data:/var/lib/dockyard dockyard
# Configure with DOCKYARD_* variables or a mounted file and DOCKYARD_CONFIG=/path/in/container.
ARG PYTHON_IMAGE=docker.io/library/python:3.11-slim-bookworm

# The build stage holds pip, setuptools and the sources; none of them reach the final image.
FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN python3 -m venv /opt/dockyard \
    && /opt/dockyard/bin/pip install --no-cache-dir . \
    && /opt/dockyard/bin/pip uninstall --yes pip

FROM ${PYTHON_IMAGE}
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/dockyard --shell /usr/sbin/nologin dockyard \
    && install --directory --owner dockyard --group dockyard --mode 0750 /var/lib/dockyard
COPY --from=build /opt/dockyard /opt/dockyard
ENV PATH=/opt/dockyard/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    DOCKYARD_DATA_DIR=/var/lib/dockyard \
    DOCKYARD_LISTEN=0.0.0.0:5000
USER 10001:10001
WORKDIR /var/lib/dockyard
VOLUME ["/var/lib/dockyard"]
EXPOSE 5000
# /healthz does no I/O; the port follows DOCKYARD_LISTEN.
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; port = os.environ['DOCKYARD_LISTEN'].rpartition(':')[2]; urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=4)"]
# SIGTERM drains requests in flight (granian gives workers 30 s).
STOPSIGNAL SIGTERM
ENTRYPOINT ["dockyard"]
CMD ["serve"]
