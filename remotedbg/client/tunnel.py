"""`remotedbg attach --ssh`: the bridge on the server's loopback, through ``ssh -N -L``."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time

from ..errors import AttachError

__all__ = ["Tunnel"]


class Tunnel:
    """``ssh -N -L``: the remote bridge on the server's loopback, reached from a local port."""

    def __init__(self, destination: str, remote_host: str, remote_port: int) -> None:
        ssh = shutil.which("ssh")
        if ssh is None:
            raise AttachError("--ssh needs the ssh client on PATH; install OpenSSH")
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.local_port = int(probe.getsockname()[1])
        forward_host = "127.0.0.1" if remote_host in ("0.0.0.0", "::") else remote_host
        if ":" in forward_host:
            forward_host = f"[{forward_host}]"
        self.argv = [
            ssh, "-N",
            "-o", "ExitOnForwardFailure=yes",
            "-o", "ServerAliveInterval=15",
            "-L", f"127.0.0.1:{self.local_port}:{forward_host}:{remote_port}",
            destination,
        ]  # fmt: skip
        self.process = subprocess.Popen(  # noqa: S603 - argv built above, no shell
            self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )

    def wait_ready(self, timeout: float = 20.0) -> tuple[str, int]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                stderr = (self.process.stderr.read() if self.process.stderr else b"").decode(
                    errors="replace"
                )
                last = stderr.strip().splitlines()[-1] if stderr.strip() else "no message"
                raise AttachError(f"ssh exited with code {self.process.returncode}: {last}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.local_port), timeout=0.5),
            ):
                return ("127.0.0.1", self.local_port)
            time.sleep(0.1)
        raise AttachError(f"the ssh tunnel did not open within {timeout:g}s")

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        if self.process.stderr is not None:
            self.process.stderr.close()
