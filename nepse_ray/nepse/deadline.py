"""One HTTP attempt held to its deadline from the name lookup to the last byte, whatever the server does.

Socket timeouts bound each wait, not their sum: a server that sends one header line every half second, or a gzip
header whose comment trickles, never lets a single read time out. So every attempt of
:class:`~nepse_ray.nepse.transport.RequestsTransport` is an :class:`Attempt` with a deadline, and a process-wide
:class:`Watchdog` thread shuts the attempt's socket down when the deadline passes; the blocked read then fails at
once, in whatever phase it was (TLS handshake, headers, body). The name lookup, which no socket interrupts, runs
in a daemon thread the attempt waits for only until its deadline.

:class:`DeadlineAdapter` is the requests adapter whose connections take part: each new socket is opened through
:meth:`Attempt.resolve` and handed to :meth:`Attempt.watch`, and a reused connection's socket is watched again for
the attempt that reuses it. Connections used outside an attempt behave as urllib3's own.

>>> watchdog = Watchdog()
>>> attempt = Attempt(deadline=time.monotonic() + 60, clock=time.monotonic)
>>> with attempt.running(watchdog):
...     current() is attempt
True
>>> current() is None, attempt.expired
(True, False)
"""

from __future__ import annotations

import contextlib
import heapq
import ipaddress
import itertools
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util.connection import allowed_gai_family

_local = threading.local()


class Watchdog:
    """One daemon thread that calls each scheduled callback at its time (``time.monotonic``) unless cancelled."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._due: list[tuple[float, int]] = []
        self._callbacks: dict[int, Callable[[], None]] = {}
        self._numbers = itertools.count()
        self._thread: threading.Thread | None = None

    def schedule(self, delay: float, callback: Callable[[], None]) -> int:
        """Call ``callback`` in ``delay`` seconds; returns the handle :meth:`cancel` takes."""
        with self._lock:
            handle = next(self._numbers)
            entry = (time.monotonic() + delay, handle)
            self._callbacks[handle] = callback
            heapq.heappush(self._due, entry)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="nepse-deadlines", daemon=True)
                self._thread.start()
            elif self._due[0] == entry:  # the thread sleeps until a later time: wake it
                self._lock.notify()
        return handle

    def cancel(self, handle: int) -> None:
        with self._lock:
            self._callbacks.pop(handle, None)

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._due or self._due[0][0] > time.monotonic():
                    self._lock.wait(self._due[0][0] - time.monotonic() if self._due else None)
                _, handle = heapq.heappop(self._due)
                callback = self._callbacks.pop(handle, None)
            if callback is not None:
                callback()


#: The watchdog of every attempt in this process.
WATCHDOG = Watchdog()


class Attempt:
    """One HTTP attempt: its deadline on ``clock``, the socket it uses, and whether the deadline has passed."""

    __slots__ = ("_clock", "_lock", "_socket", "deadline", "expired")

    def __init__(self, deadline: float, clock: Callable[[], float]) -> None:
        self.deadline = deadline
        self.expired = False
        self._clock = clock
        self._lock = threading.Lock()
        self._socket: socket.socket | None = None

    def left(self) -> float:
        """Seconds until the deadline (negative once it passed)."""
        return self.deadline - self._clock()

    @contextlib.contextmanager
    def running(self, watchdog: Watchdog = WATCHDOG) -> Iterator[Attempt]:
        """The scope of the attempt in this thread: connections opened or reused in it are watched."""
        handle = watchdog.schedule(max(self.left(), 0.0), self.expire)
        _local.attempt = self
        try:
            yield self
        finally:
            _local.attempt = None
            watchdog.cancel(handle)
            with self._lock:
                self._socket = None  # back in the pool: a late watchdog must not touch it

    def watch(self, sock: socket.socket) -> None:
        """Shut ``sock`` down when the deadline passes (at once if it already has)."""
        with self._lock:
            self._socket = sock
            if self.expired:
                _shut(sock)

    def expire(self) -> None:
        """The deadline passed: shut the watched socket down so the read blocked on it fails now."""
        with self._lock:
            self.expired = True
            if self._socket is not None:
                _shut(self._socket)

    def resolve(self, host: str, port: int) -> list[str]:
        """The addresses of ``host`` (numeric ones as they are), looked up for at most the time left.

        Raises ``socket.gaierror`` if the lookup fails and ``TimeoutError`` if it outlasts the deadline (the
        lookup's thread is left to finish on its own).
        """
        try:
            return [str(ipaddress.ip_address(host.strip("[]")))]
        except ValueError:
            pass
        found: list[Any] = []
        done = threading.Event()

        def lookup() -> None:
            try:
                found.append(socket.getaddrinfo(host, port, allowed_gai_family(), socket.SOCK_STREAM))
            except OSError as error:
                found.append(error)
            done.set()

        threading.Thread(target=lookup, name="nepse-lookup", daemon=True).start()
        if not done.wait(max(self.left(), 0.0)):
            raise TimeoutError(f"looking up {host} took longer than the attempt's deadline")
        if isinstance(found[0], OSError):
            raise found[0]
        return list(dict.fromkeys(str(info[4][0]) for info in found[0]))


def current() -> Attempt | None:
    """The attempt running in this thread, if any."""
    attempt: Attempt | None = getattr(_local, "attempt", None)
    return attempt


def _shut(sock: socket.socket) -> None:
    # socket.socket's own shutdown, also for an SSLSocket: the descriptor is shut without touching the TLS state
    # that the reading thread is using.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _WatchedConnection(HTTPConnection):
    """A connection whose sockets the running attempt watches, opened after a lookup bounded by its deadline."""

    def _new_conn(self) -> socket.socket:
        attempt = current()
        if attempt is None:
            return super()._new_conn()
        name = self._dns_host
        try:
            addresses = attempt.resolve(name, self.port)
        except TimeoutError as error:
            raise ConnectTimeoutError(self, f"looking up {self.host} outlasted the deadline") from error
        except socket.gaierror as error:
            raise NameResolutionError(self.host, self, error) from error
        failure: NewConnectionError | None = None
        try:
            for address in addresses:
                self._dns_host = address  # connect to the address found; TLS still names the host (set below)
                try:
                    sock = super()._new_conn()
                except NewConnectionError as error:
                    failure = error
                    continue
                attempt.watch(sock)
                return sock
        finally:
            self._dns_host = name
        raise failure or NewConnectionError(self, f"{self.host} has no address")

    def request(self, *args: Any, **kwargs: Any) -> None:
        attempt = current()
        if attempt is not None and self.sock is not None:  # a reused connection: watch it for this attempt
            attempt.watch(self.sock)
        super().request(*args, **kwargs)


class _WatchedHTTPSConnection(_WatchedConnection, HTTPSConnection):
    pass


class _WatchedPool(HTTPConnectionPool):
    ConnectionCls = _WatchedConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class DeadlineAdapter(HTTPAdapter):
    """An ``HTTPAdapter`` whose connections hold the running :class:`Attempt`'s deadline (see the module)."""

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any) -> None:
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _WatchedPool, "https": _WatchedHTTPSPool}
