#!/usr/bin/python3
"""srv_http.py — lmserve's HTTP/1.1, end to end (run by test_server.py): framing errors
(ambiguous or missing lengths, chunk syntax, bare LF, folding, versions, Host, sizes),
pipelining, bodies arriving in pieces, chunked bodies with extensions and trailers,
Expect: 100-continue, HTTP/1.0 keep-alive, request and idle timeouts; the connection limit
and a server started on an empty directory.
"""
import json
import os
import shutil
import socket
import threading
import time

from srv_harness import Server, body_of, check, f32, infer_body, status_of


def until_closed(s, n):
    """What s receives (n bytes per read) until the server closes it."""
    out = b""
    while True:
        d = s.recv(n)
        if not d:
            return out
        out += d


def framing(srv, fix):
    """Raw framing, pipelining, pieces, chunked bodies, HTTP/1.0, timeouts (main server)."""
    ex_rows, ex_expect = fix.ex_rows, fix.ex_expect
    good = infer_body([ex_rows[1]], 20)
    # raw framing errors (connection closed after each)
    req = (b"POST /v2/models/example/infer HTTP/1.1\r\nHost: x\r\n"
           b"Content-Type: application/json\r\n")
    gb = json.dumps(good).encode()
    cases = [
        (req + b"Content-Length: %d\r\nTransfer-Encoding: chunked\r\n\r\n" % len(gb) + gb, 400,
         "both Transfer-Encoding and Content-Length"),
        (req + b"Content-Length: %d\r\nContent-Length: %d\r\n\r\n" % (len(gb), len(gb)) + gb, 400,
         "duplicate Content-Length"),
        (req + b"Content-Length: 1,1\r\n\r\nx", 400, "malformed Content-Length"),
        (req + b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501, "only chunked"),
        (req + b"Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n", 400, "final"),
        (req + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400,
         "repeated Transfer-Encoding"),
        (req.replace(b"HTTP/1.1", b"HTTP/1.0") + b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400,
         "HTTP/1.0"),
        (req + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n", 400, "malformed chunk size"),
        (req + b"Transfer-Encoding: chunked\r\n\r\n" + b"f" * 16 + b"\r\n", 400, "malformed chunk size"),
        (req + b"Transfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n", 400, "followed by CRLF"),
        (req + b"Transfer-Encoding: chunked\r\n\r\n3\nabc\r\n", 400, "bare LF"),
        (req + b"Transfer-Encoding: chunked\r\n\r\n1;" + b"x" * 2000 + b"\r\n", 400, "too long"),
        (req + b"Transfer-Encoding: chunked\r\n\r\n30d41\r\n", 413, "too large"),
        (req + b"Transfer-Encoding: chunked\r\n\r\n20000\r\n" + b" " * 131072 + b"\r\n20000\r\n", 413,
         "too large"),
        (req + b"Transfer-Encoding: chunked\r\n\r\n0\r\nX: " + b"y" * 3000 + b"\r\n\r\n", 431,
         "trailer"),
        (req + b"Transfer-Encoding: chunked\r\n\r\n0\r\nno colon\r\n\r\n", 400, "trailer"),
        (req + b"\r\n", 411, "Content-Length"),
        (b"GET /v2/health/live HTTP/1.1\nHost: x\n\n", 400, "bare LF"),
        (b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400, "folding"),
        (b"GET /v2/health/live HTTP/1.1\r\nHost : x\r\n\r\n", 400, "malformed header"),
        (b"GET /v2/health/live HTTP/2.0\r\nHost: x\r\n\r\n", 505, "version"),
        (b"GET /v2/health/live HTTP/1.1\r\n\r\n", 400, "missing Host"),
        (b"GET /v2/health/live HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "duplicate Host"),
        (b"GET v2/health/live HTTP/1.1\r\nHost: a\r\n\r\n", 400, "absolute path"),
        (b"GET /v2/health/live HTTP/1.1\r\nHost: a\r\nX: " + b"y" * 3000 + b"\r\n\r\n", 431,
         "too large"),
        (req + b"Content-Length: 99999999999\r\n\r\n", 413, "too large"),
        (b"DELETE /v2/health/live HTTP/1.1\r\nHost: a\r\n\r\n", 405, "GET"),
    ]
    for data, status, contains in cases:
        out = srv.raw(data)
        st = status_of(out)
        try:
            msg = json.loads(body_of(out))["error"]
        except Exception:
            msg = ""
        check(st == status and contains in msg and (b"Connection: close" in out or status == 405),
              f"raw {data[:50]!r}…: want {status} '{contains}', got {st} {msg!r}")

    # pipelining: three requests in one write, three responses in order
    live = b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n"
    inf_req = req + b"Content-Length: %d\r\n\r\n" % len(gb) + gb
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    s.sendall(live + inf_req + b"GET /v2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    out = until_closed(s, 65536)
    s.close()
    check(out.count(b"HTTP/1.1 200 OK") == 3 and out.index(b'{"live":true}') <
          out.index(b"output-0") < out.index(b'"lmserve"'), "pipelined requests answered in order")
    # a large body arriving in pieces (the input buffer grows, the head is re-read)
    big = json.dumps(infer_body(ex_rows * 3, 20, rid="big")).encode()
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    s.sendall(req + b"Content-Length: %d\r\n\r\n" % len(big))
    for k in range(0, len(big), 7000):
        time.sleep(0.03)
        s.sendall(big[k:k + 7000])
    s.sendall(live)
    out = b""
    while out.count(b"HTTP/1.1 200") < 2:
        d = s.recv(65536)
        if not d:
            break
        out += d
    s.close()
    j = json.loads(body_of(out))
    check(len(big) > 20000 and j["id"] == "big" and [f32(x) for x in j["outputs"][0]["data"]] ==
          [f32(float(x)) for x in ex_expect * 3] and out.endswith(b'{"live":true}'),
          "large body in pieces, then a pipelined request")
    # chunked bodies: in odd pieces, with extensions and a trailer, then a pipelined request;
    # the same request as one chunk, and with Expect: 100-continue
    def chunked(body, sizes):
        out, k = b"", 0
        for i, n in enumerate(sizes):
            piece = body[k:k + n]
            if not piece:
                break
            k += len(piece)
            out += b"%x%s\r\n" % (len(piece), b";ext=1" if i % 2 else b"") + piece + b"\r\n"
        assert k == len(body)
        return out + b"0\r\nX-Checksum: none\r\n\r\n"
    enc = chunked(big, [1, 4095, 17, 9000] + [4096] * (len(big) // 4096) + [len(big)])
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    s.sendall(req + b"Transfer-Encoding: chunked\r\n\r\n")
    for k in range(0, len(enc), 3001):
        s.sendall(enc[k:k + 3001])
        time.sleep(0.005)
    s.sendall(live + inf_req)
    out = b""
    while out.count(b"HTTP/1.1 200") < 3 or not out.endswith(b"}"):
        d = s.recv(65536)
        if not d:
            break
        out += d
    s.close()
    j = json.loads(out[out.index(b"\r\n\r\n") + 4:out.index(b"HTTP/1.1 200", 10)])
    check(j["id"] == "big" and [f32(x) for x in j["outputs"][0]["data"]] ==
          [f32(float(x)) for x in ex_expect * 3] and b'{"live":true}' in out and
          out.count(b"HTTP/1.1 200") == 3, "chunked body in pieces, then pipelined requests")
    out = srv.raw(req + b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + chunked(gb, [len(gb)]))
    check(status_of(out) == 200 and json.loads(body_of(out))["outputs"][0]["data"] ==
          json.loads(body_of(srv.raw(inf_req.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1))))
          ["outputs"][0]["data"], "chunked body answers as Content-Length does")
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    s.sendall(req + b"Expect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n")
    first = s.recv(4096)
    s.sendall(chunked(gb, [10, len(gb)]))
    rest = s.recv(65536)
    s.close()
    check(first == b"HTTP/1.1 100 Continue\r\n\r\n" and status_of(rest) == 200,
          f"Expect: 100-continue with a chunked body ({first!r})")
    # HTTP/1.0: closed by default, kept alive when asked (and said so)
    out = srv.raw(b"GET /v2/health/live HTTP/1.0\r\n\r\n")
    check(status_of(out) == 200 and b"Connection: close" in out, "HTTP/1.0 closes by default")
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    s.sendall(b"GET /v2/health/live HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    first = s.recv(4096)
    s.sendall(b"GET /v2 HTTP/1.0\r\n\r\n")
    second = until_closed(s, 4096)
    s.close()
    check(b"Connection: keep-alive" in first and status_of(second) == 200 and
          b"Connection: close" in second, "HTTP/1.0 keep-alive")
    # Expect: 100-continue
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    s.sendall(req + b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(gb))
    first = s.recv(4096)
    s.sendall(gb)
    rest = s.recv(65536)
    s.close()
    check(first == b"HTTP/1.1 100 Continue\r\n\r\n" and status_of(rest) == 200,
          f"Expect: 100-continue ({first!r})")
    # request timeout (408) and idle timeout, concurrently
    res = {}

    def slow():
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        s.sendall(b"POST /v2/models/example/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        t0 = time.time()
        out = b""
        while True:
            try:
                d = s.recv(4096)
            except OSError as e:
                out += repr(e).encode()
                break
            if not d:
                break
            out += d
        res["slow"] = (status_of(out), time.time() - t0)
        s.close()

    def idle():
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        s.sendall(live)
        first = s.recv(4096)
        t0 = time.time()
        try:
            rest = s.recv(4096)
        except OSError as e:
            rest = repr(e)
        res["idle"] = (status_of(first), rest, time.time() - t0)
        s.close()

    ts = [threading.Thread(target=slow), threading.Thread(target=idle)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    check(res["slow"][0] == 408 and res["slow"][1] >= 0.9, f"slow request gets 408: {res['slow']}")
    check(res["idle"][0] == 200 and res["idle"][1] == b"" and res["idle"][2] >= 1.5,
          f"idle connection closed after --idle-timeout: {res['idle']}")


def connection_limit(fix):
    """--max-connections and an empty model directory (a server of its own)."""
    tmp, reg = fix.tmp, fix.reg
    empty = os.path.join(tmp, "empty")
    os.mkdir(empty)
    s2 = Server(empty, "--threads", "1", "--max-connections", "3", "--drain-seconds", "0")
    try:
        check(s2.json("GET", "/v2/health/ready")[0] == 503, "no model: not ready")
        socks = []
        for _ in range(3):  # each with a request under way (a body still to come): not evictable
            s = socket.create_connection(("127.0.0.1", s2.port), timeout=10)
            s.sendall(b"POST /v2/models/x/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n{")
            socks.append(s)
        time.sleep(0.2)
        s = socket.create_connection(("127.0.0.1", s2.port), timeout=10)
        out = until_closed(s, 4096)  # refused at accept: the 503 comes before any request is sent
        s.close()
        check(status_of(out) == 503 and b"too many open connections" in out, f"connection limit: {out[:60]!r}")
        for s in socks:
            s.close()
        shutil.copyfile(reg, os.path.join(empty, "late.lm"))
        time.sleep(0.2)

        def ready():
            try:
                return s2.json("GET", "/v2/health/ready")[0] == 200
            except Exception:
                return False
        t0 = time.time()
        while time.time() - t0 < 10 and not ready():
            time.sleep(0.1)
        check(ready(), "ready once a model appears")
        check(s2.stop() == 0, "exit 0")
    finally:
        if s2.p.poll() is None:
            s2.p.kill()
            s2.p.wait()
