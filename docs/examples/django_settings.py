# mysite/settings.py: first in the list, so that it sees every request and every error.
MIDDLEWARE = [
    "remotedbg.django.RemoteDebugMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
]

# Optional: REMOTEDBG_* names here override the environment (as Flask's app.config does).
REMOTEDBG_ALLOW = "127.0.0.1,::1"
