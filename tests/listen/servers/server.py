"""An HTTP server on the socket `portpool run --listen` passes as fd 3."""

import http.server
import os
import socket


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        mine = os.environ.get("LISTEN_PID") == str(os.getpid())
        body = f"python listen-pid-is-mine={mine}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class Server(http.server.HTTPServer):
    def server_bind(self) -> None:
        # Already bound and listening: take the passed socket instead of binding one.
        self.socket.close()
        self.socket = socket.socket(fileno=3)
        self.server_address = self.socket.getsockname()[:2]

    def server_activate(self) -> None:
        pass


Server(("", 0), Handler).serve_forever()
