#!/usr/bin/python3
"""gen_recordio.py — write the application/x-recordio-protobuf test fixtures of lmserve's
/invocations (server/tests/fixtures/recordio/) and seeds for the request fuzz target, by hand
from numpy rows: no protobuf library, so the bytes follow the format as documented, not as
one library happens to write it.

    /usr/bin/python3 server/tests/gen_recordio.py [--out DIR] [--seeds DIR]

The format, from AWS's public source (read, not copied):
  - aws/sagemaker-python-sdk, src/sagemaker/amazon/record.proto: message Record { map<string,
    Value> features = 1; map<string, Value> label = 2; optional string uid = 3; metadata = 4;
    configuration = 5 }; message Value { oneof value { Float32Tensor float32_tensor = 2;
    Float64Tensor float64_tensor = 3; Int32Tensor int32_tensor = 7; Bytes bytes = 9; } };
    Float32Tensor { repeated float values = 1 [packed]; repeated uint64 keys = 2 [packed];
    repeated uint64 shape = 3 [packed] } (Float64Tensor: double values; Int32Tensor: int32).
    Keys empty: dense; keys given: sparse, keys[i] the column of values[i].
  - the same SDK, serializer_utils.py: _write_recordio writes each record as uint32 magic
    0xCED7230A, uint32 length (struct "I": native = little-endian on every AWS host), the bytes,
    then zero padding to a multiple of 4; write_numpy_to_dense_tensor writes one Record per
    row, features["values"] = the row (float64 arrays as float64_tensor, float32 as
    float32_tensor, int as int32_tensor), label["values"] = [label] when labels are given;
    write_spmatrix_to_sparse_tensor writes each CSR row's data as values, its column indices
    as keys, and shape = [number of columns].
  - aws/sagemaker-xgboost-container, src/sagemaker_xgboost_container/recordio_protobuf.py
    (read_recordio_protobuf, used by encoder.recordio_protobuf_to_dmatrix on /invocations):
    frames read as above (the last one padded too); features["values"] of each record; a
    sparse row becomes a 1 × shape[0] scipy CSR row (shape absent: largest key + 1); if any
    record of the request is sparse the rows are stacked with scipy.sparse.vstack into one CSR
    matrix, else with numpy.vstack; then xgb.DMatrix(features): in a CSR matrix a column a row
    does not store is missing — and scipy's vstack of a dense block keeps only its non-zeros,
    so in a batch mixing dense and sparse records the dense records' zeros are missing too.
  - protobuf's wire format (protobuf.dev, "Encoding"): field key = number << 3 | wire type;
    varints 7 bits per byte, low first; wire type 0 varint, 1 fixed 64-bit, 2 length-delimited,
    5 fixed 32-bit; a map entry is a message {key = 1, value = 2}; packed repeated fields are
    one length-delimited field of concatenated elements, and parsers accept unpacked ones (one
    field per element) and several packed pieces as well; int32 negatives are 10-byte varints.

Fixtures (each NAME.rec with NAME.csv: the same rows as lmscore reads them, an empty field
for a missing value; manifest.json lists them with the errors expected of the bad ones):
  dense_f32, dense_f64 (with labels), dense_i32: examples/rows.csv as written by
  write_numpy_to_dense_tensor for each dtype (int32: the rows rounded, missing as 0);
  sparse_f32 (shape given, explicit zeros stored), sparse_f64_noshape: the rows as CSR with the
  missing values left out; mixed: dense and sparse records in one request (dense zeros become
  missing); wire: unpacked and split packed fields, fields in reverse order, unknown fields, a
  second map entry, uid/metadata/configuration; then bad_*: one fault each.
"""
import argparse
import hashlib
import json
import math
import os
import struct

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
MAGIC = 0xCED7230A


# ---------------------------------------------------------------- protobuf wire format, by hand

def varint(n):
    n &= (1 << 64) - 1  # negative int32: two's complement over 64 bits (10 bytes)
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def key(num, wt):
    return varint(num << 3 | wt)


def ld(num, payload):  # length-delimited field
    return key(num, 2) + varint(len(payload)) + payload


def packed(num, kind, xs):
    if kind == "f":
        body = b"".join(struct.pack("<f", x) for x in xs)
    elif kind == "d":
        body = b"".join(struct.pack("<d", x) for x in xs)
    else:  # "i" int32 or "u" uint64: varints
        body = b"".join(varint(int(x)) for x in xs)
    return ld(num, body)


def unpacked(num, kind, xs):
    if kind == "f":
        return b"".join(key(num, 5) + struct.pack("<f", x) for x in xs)
    if kind == "d":
        return b"".join(key(num, 1) + struct.pack("<d", x) for x in xs)
    return b"".join(key(num, 0) + varint(int(x)) for x in xs)


TENSOR_FIELD = {"f": 2, "d": 3, "i": 7}


def tensor(kind, values, keys=None, shape=None):
    t = packed(1, kind, values) if len(values) else b""
    if keys is not None and len(keys):
        t += packed(2, "u", keys)
    if shape is not None:
        t += packed(3, "u", shape)
    return t


def value(kind, tensor_bytes):
    return ld(TENSOR_FIELD[kind], tensor_bytes)


def map_entry(name, value_bytes):
    return ld(1, name.encode()) + ld(2, value_bytes)


def record(features, label=None, extra=b""):
    """features/label: [(name, Value bytes)]."""
    r = b"".join(ld(1, map_entry(n, v)) for n, v in features)
    r += b"".join(ld(2, map_entry(n, v)) for n, v in (label or []))
    return r + extra


def frame(rec):
    pad = (-len(rec)) % 4
    return struct.pack("<II", MAGIC, len(rec)) + rec + b"\0" * pad


# ---------------------------------------------------------------- rows

def example_rows():
    rows = []
    with open(os.path.join(ROOT, "examples", "rows.csv"), encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                rows.append([math.nan if v.strip() in ("", "nan", "NaN", "NA") else float(v)
                             for v in line.strip().split(",")])
    return np.array(rows, dtype=np.float64)


def csv_text(rows):
    def fmt(x):
        return "" if math.isnan(x) else repr(float(x))
    return "".join(",".join(fmt(x) for x in r) + "\n" for r in rows)


def dense(rows, kind, labels=None):
    out = b""
    for i, r in enumerate(rows):
        lab = [("values", value(kind, tensor(kind, [labels[i]])))] if labels is not None else None
        out += frame(record([("values", value(kind, tensor(kind, list(r))))], lab))
    return out


def sparse(rows, kind, with_shape=True, store_zeros=False):
    """CSR rows: the present values (and, store_zeros, the zeros) with their columns."""
    out = b""
    for r in rows:
        cols = [j for j, x in enumerate(r) if not math.isnan(x) and (store_zeros or x != 0)]
        vals = [r[j] for j in cols]
        out += frame(record([("values", value(kind, tensor(kind, vals, cols,
                                                           [len(r)] if with_shape else None)))]))
    return out


def sparse_rows_as_seen(rows, store_zeros):
    """What the model sees for sparse(): columns not stored are missing."""
    seen = rows.copy()
    if not store_zeros:
        seen[seen == 0] = math.nan
    return seen


def wire_variants(rows):
    """The same rows, each record written a different legal way."""
    out = b""
    for i, r in enumerate(rows):
        vals = list(r)
        k = i % 4
        if k == 0:  # unpacked values, then shape before nothing: dense
            t = unpacked(1, "f", vals)
        elif k == 1:  # values packed in three pieces with an unknown field between
            t = packed(1, "f", vals[:5]) + key(15, 0) + varint(7) + packed(1, "f", vals[5:12]) + \
                ld(14, b"junk") + packed(1, "f", vals[12:])
        elif k == 2:  # sparse, fields in reverse order, keys unpacked, values packed in two
            cols = [j for j, x in enumerate(vals) if not math.isnan(x)][::-1]
            t = packed(3, "u", [len(vals)]) + unpacked(2, "u", cols[:3]) + packed(2, "u", cols[3:]) + \
                packed(1, "f", [vals[j] for j in cols[:4]]) + unpacked(1, "f", [vals[j] for j in cols[4:]])
        else:  # float64 values unpacked
            t = unpacked(1, "d", vals)
        kind = "d" if k == 3 else "f"
        feats = [("other", value("f", tensor("f", [1.0, 2.0]))), ("values", value(kind, t))]
        if i % 2:  # a decoy "values" entry first: the last entry of a key wins
            feats.insert(0, ("values", value("f", tensor("f", [9.0] * 3))))
        extra = ld(3, b"uid-%d" % i) + ld(4, b'{"src":"test"}') + ld(5, b"{}") + key(99, 5) + b"\0\0\0\0"
        out += frame(record(feats, [("values", value("f", tensor("f", [1.0])))], extra))
    return out


def wire_rows_as_seen(rows):
    """Every variant gives the row itself (the sparse ones leave out only NaNs) — but the
    request mixes dense and sparse records, so the dense ones' zeros are missing."""
    seen = rows.copy()
    for i in range(len(seen)):
        if i % 4 != 2:
            seen[i][seen[i] == 0] = math.nan
    return seen


def bad_cases(rows):
    """(name, bytes, expected status, text the error must contain)."""
    r0 = list(rows[0])
    good = frame(record([("values", value("f", tensor("f", r0)))]))
    rec = record([("values", value("f", tensor("f", r0)))])
    cases = [
        ("bad_magic", struct.pack("<II", 0xCED7230B, len(rec)) + rec + b"\0" * ((-len(rec)) % 4), 400, "magic"),
        ("bad_truncated", good[:-8], 400, "remain"),
        ("bad_trailing", good + b"\0\0\0", 400, "after the last record"),
        ("bad_cflag", struct.pack("<II", MAGIC, len(rec) | (1 << 29)) + rec + b"\0" * ((-len(rec)) % 4), 400,
         "continuation"),
        ("bad_no_values", frame(record([("features", value("f", tensor("f", r0)))])), 400, "no features"),
        ("bad_empty_value", frame(record([("values", b"")])), 400, "no tensor"),
        ("bad_bytes", frame(record([("values", ld(9, ld(1, b"\x89PNG")))])), 400, "bytes"),
        ("bad_short_row", frame(record([("values", value("f", tensor("f", r0[:19])))])), 400,
         "dense row of 19 values"),
        ("bad_dup_key", frame(record([("values", value("f", tensor("f", [1.0, 2.0], [3, 3], [20])))])), 400,
         "given twice"),
        ("bad_key_range", frame(record([("values", value("f", tensor("f", [1.0], [20], [20])))])), 400,
         "outside"),
        ("bad_wide", frame(record([("values", value("f", tensor("f", [1.0], [2], [21])))])), 400,
         "21 columns"),
        ("bad_keys_values", frame(record([("values", value("f", tensor("f", [1.0, 2.0], [1], [20])))])), 400,
         "1 keys and 2 values"),
        ("bad_varint", frame(record([("values", value("f", tensor("f", r0)))]) + b"\x08" + b"\xff" * 11), 400,
         "truncated varint"),
        ("bad_length", frame(b"\x0a\x7f" + rec[2:]), 400, "past the end"),
        ("bad_group", frame(b"\x0b" + rec), 400, "wire type"),
        ("bad_packed_floats", frame(record([("values", value("f", ld(1, b"\0" * 7)))])), 400,
         "multiple of 4"),
        ("bad_second_tensor", frame(record([("values", value("f", tensor("f", r0)) +
                                              value("d", tensor("d", r0)))])), 400, "more than one tensor"),
        ("bad_inf", frame(record([("values", value("f", tensor("f", [1.0, math.inf], [1, 2], [20])))])), 400,
         "infinite"),
        ("bad_second_record", good + frame(record([("values", value("f", tensor("f", r0[:3])))])), 400,
         "record 2"),
    ]
    return cases


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(HERE, "fixtures", "recordio"))
    ap.add_argument("--seeds", help="also write fuzz seeds (HTTP requests) into this directory")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    rows = example_rows()  # 40 × 20, missing values NaN
    ints = np.where(np.isnan(rows), 0, np.round(rows)).astype(np.int32)
    labels = np.arange(len(rows)) % 2
    f32 = rows.astype(np.float32).astype(np.float64)
    half = len(rows) // 2
    mixed_seen = np.vstack([np.where(rows[:half] == 0, math.nan, rows[:half]),  # dense, zeros missing
                            sparse_rows_as_seen(rows[half:], store_zeros=True)])
    fixtures = [
        ("dense_f32", dense(f32, "f"), f32),
        ("dense_f64", dense(rows, "d", labels.astype(np.float64)), rows),
        ("dense_i32", dense(ints, "i"), ints.astype(np.float64)),
        ("sparse_f32", sparse(f32, "f", store_zeros=True), sparse_rows_as_seen(f32, store_zeros=True)),
        # (without shape, a row that stores nothing would be an empty dense row: left out)
        ("sparse_f64_noshape", sparse(rows[1:], "d", with_shape=False), sparse_rows_as_seen(rows[1:], False)),
        ("mixed", dense(rows[:half], "d") + sparse(rows[half:], "d", store_zeros=True), mixed_seen),
        ("wire", wire_variants(f32), wire_rows_as_seen(f32)),
    ]
    # a sparse row without shape is largest key + 1 columns wide: the columns after it are
    # missing all the same
    manifest = []
    for name, data, seen in fixtures:
        with open(os.path.join(a.out, name + ".rec"), "wb") as fh:
            fh.write(data)
        with open(os.path.join(a.out, name + ".csv"), "w", encoding="utf-8") as fh:
            fh.write(csv_text(seen))
        manifest.append({"name": name, "rows": len(seen), "csv": name + ".csv"})
    for name, data, status, text in bad_cases(rows):
        with open(os.path.join(a.out, name + ".rec"), "wb") as fh:
            fh.write(data)
        manifest.append({"name": name, "status": status, "error": text})
    with open(os.path.join(a.out, "manifest.json"), "w", encoding="utf-8") as fh:
        json.dump(manifest, fh, indent=1)
        fh.write("\n")
    print(f"gen_recordio: {len(manifest)} fixtures in {os.path.relpath(a.out, ROOT)}")
    if a.seeds:  # fuzz_request inputs: first byte 0x03 (100-byte reads), then the HTTP request
        os.makedirs(a.seeds, exist_ok=True)
        picks = [fixtures[0][1][:4 * 120], fixtures[3][1][:600], fixtures[5][1][:900],
                 fixtures[6][1][:1200]] + [c[1] for c in bad_cases(rows)[:6]]
        for body in picks:
            req = (b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-recordio-protobuf\r\n"
                   b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
            seed = b"\x03" + req
            with open(os.path.join(a.seeds, hashlib.sha1(seed).hexdigest()), "wb") as fh:
                fh.write(seed)
        print(f"gen_recordio: {len(picks)} seeds in {a.seeds}")


if __name__ == "__main__":
    main()
