"""scikit-learn estimators for tests/fixtures/sklearn/ (imported by gen_sklearn_fixtures.py):
each case with sklearn 1.2.1's own predict / predict_proba / decision_function and, for trees,
apply() (the leaf every tree reaches). sklearn 1.2 refuses NaN in these estimators' rows
(HistGradientBoosting aside): their rows have none."""
import numpy as np
from sklearn import ensemble, linear_model, pipeline, preprocessing, svm, tree


def generate(case, data, rows):
    X = data(n=120, seed=3)
    R = rows(X, seed=4)
    y2 = (X[:, 0] + 0.1 * X[:, 1] + 0.5 * X[:, 2] > 0).astype(int)
    y3 = np.digitize(X[:, 0] + 0.05 * X[:, 1], [-0.5, 0.5])
    yr = X[:, 0] * 3 + X[:, 3] * 0.01 + np.sin(X[:, 4])

    def thr_rows(m, base):
        """Rows whose features sit on the first tree's thresholds: t itself (a double), the
        float32 values around it, and doubles just around the float32 rounding boundary."""
        t0 = (m.estimators_[0] if hasattr(m, "estimators_") else m).tree_
        out = []
        for node in range(t0.node_count):
            f, t = t0.feature[node], t0.threshold[node]
            if f < 0:
                continue
            lo = np.float32(t)
            if float(lo) > t:
                lo = np.nextafter(lo, np.float32(-np.inf))
            hi = np.nextafter(lo, np.float32(np.inf))
            mid = (float(lo) + float(hi)) / 2
            for v in (t, float(lo), float(hi), mid, np.nextafter(mid, -np.inf),
                      np.nextafter(mid, np.inf)):
                r = base.copy()
                r[f] = v
                out.append(r)
            if len(out) >= 60:
                break
        return np.array(out)

    def leaves_of(m, Rows):
        """apply()'s leaf node ids, which lm_predict_leaf reports as they are (one column per
        tree; GradientBoosting: (n_estimators, K) flattened, as lmrt orders its trees)."""
        return m.apply(Rows.astype(np.float32)).reshape(len(Rows), -1)

    # trees: predict_proba[:, 1] (binary), predict_proba (3 classes), predict (regression)
    for nm, cls, kw in [("dt", tree.DecisionTreeClassifier, dict(max_depth=6)),
                        ("et1", tree.ExtraTreeClassifier, dict(max_depth=6)),
                        ("rf", ensemble.RandomForestClassifier, dict(n_estimators=7, max_depth=5)),
                        ("et", ensemble.ExtraTreesClassifier, dict(n_estimators=7, max_depth=5))]:
        m = cls(random_state=0, **kw).fit(X, y2)
        RT = np.vstack([R, thr_rows(m, X[5])])
        case(nm + "_clf", m, RT, m.predict_proba(RT)[:, 1], "predict_proba[:, 1]",
             leaves=leaves_of(m, RT))
        m = cls(random_state=0, **kw).fit(X, y3)
        RT = np.vstack([R, thr_rows(m, X[6])])
        case(nm + "_clf3", m, RT, m.predict_proba(RT), "predict_proba", leaves=leaves_of(m, RT))
    for nm, cls, kw in [("dt", tree.DecisionTreeRegressor, dict(max_depth=6)),
                        ("et1", tree.ExtraTreeRegressor, dict(max_depth=6)),
                        ("rf", ensemble.RandomForestRegressor, dict(n_estimators=7, max_depth=5)),
                        ("et", ensemble.ExtraTreesRegressor, dict(n_estimators=7, max_depth=5))]:
        m = cls(random_state=0, **kw).fit(X, yr)
        RT = np.vstack([R, thr_rows(m, X[7])])
        case(nm + "_reg", m, RT, m.predict(RT), "predict", leaves=leaves_of(m, RT))
    # plain pickle and compressed joblib of a forest too
    m = ensemble.RandomForestClassifier(n_estimators=5, max_depth=4, random_state=1).fit(X, y3)
    case("rf_clf3_pickle", m, R, m.predict_proba(R), "predict_proba", fmt="pickle",
         leaves=leaves_of(m, R))
    case("rf_clf3_p2", m, R, m.predict_proba(R), "predict_proba", fmt="pickle", protocol=2,
         leaves=leaves_of(m, R))
    case("rf_clf3_zlib", m, R, m.predict_proba(R), "predict_proba", compress="zlib",
         leaves=leaves_of(m, R))

    # gradient boosting
    m = ensemble.GradientBoostingClassifier(n_estimators=12, max_depth=3, random_state=0).fit(X, y2)
    case("gb_clf", m, R, m.predict_proba(R)[:, 1], "predict_proba[:, 1]", leaves=leaves_of(m, R))
    m = ensemble.GradientBoostingClassifier(n_estimators=12, max_depth=3, random_state=0,
                                            loss="exponential").fit(X, y2)
    case("gb_clf_exp", m, R, m.predict_proba(R)[:, 1], "predict_proba[:, 1]",
         leaves=leaves_of(m, R))
    m = ensemble.GradientBoostingClassifier(n_estimators=8, max_depth=3, random_state=0).fit(X, y3)
    case("gb_clf3", m, R, m.predict_proba(R), "predict_proba", leaves=leaves_of(m, R))
    for loss in ("squared_error", "absolute_error", "huber"):
        m = ensemble.GradientBoostingRegressor(n_estimators=12, max_depth=3, random_state=0,
                                               loss=loss).fit(X, yr)
        case("gb_reg_" + loss, m, R, m.predict(R), "predict", leaves=leaves_of(m, R))
    m = ensemble.GradientBoostingRegressor(n_estimators=6, max_depth=2, init="zero",
                                           random_state=0).fit(X, yr)
    case("gb_reg_zero", m, R, m.predict(R), "predict", leaves=leaves_of(m, R))

    # histogram gradient boosting: NaN allowed
    Xn = data(n=200, seed=5, nan=True)
    Rn = rows(Xn, seed=6)
    y2n = (np.nan_to_num(Xn[:, 0]) + 0.1 * np.nan_to_num(Xn[:, 1]) > 0).astype(int)
    y3n = np.digitize(np.nan_to_num(Xn[:, 0]), [-0.5, 0.5])
    yrn = np.nan_to_num(Xn[:, 0]) * 3 + np.nan_to_num(Xn[:, 3]) * 0.01
    m = ensemble.HistGradientBoostingClassifier(max_iter=10, random_state=0).fit(Xn, y2n)
    case("hgb_clf", m, Rn, m.predict_proba(Rn)[:, 1], "predict_proba[:, 1]")
    m = ensemble.HistGradientBoostingClassifier(max_iter=6, random_state=0).fit(Xn, y3n)
    case("hgb_clf3", m, Rn, m.predict_proba(Rn), "predict_proba")
    m = ensemble.HistGradientBoostingRegressor(max_iter=10, random_state=0).fit(Xn, yrn)
    case("hgb_reg", m, Rn, m.predict(Rn), "predict")
    m = ensemble.HistGradientBoostingRegressor(max_iter=10, random_state=0,
                                               loss="poisson").fit(Xn, np.abs(yrn))
    case("hgb_reg_poisson", m, Rn, m.predict(Rn), "predict")

    # categorical HistGradientBoosting: features 0 (6 categories) and 2 (40 categories, several
    # bitset words) categorical, NaN in training; scoring rows add unknown categories (6-8,
    # 40-45, 255), negative values (missing for sklearn), non-integers (truncated as sklearn's
    # uint8 cast does) and -0.0. lmrt differs only on values in (-1, 0) and >= 256, which
    # sklearn does not accept at fit (sklearn_hist.c): none here.
    rc = np.random.RandomState(11)
    nc = 300
    Xc = np.c_[rc.randint(0, 6, nc), rc.normal(size=nc), rc.randint(0, 40, nc),
               rc.normal(size=nc) * 10].astype(float)
    Xc[rc.rand(nc) < 0.1, 0] = np.nan
    Xc[rc.rand(nc) < 0.05, 2] = np.nan
    lift = np.where(np.isin(Xc[:, 0], [1, 3]), 1.5, 0) + np.where(np.isnan(Xc[:, 0]), -2, 0)
    lift2 = np.where(np.nan_to_num(Xc[:, 2], nan=99) % 3 == 0, 1.0, -0.5)
    yc = lift + lift2 + 0.3 * Xc[:, 1]
    odd = np.array([6, 7, 8, -1, -3, 2.5, 1.9999, -0.0, 255, np.nan, 0, 5])
    Rc = Xc[:60].copy()
    Rx = np.repeat(Xc[60:72], 4, axis=0)
    Rx[:, 0] = np.tile(odd, 4)
    Rx[:, 2] = np.r_[np.arange(40, 46), [-1, 39.5, 0, np.nan, 255, 17]] .repeat(4)
    Rc = np.vstack([Rc, Rx])
    cf = [True, False, True, False]
    m = ensemble.HistGradientBoostingRegressor(max_iter=12, categorical_features=cf,
                                               random_state=0).fit(Xc, yc)
    case("hgb_cat_reg", m, Rc, m.predict(Rc), "predict")
    m = ensemble.HistGradientBoostingClassifier(max_iter=10, categorical_features=cf,
                                                random_state=0).fit(Xc, (yc > 0.3).astype(int))
    case("hgb_cat_clf", m, Rc, m.predict_proba(Rc)[:, 1], "predict_proba[:, 1]", compress="gzip")
    m = ensemble.HistGradientBoostingClassifier(max_iter=6, categorical_features=cf,
                                                random_state=0).fit(Xc, np.digitize(yc, [-0.5, 1]))
    case("hgb_cat_clf3", m, Rc, m.predict_proba(Rc), "predict_proba", fmt="pickle")

    # linear models (float32 weights in the .lm file): scale.csv holds, per row and output, the
    # size of the sum the prediction is (|x|·|coef| + |intercept|): float32 weights and sums
    # round relative to it
    def lin_scale(m, Rows):
        steps = m.steps if hasattr(m, "steps") else [("", m)]
        Z = Rows
        for _, s in steps[:-1]:
            Z = s.transform(Z)
        last = steps[-1][1]
        c = np.atleast_2d(last.coef_)
        return np.abs(Z) @ np.abs(c).T + np.abs(np.atleast_1d(last.intercept_))

    Xs = X / np.array([1, 10, 0.1, 100, 1, 3])
    Rs = R / np.array([1, 10, 0.1, 100, 1, 3])
    for nm, m in [("linreg", linear_model.LinearRegression()),
                  ("ridge", linear_model.Ridge(alpha=0.5)),
                  ("lasso", linear_model.Lasso(alpha=0.01)),
                  ("enet", linear_model.ElasticNet(alpha=0.01)),
                  ("sgdreg", linear_model.SGDRegressor(random_state=0)),
                  ("linsvr", svm.LinearSVR(random_state=0, max_iter=5000))]:
        m.fit(Xs, yr)
        case(nm, m, Rs, m.predict(Rs), "predict", scale=lin_scale(m, Rs))
    for nm, m, kind in [
            ("logreg", linear_model.LogisticRegression(), "proba"),
            ("logreg_mn2", linear_model.LogisticRegression(multi_class="multinomial"), "proba"),
            ("sgdclf_log", linear_model.SGDClassifier(loss="log_loss", random_state=0), "proba"),
            ("sgdclf_hinge", linear_model.SGDClassifier(random_state=0), "decision"),
            ("linsvc", svm.LinearSVC(random_state=0, max_iter=5000), "decision")]:
        m.fit(Xs, y2)
        exp = m.predict_proba(Rs)[:, 1] if kind == "proba" else m.decision_function(Rs)
        case(nm, m, Rs, exp, "predict_proba[:, 1]" if kind == "proba" else "decision_function",
             scale=lin_scale(m, Rs)[:, :1] if kind == "proba" else lin_scale(m, Rs))
    for nm, m, kind in [
            ("logreg3", linear_model.LogisticRegression(), "proba"),
            ("logreg3_ovr", linear_model.LogisticRegression(multi_class="ovr"), "decision"),
            ("sgdclf3", linear_model.SGDClassifier(random_state=0), "decision"),
            ("linsvc3", svm.LinearSVC(random_state=0, max_iter=5000), "decision")]:
        m.fit(Xs, y3)
        exp = m.predict_proba(Rs) if kind == "proba" else m.decision_function(Rs)
        case(nm, m, Rs, exp, "predict_proba" if kind == "proba" else "decision_function",
             scale=lin_scale(m, Rs))

    # pipelines: scalers folded into a linear model
    for nm, sc in [("std", preprocessing.StandardScaler()),
                   ("minmax", preprocessing.MinMaxScaler()),
                   ("maxabs", preprocessing.MaxAbsScaler())]:
        m = pipeline.make_pipeline(sc, linear_model.LogisticRegression()).fit(X, y2)
        case("pipe_%s_logreg" % nm, m, R, m.predict_proba(R)[:, 1], "predict_proba[:, 1]",
             scale=lin_scale(m, R))
    m = pipeline.make_pipeline(preprocessing.StandardScaler(), preprocessing.MaxAbsScaler(),
                               linear_model.Ridge()).fit(X, yr)
    case("pipe_std_maxabs_ridge", m, R, m.predict(R), "predict", scale=lin_scale(m, R))
    # pipelines before trees: thresholds mapped back onto the raw features; leaves as sklearn
    # reaches them for the float32 rows lm_predict_leaf is given
    def pipe_leaves(m, Rows):
        Z = m[:-1].transform(Rows.astype(np.float32).astype(np.float64))
        last = m[-1]
        return last.apply(Z.astype(np.float32)).reshape(len(Rows), -1)

    m = pipeline.make_pipeline(preprocessing.StandardScaler(),
                               tree.DecisionTreeClassifier(max_depth=5, random_state=0)).fit(X, y2)
    case("pipe_std_tree", m, R, m.predict_proba(R)[:, 1], "predict_proba[:, 1]",
         leaves=pipe_leaves(m, R))
    m = pipeline.make_pipeline(preprocessing.MinMaxScaler(), preprocessing.StandardScaler(),
                               ensemble.RandomForestRegressor(n_estimators=5, max_depth=5,
                                                              random_state=0)).fit(X, yr)
    case("pipe_minmax_std_rf", m, R, m.predict(R), "predict", leaves=pipe_leaves(m, R))
    m = pipeline.make_pipeline(preprocessing.MaxAbsScaler(),
                               ensemble.GradientBoostingClassifier(n_estimators=6, max_depth=3,
                                                                   random_state=0)).fit(X, y3)
    case("pipe_maxabs_gb3", m, R, m.predict_proba(R), "predict_proba")
    m = pipeline.make_pipeline(preprocessing.StandardScaler(),
                               ensemble.HistGradientBoostingRegressor(max_iter=8,
                                                                      random_state=0)).fit(Xn, yrn)
    case("pipe_std_hgb", m, Rn, m.predict(Rn), "predict")
    # IsolationForest: lmrt gives score_samples (decision_function = score_samples - offset_);
    # leaves: every tree's apply() on the features it was bagged on
    def iso_leaves(m, Rows):
        Z = Rows.astype(np.float32)
        sub = m._max_features != Rows.shape[1]
        return np.stack([e.apply(Z[:, f] if sub else Z)
                         for e, f in zip(m.estimators_, m.estimators_features_)], axis=1)

    out = X[:8] * np.array([4, 3, 5, 2, -3, 6])       # outliers: short paths
    m = ensemble.IsolationForest(n_estimators=5, random_state=0).fit(X)
    RT = np.vstack([R, out, thr_rows(m, X[8])])
    case("iforest", m, RT, m.score_samples(RT), "score_samples", leaves=iso_leaves(m, RT))
    m = ensemble.IsolationForest(n_estimators=20, max_samples=50, max_features=0.5,
                                 random_state=1).fit(X)
    RT = np.vstack([R, out])
    case("iforest_features", m, RT, m.score_samples(RT), "score_samples (max_features 0.5)",
         leaves=iso_leaves(m, RT))
    m = ensemble.IsolationForest(n_estimators=9, max_samples=1.0, contamination=0.1,
                                 bootstrap=True, random_state=2).fit(X)
    case("iforest_xz", m, RT, m.score_samples(RT), "score_samples (bootstrap, xz)",
         compress="xz", leaves=iso_leaves(m, RT))
    m = pipeline.make_pipeline(preprocessing.StandardScaler(),
                               ensemble.IsolationForest(n_estimators=6, random_state=3)).fit(X)
    case("pipe_std_iforest", m, RT, m.score_samples(RT), "score_samples")


def generate_bad(out_dir):
    """bad/<name>.pkl: real estimators whose pickled state is altered on the way out (a custom
    Pickler's reducer_override), one fault each; tests/test_pickle.c expects each refused with
    the field and byte offset named."""
    import os
    import pickle
    from sklearn.tree._tree import Tree

    X = np.random.RandomState(9).normal(size=(200, 4))
    y = (X[:, 0] + X[:, 1] * X[:, 2] > 0).astype(int)
    dt = tree.DecisionTreeClassifier(max_depth=4, random_state=0).fit(X, y)
    assert dt.tree_.node_count >= 9 and dt.tree_.children_left[1] > 0
    d = os.path.join(out_dir, "bad")
    os.makedirs(d, exist_ok=True)

    def write(name, obj, mutate_tree=None, mutate_state=None):
        class P(pickle.Pickler):
            def reducer_override(self, o):
                if mutate_tree and isinstance(o, Tree):
                    cls, args, state = o.__reduce__()
                    state = dict(state)
                    state["nodes"] = state["nodes"].copy()
                    mutate_tree(state)
                    return cls, args, state
                return NotImplemented
        o = obj
        if mutate_state:
            import copy
            o = copy.copy(obj)
            mutate_state(o.__dict__)
        with open(os.path.join(d, name + ".pkl"), "wb") as f:
            P(f, protocol=4).dump(o)

    def child(s):
        s["nodes"]["left_child"][0] = 999
    def feat(s):
        s["nodes"]["feature"][0] = 77
    def thr(s):
        s["nodes"]["threshold"][0] = np.nan
    def cycle(s):
        s["nodes"]["right_child"][1] = 1 if s["nodes"]["left_child"][1] != 1 else 2
    def shared(s):
        n = s["nodes"]
        r0 = n["right_child"][0]
        n["left_child"][r0], n["right_child"][r0] = n["left_child"][1], n["right_child"][1]
    def vals(s):
        s["values"] = s["values"][:, :, :1].copy()
    def count(s):
        s["node_count"] = s["node_count"] + 1
    write("tree_child_range", dt, mutate_tree=child)
    write("tree_feature_range", dt, mutate_tree=feat)
    write("tree_nan_threshold", dt, mutate_tree=thr)
    write("tree_self_loop", dt, mutate_tree=cycle)
    write("tree_shared_child", dt, mutate_tree=shared)
    write("tree_values_classes", dt, mutate_tree=vals)
    write("tree_node_count", dt, mutate_tree=count)
    write("no_n_features", dt, mutate_state=lambda s: s.pop("n_features_in_"))
    write("one_class", dt, mutate_state=lambda s: s.update(n_classes_=1))
    rf = ensemble.RandomForestClassifier(n_estimators=2, max_depth=2, random_state=0).fit(X, y)
    write("forest_not_fitted", rf, mutate_state=lambda s: s.pop("estimators_"))
    # one tree referenced 20000 times (2-byte memo GETs): must not cost 20000 trees of memory
    write("forest_shared_tree", rf, mutate_state=lambda s: s.update(
        estimators_=[s["estimators_"][0]] * 20000, n_estimators=20000))
    lr = linear_model.LogisticRegression().fit(X, y)
    write("linear_coef_width", lr, mutate_state=lambda s: s.update(coef_=s["coef_"][:, :3].copy()))
    write("linear_coef_inf", lr, mutate_state=lambda s: s.update(coef_=s["coef_"] * np.inf))
    write("linear_multi_class", lr, mutate_state=lambda s: s.update(multi_class="crammer"))
    gb = ensemble.GradientBoostingClassifier(n_estimators=2, max_depth=2, random_state=0).fit(X, y)
    write("gb_init_estimator", gb, mutate_state=lambda s: s.update(init_=lr))
    write("gb_estimators_shape", gb, mutate_state=lambda s: s.update(
        estimators_=np.concatenate([s["estimators_"], s["estimators_"]], axis=1)))
    p = pipeline.make_pipeline(preprocessing.PolynomialFeatures(), linear_model.Ridge()).fit(X, y)
    write("pipeline_other_step", p)
    # categorical HistGradientBoosting: feature 0 holds categories 0-4
    import copy
    Xc = X.copy()
    Xc[:, 0] = np.random.RandomState(10).randint(0, 5, len(X))
    yc = (np.isin(Xc[:, 0], [1, 3]) ^ (X[:, 1] > 0)).astype(int)
    hc = ensemble.HistGradientBoostingClassifier(max_iter=3, categorical_features=[0],
                                                 random_state=0).fit(Xc, yc)
    write("hgb_cat_no_bin_mapper", hc, mutate_state=lambda s: s.pop("_bin_mapper"))

    def bad_category(s):
        bm = copy.copy(s["_bin_mapper"])
        bm.bin_thresholds_ = list(bm.bin_thresholds_)
        bm.bin_thresholds_[0] = np.array([0.0, 1.0, 300.0])
        s["_bin_mapper"] = bm
    write("hgb_cat_category_300", hc, mutate_state=bad_category)
    write("hgb_cat_not_categorical", hc, mutate_state=lambda s: s.update(
        is_categorical_=np.zeros(4, dtype=bool)))
    write("pipeline_scaled_categories", pipeline.make_pipeline(
        preprocessing.StandardScaler(), ensemble.HistGradientBoostingClassifier(
            max_iter=2, categorical_features=[0], random_state=0)).fit(Xc, yc))
