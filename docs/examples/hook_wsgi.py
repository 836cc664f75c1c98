from remotedbg import RemoteDebugMiddleware


def app(environ, start_response):  # any WSGI app
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]


app = RemoteDebugMiddleware(app)  # off unless REMOTEDBG_ENABLE=1; reads REMOTEDBG_*
