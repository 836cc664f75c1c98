"""A small Django project hooked with remotedbg's middleware, for the end-to-end tests."""
