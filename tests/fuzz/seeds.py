#!/usr/bin/python3
"""seeds.py — (re)create the seed corpora of the fuzz targets in tests/fuzz/corpus/<target>/.

Run from the repository root after `make` (it uses build/bin/lmconvert), with the Debian
python3 that has xgboost 1.7.4 (/usr/bin/python3):

    /usr/bin/python3 tests/fuzz/seeds.py

Every seed is small (a few KiB) and comes from the project's own fixtures:
- XGBoost JSON: tests/fixtures/xgb/*/model.json cut to their first trees with Booster slicing
  (one per booster / objective family / categorical kind), two real files as they are, and
  spellings of later XGBoost versions (2.x iteration_indptr, 3.1 base_score "[5E-1]").
- .lm: build/bin/lmconvert of some of those; one with a SELFTEST section added here (the
  lmf target recomputes checksums, so this script need not compute XXH3).
- archives: SageMaker-style model.tar.gz (examples/model.tar.gz, and small ones in every
  compression libarchive is asked to read), k-fold archives, "./" names, dotfiles, long names.
- import_any: all of the above plus the same model as UBJSON, legacy binary and pickles
  (protocol 2 and 4), SageMaker Linear Learner model_algo-1 files and a LightGBM text model from
  ../shared/fixtures (origins in their READMEs), and the magics the sniffer names.
Seeds for a target are written only when tests/fuzz/fuzz_<target>.c exists; the fuzzers' finds
(files named by their SHA-1, kept by `make fuzz-merge`) are left alone.
"""
import gzip
import io
import json
import os
import pickle
import re
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile
import zipfile

import xgboost as xgb

ROOT = os.getcwd()
FIX = os.path.join(ROOT, "tests/fixtures/xgb")
SHARED = os.path.join(ROOT, "..", "shared", "fixtures")
OUT = os.path.join(ROOT, "tests/fuzz/corpus")
LMCONVERT = os.path.join(ROOT, "build/bin/lmconvert")


def targets():
    d = os.path.join(ROOT, "tests/fuzz")
    return {f[5:-2] for f in os.listdir(d)
            if f.startswith("fuzz_") and f.endswith(".c") and f != "fuzz_common.c"}


def put(target, name, data):
    if target not in TARGETS:
        return
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def booster(fixture, rounds):
    b = xgb.Booster(model_file=os.path.join(FIX, fixture, "model.json"))
    return b[0:rounds] if rounds else b


def compact(raw):
    return json.dumps(json.loads(raw), separators=(",", ":")).encode()


def tar_bytes(members, fmt=tarfile.GNU_FORMAT, mode="w"):
    bio = io.BytesIO()
    with tarfile.open(fileobj=bio, mode=mode, format=fmt) as t:
        for name, data in members:
            if data is None:
                ti = tarfile.TarInfo(name)
                ti.type = tarfile.DIRTYPE
                t.addfile(ti)
                continue
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            ti.mtime = 0
            t.addfile(ti, io.BytesIO(data))
    return bio.getvalue()


def compress(tool, data):
    return subprocess.run([tool, "-c", "-9"], input=data, stdout=subprocess.PIPE, check=True).stdout


def lgb_trim(text, iterations):
    """A LightGBM model.txt cut to its first iterations (× num_tree_per_iteration trees), with
    tree_sizes recomputed; feature importances and parameters are dropped."""
    k = iterations * int(re.search(r"^num_tree_per_iteration=(\d+)$", text, re.M).group(1))
    starts = [m.start() for m in re.finditer(r"^Tree=\d+\n", text, re.M)]
    v2 = "end of trees" not in text  # v2 files: no tree_sizes, no "end of trees"
    end = text.index("feature importances:") if v2 else text.index("end of trees")
    starts.append(end)
    keep = min(k, len(starts) - 1)
    sizes = [starts[i + 1] - starts[i] for i in range(keep)]
    head = re.sub(r"^tree_sizes=.*$", "tree_sizes=" + " ".join(map(str, sizes)),
                  text[:starts[0]], flags=re.M)
    return (head + text[starts[0]:starts[keep]] + ("" if v2 else "end of trees\n")).encode()


def nd_v2(shape, values):
    """One MXNet NDArray, v2 layout: magic, dense, shape (i64 dims), cpu context, float32."""
    b = struct.pack("<IiI", 0xF993FAC9, 0, len(shape)) + struct.pack("<%dq" % len(shape), *shape)
    return b + struct.pack("<iii", 1, 0, 0) + struct.pack("<%df" % len(values), *values)


def nd_list(named):
    b = struct.pack("<QQQ", 0x112, 0, len(named)) + b"".join(nd_v2(s, v) for _, s, v in named)
    b += struct.pack("<Q", len(named))
    for name, _, _ in named:
        b += struct.pack("<Q", len(name)) + name.encode()
    return b


def zip_bytes(members, method=zipfile.ZIP_STORED):
    bio = io.BytesIO()
    with zipfile.ZipFile(bio, "w", method) as z:
        for name, data in members:
            z.writestr(zipfile.ZipInfo(name, (2018, 8, 10, 21, 14, 0)), data, compress_type=method)
    return bio.getvalue()


def add_selftest(lm, rows, width):
    """Insert a SELFTEST section (kind 7) of len(rows) rows; checksums are left stale."""
    hdr = bytearray(lm[:64])
    n = struct.unpack_from("<I", hdr, 24)[0]
    tab = [list(struct.unpack_from("<IIQQQ", lm, 64 + 32 * i)) for i in range(n)]
    meta = next(e for e in tab if e[0] == 1)
    F = struct.unpack_from("<I", lm, meta[2] + 16)[0]
    body = struct.pack("<IIII48x", len(rows), F, width, 0)
    for r in rows:
        body += struct.pack("<%dd" % F, *(r + [0.0] * F)[:F])
    body += struct.pack("<%df" % (len(rows) * width), *([0.5] * (len(rows) * width)))
    shift = 64  # the table grows by 32 bytes: move every section one cache line down
    out = bytearray(lm[:64 + 32 * n]) + bytearray(32)
    for e in tab:
        e[2] += shift
    end = max(e[2] + e[3] for e in tab)
    st_off = (end + 64 + 63) // 64 * 64
    tab.append([7, 0, st_off, len(body), 0])
    size = (st_off + len(body) + 64 + 63) // 64 * 64
    img = bytearray(size)
    img[:64] = hdr
    struct.pack_into("<I", img, 24, n + 1)
    struct.pack_into("<Q", img, 16, size)
    for i, e in enumerate(tab):
        struct.pack_into("<IIQQQ", img, 64 + 32 * i, *e)
    for e, old in zip(tab, [e[2] - shift for e in tab[:-1]]):
        img[e[2]:e[2] + e[3]] = lm[old:old + e[3]]
    img[st_off:st_off + len(body)] = body
    return bytes(img)


def main():
    # Replace the named seeds; keep the fuzzers' finds (named by their SHA-1, from make fuzz-merge).
    for t in TARGETS:
        d = os.path.join(OUT, t)
        for f in os.listdir(d) if os.path.isdir(d) else []:
            if not re.fullmatch(r"[0-9a-f]{40}", f):
                os.remove(os.path.join(d, f))
    tmp = tempfile.mkdtemp()

    # ---- XGBoost JSON ----------------------------------------------------------------------
    cuts = [("binary_logistic", 2), ("multi_softprob4", 1), ("multi_softmax3", 1),
            ("cat_partition", 2), ("cat_onehot", 1), ("cat_multi_softprob3", 1),
            ("dart_binary_logistic", 2), ("rf_binary_logistic", 1), ("survival_aft", 1),
            ("reg_squarederror_base12_5", 2), ("rank_ndcg", 1), ("reg_tweedie", 1),
            ("deep_reg_squarederror", 1)]
    jsons = {}
    for fx, rounds in cuts:
        b = booster(fx, rounds)
        jsons[fx] = compact(b.save_raw("json"))
        put("xgboost_json", fx + ".json", jsons[fx])
    for fx in ("gblinear_binary_logistic", "gblinear_multi_softprob3", "rank_ndcg"):
        with open(os.path.join(FIX, fx, "model.json"), "rb") as f:
            jsons[fx] = f.read()  # real files, as XGBoost wrote them
        put("xgboost_json", "real_" + fx + ".json", jsons[fx])
    # Later versions' spellings: 2.x iteration_indptr, 3.1 base_score as an array in a string.
    j = json.loads(jsons["binary_logistic"])
    j["version"] = [2, 1, 0]
    j["learner"]["gradient_booster"]["model"]["iteration_indptr"] = [0, 1, 2]
    j["learner"]["learner_model_param"]["base_score"] = "[5E-1]"
    put("xgboost_json", "v2_iteration_indptr.json", json.dumps(j, separators=(",", ":")).encode())
    put("xgboost_json", "pretty.json", json.dumps(json.loads(jsons["cat_onehot"]), indent=1).encode())
    put("xgboost_json", "minimal.json", b'{"learner":{}}')

    # ---- XGBoost UBJSON, legacy binary, pickles (the same models, other serialisations) -------
    for fx, rounds in (("binary_logistic", 2), ("multi_softprob4", 1), ("dart_binary_logistic", 2),
                       ("cat_partition", 2), ("rf_binary_logistic", 1), ("survival_aft", 1),
                       ("gblinear_multi_softprob3", 0)):
        bst = booster(fx, rounds)
        put("xgboost_ubj", fx + ".ubj", bytes(bst.save_raw("ubj")))
        if not fx.startswith("cat_"):  # the legacy binary format cannot hold categorical splits
            raw = bytes(bst.save_raw("deprecated"))
            put("xgboost_bin", fx + ".bin", raw)
            put("xgboost_bin", fx + "_nobinf.bin", raw[4:])
        put("xgboost_pickle", fx + "_p2.pkl", pickle.dumps(bst, protocol=2))
    # Handles as the older containers wrote them (xgboost_pickle.c): 1.0–1.2 "CONFIG-offset:",
    # 1.3–1.5 JSON {"Config","Model"}, a bare legacy binary model; and SageMaker's attributes.
    bst = booster("binary_logistic", 2)
    binm, cfg = bytes(bst.save_raw("deprecated")), bst.save_config().encode()
    handles = {
        "config_offset_1.2": b"CONFIG-offset:" + struct.pack("<q", len(binm)) + binm + cfg,
        "json_1.3": json.dumps({"Config": json.loads(cfg), "Model": json.loads(jsons["binary_logistic"])}).encode(),
        "bare_binary": binm,
    }
    orig = xgb.core.Booster.__getstate__
    for name, handle in handles.items():
        def getstate(self, handle=handle):
            st = orig(self)
            st["handle"] = bytearray(handle)
            st["best_ntree_limit"] = 1
            return st
        xgb.core.Booster.__getstate__ = getstate
        put("xgboost_pickle", name + "_p4.pkl", pickle.dumps(bst, protocol=4))
        if name == "config_offset_1.2":
            put("import_any", "pickle_config_offset.pkl", pickle.dumps(bst, protocol=2))
    xgb.core.Booster.__getstate__ = orig

    # ---- .lm files ---------------------------------------------------------------------------
    lms = {}
    for fx in ("binary_logistic", "multi_softmax3", "cat_partition", "dart_binary_logistic",
               "gblinear_multi_softprob3", "rf_binary_logistic"):
        src, dst = os.path.join(tmp, fx + ".json"), os.path.join(tmp, fx + ".lm")
        with open(src, "wb") as f:
            f.write(jsons[fx])
        subprocess.run([LMCONVERT, "-q", src, "-o", dst], check=True)
        with open(dst, "rb") as f:
            lms[fx] = f.read()
        put("lmf", fx + ".lm", lms[fx])
    nan = float("nan")
    put("lmf", "selftest.lm", add_selftest(lms["cat_partition"],
                                           [[0.5, nan, 2.0, 3.0, 1e30, -1.0], [nan] * 6], 1))
    put("lmf", "selftest_argmax.lm", add_selftest(lms["multi_softmax3"], [[1.0] * 4, [nan] * 4], 1))

    # ---- archives ----------------------------------------------------------------------------
    small = jsons["binary_logistic"]
    with open(os.path.join(ROOT, "examples/model.tar.gz"), "rb") as f:
        put("artifact", "examples_model.tar.gz", f.read())
    plain = tar_bytes([("xgboost-model", small)])
    archives = {
        "model.tar": plain,
        "model.tar.gz": gzip.compress(plain, 9, mtime=0),
        "model.tar.bz2": compress("bzip2", plain),
        "model.tar.xz": compress("xz", plain),
        "model.tar.zst": compress("zstd", plain),
        "kfold.tar.gz": gzip.compress(tar_bytes([("xgboost-model-0", b"{}"),
                                                 ("xgboost-model-1", b"{}")]), 9, mtime=0),
        "dotslash_dotfiles.tar.gz": gzip.compress(tar_bytes([("./", None), ("./._model", b"x"),
                                                             ("./.DS_Store", b"x"),
                                                             ("./model.json", small)]), 9, mtime=0),
        "nested_pax_longname.tar": tar_bytes([("d" * 120 + "/xgboost-model", b"{}")],
                                             fmt=tarfile.PAX_FORMAT),
        "empty.tar.gz": gzip.compress(tar_bytes([]), 9, mtime=0),
    }
    for name, data in archives.items():
        put("artifact", name, data)
    put("artifact", "raw.json", b'{"learner":{}}')
    # issue 18 finding 10: members whose first 64 KiB can start no model (refused at the head)
    # and one whose head passes (a headerless legacy binary start) but that ends early
    head_seeds = {
        "zeros_member.tar.gz": gzip.compress(tar_bytes([("xgboost-model", bytes(100 << 10))]), 9, mtime=0),
        "spaces_member.tar.gz": gzip.compress(tar_bytes([("xgboost-model", b" " * (100 << 10))]), 9, mtime=0),
        "legacy_head_member.tar.gz": gzip.compress(tar_bytes([("xgboost-model", bytes(136) + struct.pack("<Q", 16) + b"reg:squarederror" + bytes(80 << 10))]), 9, mtime=0),
    }
    for name, data in head_seeds.items():
        put("artifact", name, data)
        put("import_any", name, data)

    # ---- LightGBM text ---------------------------------------------------------------------
    lgbdir = os.path.join(SHARED, "lightgbm")
    for fx, iters in (("jpmml_binary_audit", 2), ("jpmml_multiclass_iris", 1),
                      ("jpmml_linear_regression_auto", 2), ("jpmml_rf_regression_auto", 2),
                      ("jpmml_regression_housing", 1), ("leaves_poisson_fmtp", 1),
                      ("leaves_tweedie_fmtp", 1), ("treelite_toy_categorical", 2)):
        p = os.path.join(lgbdir, fx, "model.txt")
        if os.path.exists(p):
            with open(p) as f:
                put("lightgbm_text", fx + ".txt", lgb_trim(f.read(), iters))

    # ---- SageMaker Linear Learner ----------------------------------------------------------
    ll = os.path.join(SHARED, "linear-learner")
    for src, name in (("joseanpz_mcv/model_algo-1", "binary_mxnet10"),
                      ("Romeoorg_AWS-Attrition-Deployment/model_algo-1", "binary_attrition"),
                      ("nschmeller_covid-19-devpost/model_algo-1", "regressor"),
                      ("_non_linear_learner_negative_examples/kmeans_EllyKyles_aws_sagemaker_model_algo-1", "kmeans"),
                      ("_non_linear_learner_negative_examples/pca_deepanshu-yadav_plagiarism-detection_model_algo-1", "pca")):
        p = os.path.join(ll, src)
        if os.path.exists(p):
            with open(p, "rb") as f:
                put("linear_learner", name, f.read())
    ex = os.path.join(ll, "joseanpz_mcv/extracted_model_algo-1")
    if os.path.isdir(ex):
        members = []
        for name in ("mx-mod-symbol.json", "mx-mod-0000.params", "manifest.json",
                     "additional-params.json"):
            with open(os.path.join(ex, name), "rb") as f:
                members.append((name, f.read()))
        put("linear_learner", "binary_deflated_reordered", zip_bytes(members, zipfile.ZIP_DEFLATED))
        # The presumed multiclass form (no real artifact exists): SoftmaxOutput, W (F, K), b (1, K).
        sym = json.loads(members[0][1])
        for node in sym["nodes"]:
            if node["op"] == "LogisticRegressionOutput":
                node["op"], node["name"] = "SoftmaxOutput", "softmaxoutput0"
            if node["name"] == "fc0_weight":
                node["attrs"]["__shape__"] = "(5, 3)"
            if node["name"] == "fc0_bias":
                node["attrs"]["__shape__"] = "(1, 3)"
        params = nd_list([("arg:fc0_weight", (5, 3), [0.1 * i - 0.7 for i in range(15)]),
                          ("arg:fc0_bias", (1, 3), [0.5, -0.25, 0.0])])
        extra = json.loads(members[3][1])
        extra["predictor_type"] = "multiclass_classifier"
        extra["loss_type"] = "softmax_loss"
        put("linear_learner", "multiclass_presumed", zip_bytes([
            ("additional-params.json", json.dumps(extra).encode()), members[2],
            ("mx-mod-symbol.json", json.dumps(sym).encode()), ("mx-mod-0000.params", params)]))

    # ---- everything lm__import_any sniffs --------------------------------------------------
    b = booster("binary_logistic", 2)
    put("import_any", "model.json", small)
    put("import_any", "model.tar.gz", archives["model.tar.gz"])
    put("import_any", "gblinear.json", jsons["gblinear_binary_logistic"])
    put("import_any", "cat_partition.json", jsons["cat_partition"])
    put("import_any", "model.ubj", bytes(b.save_raw("ubj")))
    put("import_any", "model.bin", bytes(b.save_raw("deprecated")))  # 1.7: starts with "binf"
    put("import_any", "model_nobinf.bin", bytes(b.save_raw("deprecated"))[4:])
    put("import_any", "dart.ubj", bytes(booster("dart_binary_logistic", 2).save_raw("ubj")))
    put("import_any", "dart.bin", bytes(booster("dart_binary_logistic", 2).save_raw("deprecated")))
    put("import_any", "gblinear.bin", bytes(booster("gblinear_binary_logistic", 0).save_raw("deprecated")))
    put("import_any", "booster_p2.pkl", pickle.dumps(b, protocol=2))
    put("import_any", "booster_p4.pkl", pickle.dumps(b, protocol=4))
    put("import_any", "ubj.tar.gz", gzip.compress(tar_bytes([("xgboost-model", bytes(b.save_raw("ubj")))]), 9, mtime=0))
    ll = os.path.join(SHARED, "linear-learner")
    for src, name in (("joseanpz_mcv/model_algo-1", "ll_model_algo-1"),
                      ("joseanpz_mcv/model.tar.gz", "ll_model.tar.gz"),
                      ("Romeoorg_AWS-Attrition-Deployment/model_algo-1", "ll_attrition_model_algo-1"),
                      ("_non_linear_learner_negative_examples/kmeans_EllyKyles_aws_sagemaker_model_algo-1",
                       "kmeans_model_algo-1")):
        p = os.path.join(ll, src)
        if os.path.exists(p):
            with open(p, "rb") as f:
                put("import_any", name, f.read())
    for fx in ("treelite_toy_categorical", "jpmml_linear_regression_auto"):
        lgb = os.path.join(SHARED, "lightgbm", fx, "model.txt")
        if os.path.exists(lgb):
            with open(lgb) as f:
                put("import_any", "lightgbm_" + fx + ".txt", lgb_trim(f.read(), 1))
    put("import_any", "bs64", b"bs64AAAA")
    put("import_any", "space_json", b"  \n{\"learner\":{}}")

    shutil.rmtree(tmp)
    pickle_seeds()
    total = 0
    for t in sorted(TARGETS):
        d = os.path.join(OUT, t)
        if os.path.isdir(d):
            sz = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
            total += sz
            print("%-16s %3d files %7d bytes" % (t, len(os.listdir(d)), sz))
    print("total %d bytes" % total)


def pickle_seeds():
    """pickle: the smaller model files of tests/fixtures/sklearn/ (tests/gen_sklearn_fixtures.py:
    XGBoost wrappers in protocols 0-5 and every joblib compressor, LightGBM stand-ins, scikit-learn
    trees, boosting, linear models and pipelines, the os.system pickle), as they are."""
    src = os.path.join(ROOT, "tests/fixtures/sklearn")
    for case in sorted(os.listdir(src)):
        d = os.path.join(src, case)
        if not os.path.isdir(d):
            continue
        for f in sorted(os.listdir(d)):
            if f.startswith("model.") and os.path.getsize(os.path.join(d, f)) <= 8192:
                with open(os.path.join(d, f), "rb") as fh:
                    put("pickle", case + "_" + f, fh.read())
    # small ones of the larger kinds: an IsolationForest bagged on feature subsets, a
    # HistGradientBoosting with categorical splits both ways (sklearn_iforest.c, sklearn_hist.c)
    import numpy as np
    from sklearn import ensemble
    r = np.random.RandomState(5)
    X = np.c_[r.randint(0, 5, 80), r.normal(size=80), r.normal(size=80)].astype(float)
    X[r.rand(80) < 0.1, 0] = np.nan
    iso = ensemble.IsolationForest(n_estimators=2, max_samples=12, max_features=2,
                                   random_state=0).fit(X[:, 1:])
    put("pickle", "small_iforest.pkl", pickle.dumps(iso, protocol=4))
    y = (np.isin(X[:, 0], [1, 3]) | np.isnan(X[:, 0])).astype(int)
    hgb = ensemble.HistGradientBoostingClassifier(max_iter=2, max_leaf_nodes=4,
                                                  categorical_features=[0],
                                                  random_state=0).fit(X, y)
    put("pickle", "small_hgb_categorical.pkl", pickle.dumps(hgb, protocol=4))


TARGETS = targets()
if __name__ == "__main__":
    sys.exit(main())
