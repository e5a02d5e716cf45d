"""The HTTPS server: one thread per connection, HTTP/1.1 keep-alive, 127.0.0.1 only.

`EmulatorServer` starts the same server in-process (tests, the `local` environment) or for `promote emulator`
(`promote.commands.emulator`). The state directory holds the SQLite file and the certificates; a temporary one is
made (and removed) when none is given. Every request passes here in one order: control API (never faulted,
logged or authenticated) or else latency -> injected fault -> bearer token -> route -> api-version -> handler,
and every error, expected or not, is rendered here as Azure's CloudError.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import ssl
import sys
import tempfile
import threading
import time
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from promote.emulator import errors
from promote.emulator.api import ADMIN_PREFIX, admin_router, build_router
from promote.emulator.app import App
from promote.emulator.certs import ensure_certificates
from promote.emulator.control import ControlState
from promote.emulator.deployments import Deployments
from promote.emulator.instances import Instance
from promote.emulator.routing import Request, Response, Router, check_api_version
from promote.emulator.settings import Clock, Settings
from promote.emulator.store import Store

HOST = "127.0.0.1"
DB_FILE = "state.db"
CERT_DIR = "certs"
ENDPOINT_FILE = "endpoint.json"


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, port: int, app: App, context: ssl.SSLContext) -> None:
        self.app = app
        self.context = context
        self.router = build_router()
        self.admin = admin_router()
        super().__init__((HOST, port), _Handler)

    def get_request(self) -> tuple[Any, Any]:
        # The TLS handshake happens in the connection's own thread (see _Handler.setup), so that one slow or
        # broken client cannot stall the accept loop.
        sock, address = self.socket.accept()
        # Headers and body leave in two writes; without NODELAY, Nagle + delayed ACK add 40 ms to each answer.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), address

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, (ssl.SSLError, ConnectionError, TimeoutError, OSError)):
            return  # clients going away, handshakes refused: not the emulator's problem
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the SDKs reuse connections
    server_version = "adf-promote-emulator"
    sys_version = ""
    timeout = 120  # an idle keep-alive connection is closed after this
    server: _HTTPServer

    def setup(self) -> None:
        self.request.settimeout(self.timeout)
        self.request.do_handshake()
        super().setup()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the request log is the control API's

    def do_GET(self) -> None:
        self._dispatch()

    do_PUT = do_POST = do_PATCH = do_DELETE = do_HEAD = do_GET

    def _dispatch(self) -> None:
        started = time.perf_counter()
        app = self.server.app
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        req = Request(
            method=self.command,
            path=split.path,
            query={k.lower(): v for k, v in parse_qsl(split.query, keep_blank_values=True)},
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            base_url=f"https://{self.headers.get('Host') or f'{HOST}:{self.server.server_address[1]}'}",
        )
        if split.path.lower().rstrip("/").startswith(ADMIN_PREFIX):
            self._send(req, self._handle(self.server.admin, req, authenticate=False))
            return
        status, fault_id, recorded = 0, None, False
        try:
            if app.settings.latency_seconds:
                time.sleep(app.settings.latency_seconds)
            response: Response | None = None
            rule = app.control.fault_for(req.method, unquote(req.path))
            if rule is not None:
                fault_id = rule.id
                rule.apply_wait()
                if rule.drop:
                    self._drop()
                    return
                err = rule.error()
                if err is not None:
                    response = Response(err.status, err.body(), err.headers)
                elif rule.answer is not None:
                    answer = rule.answer
                    headers = {str(k): str(v) for k, v in answer["headers"].items()}
                    response = Response(answer["status"], answer.get("body"), headers)
            if response is None:
                response = self._handle(self.server.router, req, authenticate=True)
            status = response.status
            # Logged before the answer leaves: a client that reads the log after its answer finds its request.
            app.control.record(
                req.method, unquote(req.path), split.query, status, (time.perf_counter() - started) * 1000, fault_id
            )
            recorded = True
            self._send(req, response)
        finally:
            if not recorded:  # a dropped connection or an error before the answer
                app.control.record(
                    req.method, unquote(req.path), split.query, status, (time.perf_counter() - started) * 1000, fault_id
                )

    def _handle(self, router: Router[App], req: Request, *, authenticate: bool) -> Response:
        """Route and run one request; every error becomes a CloudError answer here and nowhere else."""
        try:
            if authenticate:
                auth = req.header("Authorization") or ""
                if not auth.startswith("Bearer ") or not auth[7:].strip():
                    raise errors.unauthenticated()
            route, params = router.match(req.method, req.path)
            check_api_version(route.api, req.api_version)
            return route.handler(self.server.app, req, params)
        except errors.EmulatorError as exc:
            return Response(exc.status, exc.body(), exc.headers)
        except Exception as exc:  # a bug in the emulator: answer like Azure's 500, keep the trace visible
            traceback.print_exc(file=sys.stderr)
            err = errors.internal(f"The local emulator failed: {exc!r}")
            return Response(err.status, err.body())

    def _send(self, req: Request, response: Response) -> None:
        if response.body is None:
            data = b""
        elif isinstance(response.body, str):
            data = response.body.encode()
        elif isinstance(response.body, bytes):
            data = response.body
        else:
            data = json.dumps(response.body, separators=(",", ":"), ensure_ascii=False).encode()
        self.send_response(response.status)
        if data:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        request_id = str(uuid.uuid4())
        self.send_header("x-ms-request-id", request_id)
        self.send_header("x-ms-correlation-request-id", req.header("x-ms-client-request-id") or request_id)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if data and req.method != "HEAD":
            self.wfile.write(data)

    def _drop(self) -> None:
        """Close the connection without a word (a fault): the client sees the connection reset."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.request.shutdown(socket.SHUT_RDWR)


class EmulatorServer:
    """The emulator in a background thread: `with EmulatorServer() as emu: emu.endpoint, emu.ca_file`.

    `state_dir` keeps state and certificates between runs (the CLI, the `local` environment); without it a
    temporary directory is used and removed on stop. `port` 0 picks a free port.
    """

    def __init__(self, state_dir: Path | None = None, *, port: int = 0, settings: Settings | None = None) -> None:
        self._temporary = state_dir is None
        self.state_dir = Path(tempfile.mkdtemp(prefix="promote-emulator-")) if state_dir is None else Path(state_dir)
        self.port = port
        self.settings = settings or Settings()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.app: App | None = None
        self.instance = Instance(self.state_dir)
        self.recovered: list[str] = []  # deployments left running by an emulator that died, ended at start
        self.endpoint = ""
        self.ca_file = self.state_dir / CERT_DIR / "ca.pem"

    def start(self) -> EmulatorServer:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        certs = ensure_certificates(self.state_dir / CERT_DIR)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(certs.cert, certs.key)
        clock = Clock()
        store = Store(self.state_dir / DB_FILE, self.settings, clock)
        control = ControlState(self.settings, clock)
        self.instance = Instance(self.state_dir)
        self.instance.start()
        deployments = Deployments(store, self.settings, control, self.instance)
        self.app = App(store=store, settings=self.settings, control=control, deployments=deployments)
        try:
            self._httpd = _HTTPServer(self.port, self.app, context)
        except OSError:
            self.instance.stop()
            store.close()
            raise
        # Deployments an emulator that died was running end now, as interrupted (deployments/service.py).
        self.recovered = deployments.reconcile()
        self.app.info["recovered"] = self.recovered
        self.port = self._httpd.server_address[1]
        self.endpoint = f"https://{HOST}:{self.port}"
        self.ca_file = certs.ca
        self.app.info.update({"endpoint": self.endpoint, "caFile": str(certs.ca), "stateDir": str(self.state_dir)})
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.2}, name="promote-emulator", daemon=True
        )
        self._thread.start()
        return self

    def reset(self) -> None:
        """The control API's reset, without a request."""
        assert self.app is not None, "start() first"
        self.app.reset()

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self.app is not None:
            self.app.control.release_holds()  # a held deployment write must not keep its worker past the stop
            self.app.deployments.shutdown()
            self.app.store.close()
            self.instance.stop()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        if self._temporary:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def local_state_dir(project_root: Path) -> Path:
    """Where the `local` environment keeps the emulator's state: `.promote/emulator/` in the project."""
    return Path(project_root) / ".promote" / "emulator"
