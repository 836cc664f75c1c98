"""The DAP bridge, the only way in: accept and peer check, one connection's session, and the
access policy."""
