"""The application gunicorn serves on the socket `portpool run --listen` passes (fd://3)."""

from typing import Callable, Iterable


def app(environ: dict, start_response: Callable) -> Iterable[bytes]:
    body = b"gunicorn"
    start_response("200 OK", [("Content-Length", str(len(body)))])
    return [body]
