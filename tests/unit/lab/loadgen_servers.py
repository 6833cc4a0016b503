"""Local HTTP servers for the load generator's tests (stdlib, 127.0.0.1 only).

AppServer: ThreadingHTTPServer with HTTP/1.1 keep-alive: / , /slow (sleeps), /echo (POST), /chunked; counts
connections; a gate can hold every answer back (a stalled server). ClosingServer: raw sockets, answers a few
requests per connection, then drops the next one with FIN or RST.

`python loadgen_servers.py` runs an AppServer in its own process and prints its port (so the generator can be
measured without sharing a GIL with the server)."""
import socket
import socketserver
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class AppHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"   # keep-alive: every answer has a Content-Length or is chunked
    # Headers and body go out in separate writes; with Nagle on, each answer would wait for a delayed ACK.
    disable_nagle_algorithm = True

    def setup(self):
        super().setup()
        with self.server.lock:
            self.server.connections += 1

    def log_message(self, *args):
        pass

    def _answer(self, body, chunked=False):
        self.server.gate.wait(30)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        if self.server.header_version:
            self.send_header("X-Version", self.server.version)
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(0, len(body), 5):
                piece = body[i:i + 5]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def do_GET(self):
        if self.path == "/slow":
            time.sleep(self.server.slow_seconds)
        body = ("version=%s host=test\n" % self.server.version).encode()
        self._answer(body, chunked=self.path == "/chunked")

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with self.server.lock:
            self.server.bodies.append(body)
        self._answer(body)


class AppServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512   # the pool opens many connections at once; a short backlog would drop SYNs

    def __init__(self, version="1.0.0", header_version=True, slow_seconds=1.0):
        super().__init__(("127.0.0.1", 0), AppHandler)
        self.version, self.header_version, self.slow_seconds = version, header_version, slow_seconds
        self.lock = threading.Lock()
        self.connections = 0
        self.bodies = []
        self.gate = threading.Event()
        self.gate.set()

    def handle_error(self, request, client_address):
        # A client that timed out leaves a broken pipe behind: what the tests do, not a server fault.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.server_address[1]

    def __enter__(self):
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.gate.set()
        self.shutdown()
        self.server_close()


class ClosingHandler(socketserver.StreamRequestHandler):
    def handle(self):
        with self.server.lock:
            self.server.connections += 1
            serial = self.server.connections
        for n in range(self.server.answers + 1):
            head = b""
            while not head.endswith(b"\r\n\r\n"):
                line = self.rfile.readline()
                if not line:
                    return
                head += line
            if n == self.server.answers:
                break
            body = b"version=1.0.0\n"
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            self.wfile.flush()
        if serial % 2 == 0:
            # SO_LINGER 0: close() sends RST instead of FIN.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()


class ClosingServer(socketserver.ThreadingTCPServer):
    """Answers `answers` requests per connection, then closes on the next one: FIN on odd connections, RST on
    even ones."""
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, answers=3):
        super().__init__(("127.0.0.1", 0), ClosingHandler)
        self.answers = answers
        self.lock = threading.Lock()
        self.connections = 0

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.server_address[1]

    def __enter__(self):
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.shutdown()
        self.server_close()


class RawHandler(socketserver.StreamRequestHandler):
    def handle(self):
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
            pass
        self.wfile.write(self.server.answer)


class RawServer(socketserver.ThreadingTCPServer):
    """Reads one request head, writes `answer` as it is, closes: for answers that are not HTTP."""
    daemon_threads = True

    def __init__(self, answer):
        super().__init__(("127.0.0.1", 0), RawHandler)
        self.answer = answer

    url = ClosingServer.url
    __enter__ = ClosingServer.__enter__
    __exit__ = ClosingServer.__exit__


def free_port():
    """A port on 127.0.0.1 with nothing listening (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


if __name__ == "__main__":
    server = AppServer()
    print(server.server_address[1], flush=True)
    server.serve_forever(poll_interval=0.05)
    sys.exit(0)
