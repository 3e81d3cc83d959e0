# judge: the CLI and the Celery worker (docker-compose.yml runs `judge worker`).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    LITELLM_LOCAL_MODEL_COST_MAP=True

WORKDIR /app
COPY pyproject.toml README.md ./
COPY judge ./judge
COPY workers ./workers
COPY rubrics ./rubrics
RUN pip install ".[postgres]" && useradd --create-home --uid 10001 judge

USER judge
CMD ["judge", "worker", "--concurrency", "4"]
