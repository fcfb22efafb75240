# syntax=docker/dockerfile:1
# Build: docker build -t chargeback-desk .   Run: see docker/compose.yml
# Alone, on SQLite: docker run -v chargeback-desk-data:/data -e SECRET_KEY=… -e PLATFORM_API_KEY=… chargeback-desk
FROM python:3.11-slim-bookworm AS build
WORKDIR /src
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/venv
COPY pyproject.toml constraints.txt README.md alembic.ini ./
COPY app ./app
COPY alembic ./alembic
# The same pinned install as `make install`, without the development extras and not editable.
RUN /opt/venv/bin/python -m pip install -c constraints.txt .

FROM python:3.11-slim-bookworm
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    DATABASE_URL=sqlite:////data/chargeback-desk.db \
    EVIDENCE_STORAGE_URL=file:///data/evidence \
    HOST=0.0.0.0 \
    PORT=8000
# Unicode fonts for the appeal package's cover page (Latin, Cyrillic, Greek; and Chinese).
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-dejavu-core=2.37-6 fonts-wqy-microhei=0.2.0-beta-3.1 \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 app && useradd --system --uid 10001 --gid app --home-dir /srv --shell /usr/sbin/nologin app \
    && mkdir -p /data/evidence && chown -R app:app /data
COPY --from=build /opt/venv /opt/venv
COPY --chown=app:app alembic.ini /srv/alembic.ini
COPY --chown=app:app alembic /srv/alembic
COPY --chown=app:app docker/entrypoint.sh /usr/local/bin/entrypoint.sh
WORKDIR /srv
USER 10001:10001
EXPOSE 8000
# No VOLUME: it would give every container (the API and each worker) an anonymous volume of its
# own; mount a named one at /data (compose mounts one at /data/evidence).
# `serve` listens on $HOST:$PORT, and the check asks the same $PORT.
HEALTHCHECK --interval=15s --timeout=4s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"PORT\"]}/readyz', timeout=3)"]
ENTRYPOINT ["/usr/local/bin/entrypoint.sh"]
CMD ["serve", "--no-access-log"]
