# gunicorn -c gunicorn_conf.py myproject.wsgi:app
from remotedbg import Settings

debugging = Settings.load().enable  # REMOTEDBG_ENABLE, read and checked as the app reads it

bind = "127.0.0.1:8000"
# One worker: only one process can own the debugger port. Other workers would log
# "the debugger port ... is in use", try again every 30 s, and not stop meanwhile.
workers = 1 if debugging else 4
# A sync worker paused at a breakpoint sends gunicorn no heartbeat, and gunicorn kills
# workers that stay silent for `timeout` seconds. 0 turns that check off.
timeout = 0 if debugging else 30
