# One image for the web process, the Celery worker and beat (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    STATIC_ROOT=/app/staticfiles \
    MEDIA_ROOT=/app/media

WORKDIR /app
COPY pyproject.toml README.md manage.py ./
COPY core ./core
COPY marketplace ./marketplace
COPY permissions ./permissions
COPY offerings ./offerings
COPY orders ./orders
COPY tasks ./tasks
RUN pip install . \
    && python manage.py collectstatic --noinput -v0 \
    && useradd --system --home-dir /app app \
    && mkdir -p /app/media /var/lib/celery \
    && chown app /app/media /var/lib/celery

USER app
EXPOSE 8000
CMD ["gunicorn", "marketplace.wsgi", "-b", "0.0.0.0:8000", "-w", "4"]
