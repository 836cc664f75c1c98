"""The armed process: the gate (arm, expire, fork reset, banner), the debugger backends, and
the scope of tracing."""
