"""Where a JSON-RPC server listens: the URLs of its host and port (HTTP and WebSocket share them)."""
from __future__ import annotations


class Endpoint:
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}/"
