"""app.py — the performance anchor for lmserve: what latency-critical pods typically run today,
a Flask application around the trainer's own library, served by gunicorn (two sync workers).
It answers the same KServe V2 requests as lmserve (health, /v2/models/NAME/infer with one FP32
input tensor, JSON null = missing) by calling xgboost's Booster.inplace_predict on the model's
XGBoost JSON, one thread per worker. Used by `make loadtest` (bench/server/loadtest/loadtest.py),
never in production paths.

    ANCHOR_MODELS=DIR gunicorn -w 2 -b 127.0.0.1:PORT --chdir bench/server/anchor app:app
DIR holds NAME.json XGBoost models (model name = file stem). Debian packages: python3-flask,
gunicorn, python3-xgboost, python3-numpy.
"""
import glob
import os

import numpy as np
import xgboost as xgb
from flask import Flask, jsonify, request

app = Flask(__name__)
MODELS = {}
for path in glob.glob(os.path.join(os.environ.get("ANCHOR_MODELS", "."), "*.json")):
    b = xgb.Booster()
    b.load_model(path)
    b.set_param({"nthread": 1})
    MODELS[os.path.splitext(os.path.basename(path))[0]] = b


@app.get("/v2/health/live")
def live():
    return jsonify(live=True)


@app.get("/v2/health/ready")
def ready():
    return jsonify(ready=bool(MODELS)), (200 if MODELS else 503)


@app.post("/v2/models/<name>/infer")
def infer(name):
    booster = MODELS.get(name)
    if booster is None:
        return jsonify(error=f"model '{name}' not found"), 404
    body = request.get_json(force=True, silent=True)
    try:
        inp = body["inputs"][0]
        shape = inp["shape"]
        x = np.array([np.nan if v is None else v for v in np.ravel(inp["data"])],
                     dtype=np.float32).reshape(shape if len(shape) == 2 else (1, shape[0]))
    except Exception as e:  # noqa: BLE001 - any malformed request is a 400
        return jsonify(error=f"bad request: {e}"), 400
    pred = booster.inplace_predict(x, missing=np.nan)
    pred = np.asarray(pred, dtype=np.float32).reshape(x.shape[0], -1)
    out = {"model_name": name, "outputs": [{"name": "output-0", "datatype": "FP32",
                                            "shape": list(pred.shape),
                                            "data": pred.ravel().tolist()}]}
    if "id" in body:
        out["id"] = body["id"]
    return jsonify(out)
