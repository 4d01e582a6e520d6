# syntax=docker/dockerfile:1
# The sip-call-agent worker: `docker build -t sip-agent .` from a clean checkout.

FROM python:3.11-slim AS deps
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# The dependencies alone, from the lock (exact versions, every file's hash checked): this stage
# is rebuilt only when the lock changes (tests/test_deploy_files.py keeps it in step with
# pyproject.toml). The installer goes once they are in: the worker never runs it.
RUN python -m venv /opt/venv
COPY requirements.lock /tmp/
RUN /opt/venv/bin/pip install --require-hashes --no-deps -r /tmp/requirements.lock \
    && /opt/venv/bin/pip uninstall -y -q pip setuptools

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/build
WORKDIR /src
COPY pyproject.toml ./
COPY README.md ./
COPY agent ./agent
# The project's own files, to lay into the dependencies' site-packages: a code change copies
# these few hundred kB into the image, not the whole environment again.
RUN /opt/build/bin/pip install --no-deps --target /opt/app .

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
COPY --from=deps /opt/venv /opt/venv
COPY --from=build /opt/app /opt/venv/lib/python3.11/site-packages/
# By number: Kubernetes' runAsNonRoot can only verify a numeric user.
USER 10001:10001
WORKDIR /data
EXPOSE 8081 9100
# GET / is 503 when LiveKit is unreachable or a required handler (store, outbox) cannot work.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/' % os.environ.get('SIP_AGENT_HEALTH_PORT', '8081'), timeout=4)"]
# livekit-agents drains on SIGTERM: no new calls are accepted and live ones run to their end,
# for up to its drain timeout of 3600 s (allow for it and a minute in the orchestrator's stop
# timeout, e.g. terminationGracePeriodSeconds: 3660).
STOPSIGNAL SIGTERM
CMD ["python", "-m", "agent", "start"]
