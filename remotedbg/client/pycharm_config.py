"""PyCharm settings for attaching to remotedbg, worded as steps to follow in the IDE.

PyCharm 2025.3 and later attach to a debugpy/DAP listener with an "Attach to DAP" run
configuration (fields: Remote address, Local project path, Remote project path). JetBrains
does not document how that configuration is stored in a ``.run/*.run.xml`` file, and the
third-party code that writes one disagrees about the option names, so remotedbg prints the
settings instead of writing a file that PyCharm might read with an empty remote path. The
older route, PyCharm's "Python Debug Server" with ``REMOTEDBG_BACKEND=pycharm`` on the
server, is printed too. Sources:
https://www.jetbrains.com/help/pycharm/run-debug-configuration-attach-to-dap.html and
https://www.jetbrains.com/help/pycharm/run-debug-configuration-python-remote-debug.html.
"""

from __future__ import annotations

__all__ = ["DEFAULT_NAME", "DEFAULT_PORT", "WRITE_REFUSAL", "render_steps"]

DEFAULT_NAME = "remotedbg attach"
#: The port `remotedbg attach` relays from unless it is taken.
DEFAULT_PORT = 5678
WRITE_REFUSAL = (
    "--write is not supported for PyCharm: JetBrains does not document the .run.xml format "
    'of "Attach to DAP" configurations, and a guessed file could load with a wrong path '
    "mapping; run `remotedbg config pycharm` and follow the printed steps"
)


def render_steps(
    *,
    name: str = DEFAULT_NAME,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    remote_root: str | None = None,
    ide_port: int = 5679,
) -> str:
    """The settings for both routes, as text ready to print.

    `remote_root` is the app's directory on the server; None means the app runs on this
    machine, in the project folder.
    """
    remote = remote_root if remote_root is not None else "the same folder as Local project path"
    mapping = (
        f"your project root = {remote_root}"
        if remote_root is not None
        else "none needed (the app runs in your project folder)"
    )
    # Without --local-port, attach relays from the default port or, when that one is taken
    # (the app's own debugger, with the app on this machine), from another that it names.
    local_port = "" if port == DEFAULT_PORT else f" --local-port {port}"
    moved = (
        [
            f"  When port {port} is taken here (by the app's own debugger, when the app runs on",
            "  this machine too), it relays from another port and says which: put that one in",
            "  Remote address.",
        ]
        if port == DEFAULT_PORT
        else []
    )
    lines = [
        'PyCharm 2025.3 or later: an "Attach to DAP" run configuration',
        "  1. Run | Edit Configurations... | + (Add New Configuration) | Attach to DAP",
        f"  2. Name:                {name}",
        f"  3. Remote address:      {_address(host, port)}",
        "  4. Local project path:  keep PyCharm's default, your project root",
        f"  5. Remote project path: {remote}",
        '  6. To share it, tick "Store as project file" and choose a folder such as .run/.',
        "  7. Click OK. Open any page of the app to arm the debugger, then choose",
        f'     "{name}" and click Debug.',
        "  Token: PyCharm documents no way to add arguments such as remotedbgToken to its",
        "  attach request, so let remotedbg add it. On your machine, run",
        f"      REMOTEDBG_TOKEN=... remotedbg attach https://your-app{local_port}",
        "  (add --ssh you@your-server when the debugger listens on the server's loopback)",
        f"  and keep Remote address {_address(host, port)}: remotedbg attach relays it to the",
        "  server, adding the token and the path mappings on the way.",
        *moved,
        "",
        'Older PyCharm: the "Python Debug Server"',
        "  In PyCharm:",
        "  1. Run | Edit Configurations... | + | Python Debug Server",
        f"  2. IDE host name: localhost    Port: {ide_port}",
        f"  3. Path mappings: {mapping}",
        "  4. Click Debug: PyCharm waits for the app to connect to it.",
        "  On the server:",
        "  5. pip install 'remotedbg[pycharm]'",
        "     or pin the debugger to your IDE build: pip install 'pydevd-pycharm~=<build>',",
        "     where <build> is the number after PY- in PyCharm's Help | About.",
        f"  6. Run the app with REMOTEDBG_BACKEND=pycharm REMOTEDBG_IDE=127.0.0.1:{ide_port}",
        "  7. From your machine, bring PyCharm's port to the server's loopback:",
        f"      ssh -N -R {ide_port}:127.0.0.1:{ide_port} you@your-server",
        "  Arming then connects out to PyCharm, which stops on your breakpoints.",
    ]
    return "\n".join(lines) + "\n"


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
