# syntax=docker/dockerfile:1
# The `quel` image: one image for `quel worker`, `quel bridge` and `quel migrate`.
# Built from uv.lock exactly (`--locked` fails the build if the lock is stale).

FROM python:3.11-slim AS build
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /bin/uv
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /src
# Dependencies first, in their own layer: a change of the code alone does not reinstall them.
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=bind,source=uv.lock,target=uv.lock \
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \
    uv sync --locked --no-dev --no-install-project --no-editable
COPY pyproject.toml uv.lock README.md ./
COPY activities activities
COPY bridge bridge
COPY clients clients
COPY domain domain
COPY operations operations
COPY quel quel
COPY workflows workflows
# Installed as a wheel, so the runtime image needs no source tree.
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-dev --no-editable

FROM python:3.11-slim
RUN useradd --system --uid 10001 --create-home --home-dir /home/quel quel \
    && mkdir -p /data/storage \
    && chown -R quel:quel /data
COPY --from=build /app/.venv /app/.venv
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    LOG_FORMAT=json \
    DATA_DIR=/data \
    STORAGE_DIR=/data/storage
USER quel
WORKDIR /home/quel
ENTRYPOINT ["quel"]
CMD ["worker"]
