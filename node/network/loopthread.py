"""An asyncio event loop running in its own thread, for the network of a node that is otherwise threaded.

Several NetworkServices may share one LoopThread (in-memory peers must live on one loop); each service owns what
it starts on it.
"""
from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future
from typing import Any, Coroutine, Iterable, TypeVar

T = TypeVar("T")


async def cancel_and_wait(tasks: Iterable[asyncio.Task], patience: float = 0.5) -> None:
    """Cancel `tasks` and wait until all have ended, cancelling again any still running after `patience` seconds
    (Python 3.11's asyncio.wait_for can swallow a cancellation that arrives as its inner future completes)."""
    pending = set(tasks)
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=patience)


class LoopThread:
    """`start()` runs a fresh loop in a daemon thread; `run(coro)` executes a coroutine there and waits for it."""

    def __init__(self, name: str = "network") -> None:
        self.name = name
        self.loop = asyncio.new_event_loop()
        self._thread: threading.Thread | None = None

    def start(self) -> "LoopThread":
        if self._thread is None:
            self._thread = threading.Thread(target=self._main, name=self.name, daemon=True)
            self._thread.start()
        return self

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def in_loop(self) -> bool:
        return threading.current_thread() is self._thread

    def submit(self, coro: Coroutine[Any, Any, T]) -> Future:
        """Schedule `coro` on the loop; a concurrent Future of its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = 30.0) -> T:
        """Run `coro` on the loop and return its result (from any thread but the loop's own)."""
        if self.in_loop():
            raise RuntimeError("LoopThread.run called from its own loop: await the coroutine instead")
        return self.submit(coro).result(timeout)

    def stop(self) -> None:
        """Cancel what is left on the loop, stop it and join the thread."""
        if self._thread is None:
            return
        async def cancel_all() -> None:
            await cancel_and_wait([t for t in asyncio.all_tasks() if t is not asyncio.current_task()])
        try:
            self.run(cancel_all(), timeout=10)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
            self._thread = None
            self.loop.close()
