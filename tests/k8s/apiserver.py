#!/usr/bin/env python3
"""A STAND-IN for the Kubernetes API server, for tests only (no real kube-apiserver runs
on our machines). It speaks the parts of the real protocol a list-and-watch client uses
(kubernetes.io "Kubernetes API Concepts"; WatchEvent v1):

- discovery: GET /api, /apis, /api/v1, /apis/apps/v1;
- list: GET /api/v1/<plural>, /apis/apps/v1/<plural>, and the namespaced forms
  /api/v1/namespaces/<ns>/<plural>; a `fieldSelector` of `spec.nodeName=<n>` (and
  `metadata.name=<n>`) is applied; the list carries `metadata.resourceVersion`;
- watch: the same paths with `watch=1|true`, or the legacy /api/v1/watch/<plural> form:
  newline-delimited `{"type": ADDED|MODIFIED|DELETED|BOOKMARK|ERROR, "object": ...}` over a
  chunked response, from `resourceVersion` on; an expired version gets an ERROR event with
  a Status of code 410 (reason Expired); the watch ends at `timeoutSeconds`;
- a bearer token is required (401 Status otherwise); TLS when given a certificate.

The test drives it through /_control/* (not a Kubernetes path): apply or delete an
object, expire every resource version seen so far, close every open watch, make the next
watch answers malformed. It logs each request as a JSON line in --log.
"""
import argparse
import bisect
import json
import ssl
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

CORE = {"pods": "Pod", "services": "Service", "nodes": "Node", "namespaces": "Namespace",
        "replicationcontrollers": "ReplicationController", "events": "Event"}
APPS = {"deployments": "Deployment", "replicasets": "ReplicaSet", "daemonsets": "DaemonSet"}
NAMESPACED = {"pods", "services", "replicationcontrollers", "events", "deployments",
              "replicasets", "daemonsets"}


class Store:
    def __init__(self):
        self.lock = threading.Condition()
        self.rv = 100
        self.objects = {p: {} for p in list(CORE) + list(APPS)}  # plural -> uid -> obj
        self.log = {p: [] for p in self.objects}  # plural -> [(rv, type, obj)]
        self.expired_below = 0
        self.generation = 0  # bumped to close open watches
        self.malformed = 0  # watch answers to corrupt

    def apply(self, plural, obj):
        with self.lock:
            self.rv += 1
            # objects carry their type, as the API server's watch events and GETs do
            obj["kind"] = CORE.get(plural) or APPS[plural]
            obj["apiVersion"] = "v1" if plural in CORE else "apps/v1"
            md = obj.setdefault("metadata", {})
            md.setdefault("uid", str(uuid.uuid4()))
            md.setdefault("creationTimestamp", "2026-12-01T00:00:00Z")
            md["resourceVersion"] = str(self.rv)
            typ = "MODIFIED" if md["uid"] in self.objects[plural] else "ADDED"
            self.objects[plural][md["uid"]] = obj
            self.log[plural].append((self.rv, typ, obj))
            self.lock.notify_all()
            return obj

    def delete(self, plural, uid):
        with self.lock:
            obj = self.objects[plural].pop(uid, None)
            if obj is None:
                return None
            self.rv += 1
            obj = json.loads(json.dumps(obj))
            obj["metadata"]["resourceVersion"] = str(self.rv)
            self.log[plural].append((self.rv, "DELETED", obj))
            self.lock.notify_all()
            return obj


STORE = Store()
ARGS = None
LOG_LOCK = threading.Lock()


def selected(obj, field_selector, namespace):
    if namespace and obj.get("metadata", {}).get("namespace") != namespace:
        return False
    for term in filter(None, (field_selector or "").split(",")):
        key, _, want = term.partition("=")
        if key == "spec.nodeName" and obj.get("spec", {}).get("nodeName") != want:
            return False
        if key == "metadata.name" and obj.get("metadata", {}).get("name") != want:
            return False
    return True


def status(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def record(self, **kw):
        if ARGS.log:
            with LOG_LOCK, open(ARGS.log, "a") as f:
                f.write(json.dumps(dict(kw, path=self.path, time=time.time(),
                                        agent=self.headers.get("User-Agent", ""))) + "\n")

    def send_json(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def authorized(self):
        if self.headers.get("Authorization") == "Bearer " + ARGS.token:
            return True
        self.record(kind="unauthorized")
        self.send_json(401, status(401, "Unauthorized", "Unauthorized"))
        return False

    def do_POST(self):
        url = urlparse(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length", "0") or 0))
        req = json.loads(body or b"{}")
        if url.path == "/_control/apply":
            self.send_json(200, STORE.apply(req["plural"], req["object"]))
        elif url.path == "/_control/delete":
            self.send_json(200, STORE.delete(req["plural"], req["uid"]) or {})
        elif url.path == "/_control/expire":
            # As etcd compacts: every version before now is gone; the current one (what a
            # list returns from now on) is still valid.
            with STORE.lock:
                STORE.rv += 1
                STORE.expired_below = STORE.rv
                STORE.generation += 1
                STORE.lock.notify_all()
            self.send_json(200, {"expired_below": STORE.expired_below})
        elif url.path == "/_control/close-watches":
            with STORE.lock:
                STORE.generation += 1
                STORE.lock.notify_all()
            self.send_json(200, {})
        elif url.path == "/_control/churn":
            # modify one object `rate` times a second for `seconds` (a benchmark's load)
            def churn(plural, obj, rate, seconds):
                start = time.time()
                for i in range(int(rate * seconds)):
                    o = json.loads(json.dumps(obj))
                    o.setdefault("metadata", {}).setdefault("labels", {})["gen"] = str(i)
                    STORE.apply(plural, o)
                    delay = start + (i + 1) / rate - time.time()
                    if delay > 0:
                        time.sleep(delay)
            threading.Thread(target=churn, daemon=True, args=(
                req["plural"], req["object"], float(req["rate"]), float(req["seconds"]))).start()
            self.send_json(200, {})
        elif url.path == "/_control/malformed":
            with STORE.lock:
                STORE.malformed += int(req.get("count", 1))
                STORE.generation += 1
                STORE.lock.notify_all()
            self.send_json(200, {})
        else:
            self.send_json(404, status(404, "NotFound", "no such control"))

    def do_GET(self):
        url = urlparse(self.path)
        q = {k: v[-1] for k, v in parse_qs(url.query).items()}
        parts = [p for p in url.path.split("/") if p]
        if url.path == "/healthz":
            return self.send_json(200, {"ok": True})
        if not self.authorized():
            return
        # discovery
        if parts == ["api"]:
            return self.send_json(200, {"kind": "APIVersions", "versions": ["v1"],
                                        "serverAddressByClientCIDRs": []})
        if parts == ["apis"]:
            return self.send_json(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
                {"name": "apps", "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
                 "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"}}]})
        if parts in (["api", "v1"], ["apis", "apps", "v1"]):
            kinds = CORE if parts == ["api", "v1"] else APPS
            return self.send_json(200, {
                "kind": "APIResourceList", "apiVersion": "v1",
                "groupVersion": "v1" if parts == ["api", "v1"] else "apps/v1",
                "resources": [{"name": p, "singularName": k.lower(), "namespaced": p in NAMESPACED,
                               "kind": k, "verbs": ["get", "list", "watch"]}
                              for p, k in kinds.items()]})
        # resource paths
        prefix, rest = (parts[:2], parts[2:]) if parts[:1] == ["api"] else (parts[:3], parts[3:])
        watch = q.get("watch") in ("1", "true")
        if rest[:1] == ["watch"]:  # legacy /api/v1/watch/<plural>
            watch, rest = True, rest[1:]
        namespace = None
        if len(rest) == 3 and rest[0] == "namespaces":
            namespace, rest = rest[1], rest[2:]
        if len(rest) != 1:
            return self.send_json(404, status(404, "NotFound", "not found"))
        plural = rest[0]
        group = CORE if prefix == ["api", "v1"] else APPS if prefix == ["apis", "apps", "v1"] else {}
        if plural not in group:
            return self.send_json(404, status(404, "NotFound", f"{plural} not found"))
        if watch:
            return self.watch(plural, group[plural], q, namespace)
        with STORE.lock:
            items = [o for o in STORE.objects[plural].values()
                     if selected(o, q.get("fieldSelector"), namespace)]
            rv = STORE.rv
        self.record(kind="list", plural=plural, rv=rv)
        self.send_json(200, {"kind": group[plural] + "List",
                             "apiVersion": "v1" if group is CORE else "apps/v1",
                             "metadata": {"resourceVersion": str(rv)}, "items": items})

    def watch(self, plural, kind, q, namespace):
        since = int(q.get("resourceVersion") or 0)
        timeout = min(int(q.get("timeoutSeconds") or 300), 300)
        bookmarks = q.get("allowWatchBookmarks") in ("1", "true")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        with STORE.lock:
            generation = STORE.generation
            expired = since < STORE.expired_below
            corrupt = STORE.malformed > 0
            if corrupt:
                STORE.malformed -= 1
        self.record(kind="watch", plural=plural, rv=since, expired=expired, corrupt=corrupt)
        try:
            if corrupt:
                self.chunk(b'{"type": "ADDED", "object": {not json\n')
            elif expired:
                ev = {"type": "ERROR", "object": status(
                    410, "Expired", f"too old resource version: {since} ({STORE.expired_below})")}
                self.chunk(json.dumps(ev).encode() + b"\n")
            else:
                self.stream(plural, kind, since, timeout, bookmarks, generation, namespace, q)
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass
        self.close_connection = True

    def stream(self, plural, kind, since, timeout, bookmarks, generation, namespace, q):
        deadline = time.time() + timeout
        last_bookmark = time.time()
        with STORE.lock:
            log = STORE.log[plural]
            pos = bisect.bisect_right([e[0] for e in log], since)
        while True:
            with STORE.lock:
                if pos >= len(log):
                    STORE.lock.wait(timeout=0.2)
                pending = log[pos:]
                pos = len(log)
                current_rv = STORE.rv
                gen = STORE.generation
            for rv, t, o in pending:
                since = rv
                if selected(o, q.get("fieldSelector"), namespace):
                    self.chunk(json.dumps({"type": t, "object": o}).encode() + b"\n")
            if gen != generation or time.time() >= deadline:
                return
            if bookmarks and time.time() - last_bookmark > 1.0:
                last_bookmark = time.time()
                since = max(since, current_rv)
                bm = {"type": "BOOKMARK", "object": {
                    "kind": kind, "apiVersion": "v1" if kind in CORE.values() else "apps/v1",
                    "metadata": {"resourceVersion": str(since)}}}
                self.chunk(json.dumps(bm).encode() + b"\n")


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--token", required=True)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--objects", help="JSON file: [{plural, object}] applied at start")
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log")
    ARGS = ap.parse_args()
    if ARGS.objects:
        for o in json.load(open(ARGS.objects)):
            STORE.apply(o["plural"], o["object"])
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    if ARGS.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(ARGS.cert, ARGS.key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    with open(ARGS.port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    import os
    os.rename(ARGS.port_file + ".tmp", ARGS.port_file)
    sys.stdout.flush()
    srv.serve_forever()


if __name__ == "__main__":
    main()
