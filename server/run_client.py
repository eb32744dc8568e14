#!/usr/bin/env python3
"""run_client.py — the client half of `make run`'s lmserve demo (examples/run.sh): sends sample
KServe V2 requests to a running lmserve — readiness, model metadata, one row as JSON, all rows
of examples/rows.csv as JSON and as binary tensors — prints each request and response, then a
parity line against XGBoost's own predictions (examples/expected.csv). Exit status 1 if any
prediction differs by more than 1e-6. Standard library only (any python3).

    python3 server/run_client.py PORT MODEL ROWS.csv EXPECTED.csv
"""
import http.client
import json
import struct
import sys


def main():
    port, model, rows_csv, expected_csv = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    rows = []
    for line in open(rows_csv):
        rows.append([None if v.strip() in ("", "nan", "NaN", "NA") else float(v)
                     for v in line.rstrip("\n").split(",")])
    expected = [float(x) for x in open(expected_csv).read().split()]
    nfeat = len(rows[0])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

    def call(method, path, body=None, headers=None, show=True, shown_body=None):
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        data = r.read()
        if show:
            print(f"> {method} {path}" + (f"  {shown_body}" if shown_body else ""))
            txt = data.decode(errors="replace")
            print(f"< {r.status} {txt if len(txt) < 400 else txt[:400] + '…'}\n")
        return r, data

    call("GET", "/v2/health/ready")
    call("GET", f"/v2/models/{model}")
    one = {"id": "row-2", "inputs": [{"name": "input-0", "shape": [1, nfeat], "datatype": "FP32",
                                      "data": rows[1]}]}
    b = json.dumps(one)
    call("POST", f"/v2/models/{model}/infer", b, {"Content-Type": "application/json"},
         shown_body=b[:120] + "…")
    allj = {"id": "all-rows", "inputs": [{"name": "input-0", "shape": [len(rows), nfeat],
                                          "datatype": "FP32", "data": rows}]}
    r, data = call("POST", f"/v2/models/{model}/infer", json.dumps(allj),
                   {"Content-Type": "application/json"},
                   shown_body=f"(all {len(rows)} rows, JSON; null = missing)")
    got_json = json.loads(data)["outputs"][0]["data"]
    hdr = json.dumps({"inputs": [{"name": "input-0", "shape": [len(rows), nfeat], "datatype": "FP32",
                                  "parameters": {"binary_data_size": 4 * nfeat * len(rows)}}],
                      "outputs": [{"name": "output-0", "parameters": {"binary_data": True}}]}).encode()
    raw = b"".join(struct.pack("<f", float("nan") if v is None else v) for row in rows for v in row)
    r, data = call("POST", f"/v2/models/{model}/infer", hdr + raw,
                   {"Inference-Header-Content-Length": str(len(hdr)),
                    "Content-Type": "application/octet-stream"}, show=False)
    hl = int(r.getheader("Inference-Header-Content-Length"))
    got_bin = list(struct.unpack(f"<{len(rows)}f", data[hl:]))
    print(f"> POST /v2/models/{model}/infer  (all {len(rows)} rows, binary FP32, "
          f"Inference-Header-Content-Length: {len(hdr)})")
    print(f"< {r.status} {data[:hl].decode()} + {len(data) - hl} bytes: "
          + ", ".join(f"{v:.9g}" for v in got_bin[:3]) + ", …\n")
    conn.close()
    worst = 0.0
    bad = same = 0
    f32 = lambda x: struct.unpack("<f", struct.pack("<f", x))[0]  # noqa: E731
    for g in (got_json, got_bin):
        for a, e in zip(g, expected):
            d = abs(f32(a) - f32(e))
            worst = max(worst, d)
            bad += d > 1e-6 * max(1.0, abs(e))
            same += f32(a) == f32(e)
    n = len(expected)
    ok = bad == 0 and len(got_json) == n and len(got_bin) == n
    print(f"lmserve parity: {n}/{n} JSON and {n}/{n} binary predictions vs XGBoost's "
          f"({same} of {2 * n} bit-identical as float32, max abs diff {worst:.3g}, tolerance 1e-6): "
          f"{'OK' if ok else 'MISMATCH'}",
          file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
