# The gateway (`enginekit serve`) for Compose, Swarm and Kubernetes, built from the repository
# root (the build context):
#   docker build -f deploy/gateway.Dockerfile -t enginekit/gateway .
# Without Docker Hub: tools/build-base-image.sh, then add --build-arg BASE_IMAGE=enginekit/base:py3.11
# It serves engines that run as their own services (runner: remote, docs/deploy.md); the
# configuration is mounted at /etc/enginekit/gateway.yaml.
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH
WORKDIR /app

# The same first layers as every engine image (so they are built once), then enginekit again as
# an editable install over the checkout's engine directories: the gateway routes by their
# engine.yaml catalogs.
COPY pyproject.toml README.md /opt/enginekit/
COPY src/ /opt/enginekit/src/
RUN python -m venv /opt/venv \
    && pip install --no-cache-dir /opt/enginekit \
    && rm -rf /opt/enginekit
COPY pyproject.toml README.md /opt/enginekit/
COPY src/ /opt/enginekit/src/
COPY engines/ /opt/enginekit/engines/
RUN pip install --no-cache-dir --no-deps -e /opt/enginekit
COPY deploy/gateway.yaml /etc/enginekit/gateway.yaml

RUN useradd --system --uid 10001 --gid 0 --no-create-home --home-dir /app gateway
USER gateway

ENV PORT=8000
EXPOSE 8000
HEALTHCHECK --interval=5s --timeout=3s --start-period=20s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ['PORT'] + '/health', timeout=2)"

# ENGINE_API_TOKEN_FILE (a Docker or Kubernetes secret) or ENGINE_API_TOKEN: the bearer token
# every route but /health asks for. The built-in configuration sends the engines the token of
# /run/secrets/api_token; without that file, mount a configuration of your own (ENGINEKIT_CONFIG).
CMD ["sh", "-c", "exec enginekit serve --config ${ENGINEKIT_CONFIG:-/etc/enginekit/gateway.yaml} --host 0.0.0.0 --port ${PORT:-8000}"]
