#!/usr/bin/python3
"""gen_pandas_fixtures.py — the files a user of pandas and XGBoost actually has, for lmscore's
CSV rules (tests/test_cli.c): run with Debian's /usr/bin/python3 (pandas, numpy, xgboost 1.7).

Trains a small binary:logistic XGBoost model on a DataFrame whose column names are the feature
names (one of them holds a comma and quotes, so pandas quotes it), with early stopping, so the
saved model carries best_iteration and lmconvert keeps fewer trees than were trained. Writes to
tests/fixtures/pandas/:

  model.json            bst.save_model (feature names inside)
  default.csv           X.to_csv()                 header + pandas' unnamed index column
  shuffled.csv          X[shuffled columns].to_csv(): the same rows, columns in another order
  noindex.csv           X.to_csv(index=False)
  semicolon.csv         X.to_csv(sep=';', index=False)
  rows.libsvm           "label idx:val ..." (0-based indices, missing values left out)
  expected.csv          pd.Series(bst.predict(d, iteration_range=(0, best_iteration + 1))).to_csv()
                        (what SageMaker's endpoint returns; header ",0" and an index)
  expected_all.csv      the same with every tree (plain bst.predict on 1.7: all trees), no header
  summary.txt           num_trees_trained and best_iteration, for the test
"""
import os
import sys

import numpy as np
import pandas as pd
import xgboost as xgb

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "pandas")


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(23)
    n, nf = 400, 12
    names = [f"f_{i}" for i in range(nf)]
    names[5] = 'ratio, "a/b"'  # pandas quotes it: "ratio, ""a/b"""
    X = pd.DataFrame(rng.normal(size=(n, nf)).round(4), columns=names)
    X = X.mask(rng.random((n, nf)) < 0.05)  # 5% missing
    y = ((X["f_0"].fillna(0) + X["f_1"].fillna(0) * X["f_2"].fillna(0) +
          rng.normal(scale=1.5, size=n)) > 0).astype(int)
    train, valid = slice(0, 300), slice(300, 400)
    dtrain = xgb.DMatrix(X.iloc[train], label=y.iloc[train])
    dvalid = xgb.DMatrix(X.iloc[valid], label=y.iloc[valid])
    bst = xgb.train({"objective": "binary:logistic", "max_depth": 3, "eta": 0.3, "seed": 1,
                     "eval_metric": "logloss"}, dtrain, num_boost_round=60,
                    evals=[(dvalid, "valid")], early_stopping_rounds=5, verbose_eval=False)
    trained = bst.num_boosted_rounds()
    best = bst.best_iteration
    if not best + 1 < trained:
        sys.exit(f"early stopping kept every round ({best + 1} of {trained}): change the seed")
    bst.save_model(os.path.join(OUT, "model.json"))

    rows = X.iloc[valid].iloc[:40].reset_index(drop=True)
    d = xgb.DMatrix(rows)
    best_pred = bst.predict(d, iteration_range=(0, best + 1))
    all_pred = bst.predict(d, iteration_range=(0, trained))
    rows.to_csv(os.path.join(OUT, "default.csv"))
    cols = list(rows.columns)
    shuffled = [cols[i] for i in np.random.default_rng(5).permutation(nf)]
    rows[shuffled].to_csv(os.path.join(OUT, "shuffled.csv"))
    rows.to_csv(os.path.join(OUT, "noindex.csv"), index=False)
    rows.to_csv(os.path.join(OUT, "semicolon.csv"), sep=";", index=False)
    with open(os.path.join(OUT, "rows.libsvm"), "w") as f:
        for i, r in rows.iterrows():
            pairs = " ".join(f"{j}:{v!r}" for j, v in enumerate(r.values) if not np.isnan(v))
            f.write(f"{int(y.iloc[300 + i])} {pairs}\n")
    pd.Series(best_pred).to_csv(os.path.join(OUT, "expected.csv"))
    np.savetxt(os.path.join(OUT, "expected_all.csv"), all_pred, fmt="%.9g")
    with open(os.path.join(OUT, "summary.txt"), "w") as f:
        f.write(f"num_trees_trained {trained}\nbest_iteration {best}\n")
    print(f"{OUT}: {len(rows)} rows, {nf} features, kept {best + 1} of {trained} trees")


if __name__ == "__main__":
    main()
