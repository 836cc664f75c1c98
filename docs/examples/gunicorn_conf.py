# gunicorn -c gunicorn_conf.py myproject.wsgi:app
from remotedbg import Settings

debugging = Settings.load().enable  # REMOTEDBG_ENABLE, read and checked as the app reads it

bind = "127.0.0.1:8000"
# The usual workers, debugging or not: with a fixed REMOTEDBG_DAP_PORT (5678 unless set)
# they share one door, and the IDE sees every worker's requests in one session.
workers = 4
# A sync worker paused at a breakpoint sends gunicorn no heartbeat, and gunicorn kills
# workers that stay silent for `timeout` seconds. 0 turns that check off while debugging.
timeout = 0 if debugging else 30
