"""Celery transport over judge/."""
