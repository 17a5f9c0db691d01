"""Running the server: uvicorn on a background thread, started and stopped cleanly.

`LocalServer(config, runtime, on_log)` binds its socket in `start()` (so a port in use is an
error right there, for the caller to show), serves on its own thread with its own event
loop, and `stop()` stops every reply in progress, lets uvicorn close the connections, frees
the models it loaded on demand and joins the thread. The app's Local Server page and the
headless `python -m app serve` (`serve()`, Ctrl+C or SIGTERM stops it) run the very same server.

uvicorn is set up for this: our h11 protocol (JSON errors for malformed requests, a deadline
for request heads), its keep-alive timeout for idle connections, no signal handlers (not the
main thread), no logging set-up of its own, no lifespan.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import threading
import time
from collections.abc import Callable

import uvicorn

from app.runtime import ModelRuntime
from app.server.asgi import build_app
from app.server.config import ServerConfig
from app.server.jit import JitModels
from app.server.jobs import JobSet
from app.server.protocol import protocol_class
from app.server.records import LogCallback, RequestRecord, ServerNote

log = logging.getLogger(__name__)

STOP_GRACE = 5  # seconds uvicorn waits for connections once every reply was told to stop


def bind(host: str, port: int) -> socket.socket:
    """A listening socket (OSError when the address is taken or not this computer's)."""
    infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6 and host in ("", "::"):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind(address)
        sock.listen(128)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


class LocalServer:
    def __init__(
        self,
        config: ServerConfig | None = None,
        runtime: ModelRuntime | None = None,
        on_log: LogCallback | None = None,
    ) -> None:
        self.config = config or ServerConfig()
        self.config.check()
        self.owns_runtime = runtime is None
        self.runtime = runtime or ModelRuntime()
        self.on_log = on_log
        self.jobs = JobSet()
        self.jit = JitModels(
            self.runtime,
            self.config.idle_ttl,
            self.config.auto_evict,
            on_unload=lambda key, why: self._note(f"unloaded {key} ({why})"),
        )
        self._uvicorn: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._sweeper: threading.Thread | None = None
        self._stopping = threading.Event()
        self._address: tuple[str, int] = (self.config.host, self.config.port)

    # --- where -----------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return self._address[1]

    @property
    def url(self) -> str:
        host = self._address[0]
        if host in ("0.0.0.0", "", "::"):
            host = "127.0.0.1"
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # --- reporting -------------------------------------------------------------------------------
    def _report(self, record: RequestRecord | ServerNote) -> None:
        log.info("%s", record)
        if self.on_log is not None:
            try:
                self.on_log(record)
            except Exception:  # a log consumer must not break the server
                log.exception("the server's log callback failed")

    def _note(self, message: str) -> None:
        self._report(ServerNote(message))

    # --- life ------------------------------------------------------------------------------------
    def start(self, timeout: float = 10.0) -> None:
        """Listen and serve on a background thread; returns once it accepts connections.
        OSError (address in use, ...) is raised here."""
        if self.running:
            return
        cfg = self.config
        sock = bind(cfg.host, cfg.port)
        self._address = sock.getsockname()[:2]
        app = build_app(self.runtime, cfg, self.jobs, self.jit, self._report, self._stopping)
        server = uvicorn.Server(
            uvicorn.Config(
                app,
                http=protocol_class(cfg.head_timeout),
                loop="asyncio",
                ws="wsproto",  # LM Studio's SDK (app/server/lmstudio_sdk); h11 underneath too
                ws_max_size=cfg.max_body_bytes,
                lifespan="off",
                log_config=None,
                access_log=False,
                timeout_keep_alive=int(max(1, round(cfg.keep_alive_timeout))),
                timeout_graceful_shutdown=STOP_GRACE,
                server_header=False,
            )
        )
        self._uvicorn = server
        self._stopping.clear()
        failed: list[BaseException] = []

        def run() -> None:
            try:
                server.run(sockets=[sock])
            except BaseException as exc:  # SystemExit from uvicorn on a start-up failure too
                failed.append(exc)
                log.exception("the server stopped with an error")
            finally:
                sock.close()

        self._thread = threading.Thread(target=run, name="specula-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not server.started and self._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        if not server.started:
            self.stop()
            raise OSError(f"the server did not start: {failed[0] if failed else 'timed out'}")
        self._sweeper = threading.Thread(target=self._sweep, name="specula-server-ttl", daemon=True)
        self._sweeper.start()
        self._note(f"listening on {self.url}")

    def _sweep(self) -> None:
        while not self._stopping.wait(self.config.sweep_interval):
            try:
                self.jit.sweep()
            except Exception:
                log.exception("unloading idle models failed")

    def stop(self, timeout: float = 15.0) -> None:
        """Stop every reply in progress, close the connections, free the models loaded on
        demand (the app's own stay), and wait for the server thread. Idempotent."""
        self._stopping.set()
        server, thread = self._uvicorn, self._thread
        if server is None or thread is None:
            return
        self.jobs.cancel_all()
        self._wait_for_replies(STOP_GRACE)
        server.should_exit = True
        thread.join(timeout)
        if thread.is_alive():
            server.force_exit = True
            thread.join(5)
        if self._sweeper is not None:
            self._sweeper.join(5)
        self._uvicorn = self._thread = self._sweeper = None
        for job in self.jobs.cancel_all():
            job.join(5)
        self.jit.release_all()
        if self.owns_runtime:
            self.runtime.close(timeout=10)
        self._note("stopped")

    def _wait_for_replies(self, timeout: float) -> None:
        """Let the cancelled replies say why they end before the connections close: uvicorn
        closes websockets (LM Studio's SDK) at once when it stops."""
        deadline = time.monotonic() + timeout
        while len(self.jobs) and time.monotonic() < deadline:
            time.sleep(0.01)

    def wait(self) -> None:
        """Block until the server stops (Ctrl+C: stop it)."""
        try:
            while self.running:
                time.sleep(0.2)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()


def serve(config: ServerConfig, on_log: Callable[[RequestRecord | ServerNote], None] | None = print) -> int:
    """`python -m app serve`: serve until Ctrl+C or SIGTERM."""
    server = LocalServer(config, on_log=on_log)
    server.start()
    _stop_on_sigterm()
    print(f"Specula server on {server.url} (Ctrl+C to stop)", flush=True)
    server.wait()
    return 0


def _stop_on_sigterm() -> None:
    """A service manager's stop (SIGTERM) ends the server as Ctrl+C does: replies cancelled,
    models freed, "stopped" logged, exit status 0."""
    if threading.current_thread() is not threading.main_thread():
        return

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
