from remotedbg import RemoteDebugASGIMiddleware


async def app(scope, receive, send):  # any ASGI app
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"hello"})


app = RemoteDebugASGIMiddleware(app)  # off unless REMOTEDBG_ENABLE=1; reads REMOTEDBG_*
