# One image for the web process, the Celery worker and beat (see docker-compose.yml). Production settings
# only (MARKETPLACE_EMBEDDED=false): SECRET_KEY and ALLOWED_HOSTS must be given, or it refuses to start.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MARKETPLACE_EMBEDDED=false \
    STATIC_ROOT=/app/staticfiles \
    MEDIA_ROOT=/app/media \
    GUNICORN_CMD_ARGS="--bind 0.0.0.0:8000 --workers 4 --timeout 60 --graceful-timeout 30 --keep-alive 5 --access-logfile -"

WORKDIR /app
# every dependency pinned by the lock (bin/lock), in a layer of its own: code changes do not reinstall them
COPY requirements/serve.lock requirements/serve.lock
RUN pip install -r requirements/serve.lock
COPY pyproject.toml README.md manage.py ./
COPY core ./core
COPY marketplace ./marketplace
COPY permissions ./permissions
COPY offerings ./offerings
COPY orders ./orders
COPY tasks ./tasks
COPY ops ./ops
# collectstatic loads the settings, which need a key; this one is thrown away with the build step
RUN pip install --no-deps . \
    && SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(50))')" ALLOWED_HOSTS=build \
       python manage.py collectstatic --noinput -v0 \
    && useradd --system --home-dir /app app \
    && mkdir -p /app/media /var/lib/celery \
    && chown app /app/media /var/lib/celery

USER app
EXPOSE 8000
CMD ["gunicorn", "marketplace.wsgi"]
