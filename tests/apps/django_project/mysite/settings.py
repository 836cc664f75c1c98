"""Production-like settings: DEBUG off (Django answers errors with its own 500), no database."""

from __future__ import annotations

from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "remotedbg-tests-only"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "mysite.urls"
INSTALLED_APPS: list[str] = []
DATABASES: dict[str, object] = {}
MIDDLEWARE = [
    "remotedbg.django.RemoteDebugMiddleware",
    "django.middleware.common.CommonMiddleware",
]
USE_TZ = True
# Over the environment's REMOTEDBG_TTL, as a project would set it.
REMOTEDBG_TTL = "10m"
