import logging

# remotedbg logs its banner and audit events on the "remotedbg" logger tree. Arm, attach
# and detach events are INFO, which Python drops unless a handler asks for them.
handler = logging.StreamHandler()  # stderr: the server's log, or systemd's journal
handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
remotedbg_logger = logging.getLogger("remotedbg")  # "remotedbg.audit" passes through it
remotedbg_logger.addHandler(handler)
remotedbg_logger.setLevel(logging.INFO)
