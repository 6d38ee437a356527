"""The fallback server when gunicorn is not installed: Django's threaded development server
(built on the standard library's ``wsgiref``), one process, a thread per connection, HTTP/1.1
keep-alive. ``python -m benchmarks.api_project.serve HOST PORT``."""

from __future__ import annotations

import os
import socket
import sys
from typing import Any


def main(host: str, port: int) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.api_project.settings")
    from django.core.servers.basehttp import WSGIServer, run

    from benchmarks.api_project.wsgi import application

    class Server(WSGIServer):
        request_queue_size = 128  # 16 clients connecting at once must not overflow the backlog

        def get_request(self) -> tuple[socket.socket, Any]:
            # wsgiref writes the headers and the body apart: without TCP_NODELAY the body waits
            # for the client's delayed ACK of the headers (40 ms on Linux), as in any server.
            connection, address = super().get_request()
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return connection, address

        def close_request(self, request: Any) -> None:
            # Called in the connection's own thread once its client has gone: close the
            # database connections the thread opened (they persist between requests), or every
            # round's new threads would leave theirs open until PostgreSQL refuses more clients.
            from django.db import connections

            connections.close_all()
            super().close_request(request)

    run(host, port, application, threading=True, server_cls=Server)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
