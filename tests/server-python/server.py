#!/usr/bin/env python3
"""A python-socketio 5 server for the sioclient interop tests, over HTTP
long-polling on a threaded WSGI server of the standard library.

Usage: server.py [--port N]

Prints exactly one line `LISTENING <port>` once it accepts connections,
then one JSON object per line for what happens (connection, disconnect,
seq, and the payloads python-engineio refuses). Exits when its stdin
closes, so a crashed test runner leaves no server behind.
"""

import argparse
import json
import logging
import sys
import threading
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import socketio

out = threading.Lock()


def log(obj):
    with out:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()


class EngineLog(logging.Handler):
    """python-engineio logs a refused payload and still answers 200 OK:
    the tests read it here."""

    def emit(self, record):
        if record.levelno >= logging.ERROR:
            log({"ev": "engine_error", "message": record.getMessage()})


class Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()

    engine_logger = logging.getLogger("engineio.server")
    engine_logger.addHandler(EngineLog())
    engine_logger.setLevel(logging.ERROR)

    sio = socketio.Server(
        async_mode="threading",
        transports=["polling"],
        engineio_logger=engine_logger,
    )
    seqs = {}

    @sio.event
    def connect(sid, environ, auth):
        log({"ev": "connection", "id": sid, "auth": auth})

    @sio.event
    def disconnect(sid, reason):
        log({"ev": "disconnect", "id": sid, "reason": str(reason)})

    @sio.on("echo")
    def echo(sid, *args):
        # A tuple is several arguments, both ways.
        sio.emit("echo", args, to=sid)
        return args

    @sio.on("seq")
    def seq(sid, n):
        seqs.setdefault(sid, []).append(n)
        log({"ev": "seq", "id": sid, "n": n})
        return n

    @sio.on("seq-report")
    def seq_report(sid, *args):
        # Not a tuple: one argument, the list.
        return seqs.get(sid, [])

    server = make_server(
        "127.0.0.1",
        args.port,
        socketio.WSGIApp(sio),
        server_class=Server,
        handler_class=QuietHandler,
    )
    sys.stdout.write(f"LISTENING {server.server_address[1]}\n")
    sys.stdout.flush()

    def watch_stdin():
        sys.stdin.read()
        server.shutdown()

    threading.Thread(target=watch_stdin, daemon=True).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
