# syntax=docker/dockerfile:1
# The sip-call-agent worker: `docker build -t sip-agent .` from a clean checkout.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# Dependencies first, from the lock alone (exact versions, every file's hash checked): this
# layer is rebuilt only when the lock changes. tests/test_deploy_files.py keeps it in step
# with pyproject.toml.
COPY requirements.lock ./
RUN pip install --require-hashes --no-deps -r requirements.lock
# Then the code, without touching the dependency layer; the installer is not needed past here.
COPY pyproject.toml ./
COPY README.md ./
COPY agent ./agent
RUN pip install --no-deps . && pip uninstall -y -q pip setuptools

FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    # This worker never runs voice models: do not preload them (~300 MiB per job process).
    LIVEKIT_AGENTS_PRELOAD_LOCAL_INFERENCE=0 \
    SIP_AGENT_HEALTH_PORT=8081 \
    # Metrics on (the metrics handler with them); a handler list given must name `metrics`.
    SIP_AGENT_METRICS_PORT=9100 \
    # On every interface: the container's loopback is out of a scraper's reach.
    SIP_AGENT_METRICS_HOST=0.0.0.0
# The SQLite call log, when the store is on, lives in the working directory, /data (mount a
# volume, or set SIP_AGENT_DB_URL to PostgreSQL, which also turns the store on).
RUN groupadd --system --gid 10001 agent \
    && useradd --system --uid 10001 --gid 10001 --home-dir /data --create-home \
       --shell /usr/sbin/nologin agent
COPY --from=build /opt/venv /opt/venv
# By number: Kubernetes' runAsNonRoot can only verify a numeric user.
USER 10001:10001
WORKDIR /data
EXPOSE 8081 9100
# GET / is 503 when LiveKit is unreachable or a required handler (store, outbox) cannot work.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/' % os.environ.get('SIP_AGENT_HEALTH_PORT', '8081'), timeout=4)"]
# livekit-agents drains on SIGTERM: no new calls are accepted and live ones run to their end
# (allow for it in the orchestrator's stop timeout, e.g. terminationGracePeriodSeconds).
STOPSIGNAL SIGTERM
CMD ["python", "-m", "agent", "start"]
