#!/usr/bin/env python3
"""A person lookup service that fails, for the nexmark-enrich tests and demo.

  tests/lookup_server.py [--port 0] [--fail-rate 0.3] [--poison-mod 37] [--poison ID,...]
                         [--missing ID,...] [--max-failures-in-a-row 3] [--seed 1]
                         [--url-file PATH] [--fixed]

Prints its base URL (http://127.0.0.1:PORT) as the first line of stdout (and into
--url-file), then serves until killed:

  GET /person/ID   200 {"id":ID,"name":"Person ID","state":S}, S = STATES[ID % 6]: the
                   answer depends on the id alone, so a test can compute it.
                   503 at random for --fail-rate of the calls (transient; never more than
                   --max-failures-in-a-row calls in a row for one id, so an id that is not
                   poison always gets through a few retries); 500 always for a poison id
                   (ID % --poison-mod == 0, or listed in --poison) until the service is
                   fixed; 404 always for a --missing id (there is no such person).
  GET /admin/fix   fixes the service: poison ids answer 200 from now on (as --fixed does).
                   Random 503s go on.
  GET /admin/calls {"calls":{"ID":n,...},"log":[[id,status,ms],...]}: the calls per id,
                   and every call in the order it was answered, with its time (epoch ms).

Which failures are worth a retry is the client's call; nexmark-enrich retries 5xx (503,
500) and timeouts and gives up on any 4xx at once (a 404 will not go away).
"""
import argparse
import json
import os
import random
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STATES = ["OR", "ID", "CA", "WA", "NV", "AZ"]


def person(pid):
    return {"id": pid, "name": "Person %d" % pid, "state": STATES[pid % len(STATES)]}


class Service:
    def __init__(self, args):
        self.fail_rate = args.fail_rate
        self.poison_mod = args.poison_mod
        self.poison = set(args.poison)
        self.missing = set(args.missing)
        self.max_in_a_row = args.max_failures_in_a_row
        self.fixed = args.fixed
        self.random = random.Random(args.seed)
        self.lock = threading.Lock()
        self.calls = {}
        self.in_a_row = {}  # id -> random 503s answered in a row
        self.log = []

    def is_poison(self, pid):
        return pid in self.poison or (self.poison_mod > 0 and pid % self.poison_mod == 0)

    def lookup(self, pid):
        """(status, body) for one call; counts it."""
        with self.lock:
            self.calls[pid] = self.calls.get(pid, 0) + 1
            if pid in self.missing:
                status = 404
            elif self.is_poison(pid) and not self.fixed:
                status = 500
            elif self.in_a_row.get(pid, 0) < self.max_in_a_row and self.random.random() < self.fail_rate:
                status = 503
            else:
                status = 200
            self.in_a_row[pid] = self.in_a_row.get(pid, 0) + 1 if status == 503 else 0
            self.log.append([pid, status, int(time.time() * 1000)])
        if status == 200:
            return status, person(pid)
        reason = {404: "no such person", 500: "lookup failed", 503: "try again later"}[status]
        return status, {"error": reason}


def make_handler(service):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            path = self.path.split("?", 1)[0]
            if path.startswith("/person/"):
                try:
                    pid = int(path[len("/person/"):])
                except ValueError:
                    return self.reply(400, {"error": "bad id"})
                return self.reply(*service.lookup(pid))
            if path == "/admin/fix":
                with service.lock:
                    service.fixed = True
                return self.reply(200, {"fixed": True})
            if path == "/admin/calls":
                with service.lock:
                    body = {"calls": {str(k): v for k, v in service.calls.items()}, "log": list(service.log)}
                return self.reply(200, body)
            return self.reply(404, {"error": "not found"})

        def reply(self, status, body):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    return Handler


def ids(text):
    return [int(x) for x in text.split(",") if x]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0: a free port")
    p.add_argument("--fail-rate", type=float, default=0.3, help="share of calls answered 503")
    p.add_argument("--poison-mod", type=int, default=0, help="ids divisible by this are poison (500)")
    p.add_argument("--poison", type=ids, default=[], help="comma-separated poison ids (500)")
    p.add_argument("--missing", type=ids, default=[], help="comma-separated ids answered 404")
    p.add_argument("--max-failures-in-a-row", type=int, default=3, help="random 503s in a row per id, at most")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--url-file", help="also write the base URL here (written whole, then renamed)")
    p.add_argument("--fixed", action="store_true", help="start fixed: poison ids answer")
    args = p.parse_args()

    # A listen backlog for every connection a client's I/O threads open at once (the
    # default of 5 drops the rest, which then wait a second or more to connect again).
    ThreadingHTTPServer.request_queue_size = 256
    server = ThreadingHTTPServer((args.host, args.port), make_handler(Service(args)))
    server.daemon_threads = True
    url = "http://%s:%d" % (args.host, server.server_address[1])
    if args.url_file:
        with open(args.url_file + ".tmp", "w") as f:
            f.write(url + "\n")
        os.rename(args.url_file + ".tmp", args.url_file)
    print(url, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
