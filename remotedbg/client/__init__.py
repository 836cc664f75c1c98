"""The laptop side: `remotedbg attach`, its relay, and the IDE configurations."""
