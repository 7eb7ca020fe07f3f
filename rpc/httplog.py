"""aiohttp's server log for our apps: what a client broke is logged at DEBUG, once a minute per peer, not as an ERROR
with a traceback per request (any client could fill the log); geth logs these at debug too. A fault of ours still
logs as ERROR with its traceback."""
from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict

from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError

HTTP_LOG = logging.getLogger("smartchain.http")   # pass as AppRunner(..., logger=HTTP_LOG)

CLIENT_FAULTS = (HttpProcessingError, RequestPayloadError, ConnectionError, asyncio.IncompleteReadError)
QUIET_SECONDS = 60.0
PEERS_KEPT = 1024


def client_fault(exc: BaseException | None) -> BaseException | None:
    """The client-caused error in `exc`'s chain (a malformed request, an undecodable body, a hang-up), if any."""
    seen = 0
    while exc is not None and seen < 8:
        if isinstance(exc, CLIENT_FAULTS):
            return exc
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return None


class ClientFaults(logging.Filter):
    """Turns aiohttp's ERROR records about client faults into one DEBUG line per peer per QUIET_SECONDS."""

    def __init__(self, clock=time.monotonic):
        super().__init__()
        self.clock = clock
        self._last: OrderedDict[str, float] = OrderedDict()

    def filter(self, record: logging.LogRecord) -> bool:
        fault = client_fault(record.exc_info[1] if record.exc_info else None)
        if fault is None:
            return True
        peer = next((arg for arg in record.args if isinstance(arg, str)), "a client") \
            if isinstance(record.args, tuple) else "a client"
        now = self.clock()
        last = self._last.pop(peer, None)
        self._last[peer] = now if last is None or now - last >= QUIET_SECONDS else last
        while len(self._last) > PEERS_KEPT:
            self._last.popitem(last=False)
        if last is None or now - last >= QUIET_SECONDS:
            HTTP_LOG.debug("bad HTTP request from %s: %s: %s", peer, type(fault).__name__,
                           str(fault).replace("\n", " ").strip())
        return False


HTTP_LOG.addFilter(ClientFaults())
