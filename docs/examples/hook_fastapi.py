from fastapi import FastAPI

from remotedbg import RemoteDebugASGIMiddleware

app = FastAPI()
app.add_middleware(RemoteDebugASGIMiddleware)  # off unless REMOTEDBG_ENABLE=1


@app.get("/")
async def index() -> str:
    return "hello"
