"""Starts moto's server for the test suite, handling one request at a time.

Usage: python scripts/moto_serve.py HOST PORT

`moto_server` dispatches each connection on its own thread into backends that are not
thread-safe: two concurrent `UpdateItem ADD`s on a missing item can both create it and
both answer 1, where DynamoDB applies each write atomically. The store conformance
suite sends exactly such writes (20 concurrent increments), so under load it failed on
moto's race, not on the adapter. One lock around the application restores the
per-request atomicity of the services moto stands in for; connections stay threaded,
so an idle keep-alive connection never blocks another.
"""

import sys
import threading

from werkzeug.serving import run_simple
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)


class OneAtATime:
    """A WSGI application that runs `app` (body included) under one lock."""

    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        with self.lock:
            result = self.app(environ, start_response)
            try:
                return [b"".join(result)]
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(
        host,
        port,
        OneAtATime(app),
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
