# StatsBot in a container: `docker build -t statsbot .` then
#   docker run -d --name statsbot --env-file .env -v statsbot-data:/data statsbot
# (not built in CI here: the CI machine has no network beyond the package registries).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DATA_DIR=/data \
    LOG_FORMAT=json

WORKDIR /app
COPY requirements.lock pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir -c requirements.lock . \
    && useradd --system --uid 10001 --home-dir /app statsbot \
    && mkdir -p /data && chown statsbot:statsbot /data

USER statsbot
VOLUME ["/data"]
# Exec form: Python runs as PID 1 and receives SIGTERM itself (StatsBot handles it), so it stops gracefully.
STOPSIGNAL SIGTERM
ENTRYPOINT ["python", "-m", "src"]
CMD ["run"]
