#!/usr/bin/python3
"""test_server.py — end-to-end tests of lmserve, run by `make check` (check-server) and, against
the ASan+UBSan build, by `make check-san`.

It converts models with lmconvert (examples/model.tar.gz and parity fixtures under
tests/fixtures/xgb/), starts lmserve on a loopback ephemeral port and asserts on exact status
codes and values: every endpoint; inference results equal to lmscore's output for the same rows
(JSON, FP64, nested data, binary tensors in and out, a multi-output model); every error of the
issue (malformed JSON, datatype, shape, feature count, unknown model and version, oversized
body and head, ambiguous framing, missing length, bare LF, bad method and version, timeouts,
connection limit); pipelining and Expect: 100-continue; metrics; hot reload (good, corrupt,
failing self-test, removed and added files, SIGHUP) while client threads score continuously
with no failed request; graceful shutdown (readiness false at once, requests served during the
drain, exit status 0, no leak under LeakSanitizer). Standard library only.

Environment: LM_BIN (tools and lmserve), LM_SRC (source tree), LM_BUILD (scratch space).

The checks live in modules by area, all over srv_harness.py (the Server, check(), fixtures()):
srv_lifecycle.py (command line, hot reload, shutdown), srv_v2.py (the V2 protocol),
srv_http.py (HTTP/1.1 framing, timeouts, the connection limit), srv_metrics.py (/metrics,
readiness), srv_limits.py (issue 18's hardening), srv_contrib.py (the contrib output), srv_sagemaker.py, srv_recordio.py (RecordIO-protobuf), srv_fm.py (factorization machines), srv_sklearn.py (scikit-learn and
pickled models in model.tar.gz). This file runs them in
one order: the main server's sections share it and its counters. LS_ONLY=protocols runs the
V2-protocol, observability and SageMaker tests only; LS_ONLY=sagemaker the SageMaker ones.
"""
import os
import sys

import srv_contrib
import srv_fm
import srv_sklearn
import srv_http
import srv_lifecycle
import srv_limits
import srv_metrics
import srv_recordio
import srv_sagemaker
import srv_v2
from srv_harness import Server, fixtures, summary


def sagemaker_tests(fix):
    srv_sagemaker.sagemaker(fix.tmp)
    srv_sagemaker.libsvm(fix.tmp)
    srv_recordio.recordio(fix.tmp)
    srv_recordio.sparse_bound(fix.tmp)
    srv_sagemaker.batch_transform(fix.tmp)
    srv_sagemaker.sagemaker_env(fix.tmp)
    srv_sagemaker.serve_script(fix.tmp)


def protocol_tests(fix):
    """The sections with servers of their own: V2 protocol, observability, SageMaker, FM,
    scikit-learn."""
    srv_v2.protocols(fix.tmp, fix.models, fix.ex, fix.multi)
    srv_contrib.contrib(fix.tmp)
    srv_metrics.observability(fix.tmp, fix.ex, fix.reg)
    sagemaker_tests(fix)
    srv_fm.fm(fix.tmp)
    srv_sklearn.sklearn(fix.tmp)


def main():
    fix = fixtures()
    if os.environ.get("LS_ONLY") == "hardening":
        srv_limits.hardening(fix.tmp, fix.conv, fix.fx, fix.ex, fix.reg)
        return summary(fix.tmp)
    if os.environ.get("LS_ONLY") == "sagemaker":
        sagemaker_tests(fix)
        return summary(fix.tmp)
    if os.environ.get("LS_ONLY") == "contrib":
        srv_contrib.contrib(fix.tmp)
        return summary(fix.tmp)
    if os.environ.get("LS_ONLY") == "protocols":
        protocol_tests(fix)
        return summary(fix.tmp)
    srv_lifecycle.cli(fix)
    # The main server: each section below relies on what the ones before it did (metrics count
    # their requests; reloads rewrite its models; shutdown ends it).
    srv = Server(fix.models, "--threads", "2", "--drain-seconds", "1.5", "--reload-poll-ms", "100",
                 "--request-timeout", "1", "--idle-timeout", "2", "--max-body-bytes", "200000",
                 "--max-header-bytes", "2048", "--numa-replicas", "force")
    try:
        srv_v2.metadata_and_inference(srv, fix)
        srv_v2.errors(srv, fix)
        srv_http.framing(srv, fix)
        srv_metrics.counters(srv, fix)
        srv_lifecycle.reloads(srv, fix)
        srv_lifecycle.shutdown(srv, fix)
    finally:
        if srv.p.poll() is None:
            srv.p.kill()
            srv.p.wait()
    srv_http.connection_limit(fix)
    srv_limits.hardening(fix.tmp, fix.conv, fix.fx, fix.ex, fix.reg)
    protocol_tests(fix)
    return summary(fix.tmp)


if __name__ == "__main__":
    sys.exit(main())
