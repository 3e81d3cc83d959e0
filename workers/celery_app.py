"""The Celery app of ``judge worker``: configured from ``JUDGE_*`` settings (see judge.runs.backends.celery_config).

Start a worker with ``judge worker --concurrency N`` or ``celery -A workers.celery_app worker``.
"""

from __future__ import annotations

from judge.runs.backends.celery_config import make_celery_app

app = make_celery_app()
app.conf.include = ["workers.tasks"]
