"""Agreement checks of check_manifests.py: values that must match across the manifests and the
Dockerfile (ports, paths, probes, drain and grace periods, selectors, names, user ids), and
HPA metrics that lmserve exports (check_agreement, check_hpa_metrics)."""
import os
import re

from manifests_render import configmaps_of, resolve_env

# What lmserve does when a flag is absent (the lmserve contract).
LMSERVE_DEFAULTS = {"--listen": "0.0.0.0:8080", "--drain-seconds": "5", "--shutdown-timeout": "25"}
# Seconds left between lmserve's own hard deadline and the kubelet's SIGKILL.
GRACE_MARGIN = 5
LIVE, READY, METRICS = "/v2/health/live", "/v2/health/ready", "/metrics"


# ---------------------------------------------------------------- agreement

def parse_quantity_cpu(q):
    """CPU quantity -> millicores (int) or None."""
    s = str(q)
    m = re.fullmatch(r"(\d+)(m?)", s) or re.fullmatch(r"(\d+\.\d+)()", s)
    if not m:
        return None
    return int(m.group(1)) if m.group(2) == "m" else round(float(m.group(1)) * 1000)


def flag_values(args):
    """--flag VALUE / --flag=VALUE pairs of an argument list -> dict (last wins), flags list."""
    vals, flags, i = {}, [], 0
    while i < len(args):
        a = str(args[i])
        if a.startswith("--"):
            if "=" in a:
                f, v = a.split("=", 1)
            elif i + 1 < len(args) and not str(args[i + 1]).startswith("--"):
                f, v = a, str(args[i + 1])
                i += 1
            else:
                f, v = a, ""
            vals[f] = v
            flags.append(f)
        i += 1
    return vals, flags


def as_int(rep, where, field, v):
    try:
        return int(str(v))
    except ValueError:
        rep.error(where, field, f"{v!r} is not an integer")
        return None


def check_agreement(rep, objs, docker):
    by_kind = {}
    for o in objs:
        by_kind.setdefault(o.doc.get("kind"), []).append(o)
    deps = by_kind.get("Deployment", [])
    if len(deps) != 1:
        rep.error("deploy/k8s", "", f"expected one Deployment, found {len(deps)}")
        return []
    dep = deps[0]
    src = dep.source
    d = dep.doc
    spec = d.get("spec") or {}
    tmpl = spec.get("template") or {}
    pod = tmpl.get("spec") or {}
    P = "spec.template.spec"
    labels = (tmpl.get("metadata") or {}).get("labels") or {}
    annotations = (tmpl.get("metadata") or {}).get("annotations") or {}
    containers = pod.get("containers") or []
    inits = pod.get("initContainers") or []
    volumes = {v.get("name"): v for v in pod.get("volumes") or []}
    flags_used = []

    def cpath(c, i, init=False):
        return f"{P}.{'initContainers' if init else 'containers'}[{i}]({c.get('name')})"

    main = [c for c in containers if c.get("name") == "lmserve"]
    if len(main) != 1:
        rep.error(src, f"{P}.containers", "needs exactly one container named lmserve")
        return flags_used
    mi = containers.index(main[0])
    main = main[0]
    mp = cpath(main, mi)

    # --- lmserve arguments (after the image's ENTRYPOINT)
    if main.get("command"):
        rep.error(src, f"{mp}.command", "must not override the image's ENTRYPOINT (lmserve); use args")
    args = main.get("args") or []
    vals, flags = flag_values(args)
    flags_used += flags
    listen = vals.get("--listen", LMSERVE_DEFAULTS["--listen"])
    m = re.fullmatch(r"(.*):(\d+)", listen)
    listen_port = int(m.group(2)) if m else None
    if listen_port is None:
        rep.error(src, f"{mp}.args(--listen)", f"{listen!r} is not HOST:PORT")
    models_dir = vals.get("--models")
    if not models_dir:
        rep.error(src, f"{mp}.args", "--models DIR is required")
    drain = as_int(rep, src, f"{mp}.args(--drain-seconds)",
                   vals.get("--drain-seconds", LMSERVE_DEFAULTS["--drain-seconds"]))
    shutdown = as_int(rep, src, f"{mp}.args(--shutdown-timeout)",
                      vals.get("--shutdown-timeout", LMSERVE_DEFAULTS["--shutdown-timeout"]))

    # --- ports
    ports = main.get("ports") or []
    http = [p for p in ports if p.get("name") == "http"]
    if len(http) != 1:
        rep.error(src, f"{mp}.ports", "needs one port named http")
        http_port = None
    else:
        http_port = http[0].get("containerPort")
        if listen_port is not None and http_port != listen_port:
            rep.error(src, f"{mp}.ports[http].containerPort",
                      f"{http_port} but lmserve --listen {listen} listens on {listen_port}")

    def port_ok(p):
        return p == "http" or (http_port is not None and p == http_port)

    # --- probes
    want = {"startupProbe": LIVE, "livenessProbe": LIVE, "readinessProbe": READY}
    for probe, path in want.items():
        pr = main.get(probe)
        if not pr:
            rep.error(src, f"{mp}.{probe}", f"missing (expected httpGet {path})")
            continue
        hg = pr.get("httpGet")
        if not hg:
            rep.error(src, f"{mp}.{probe}.httpGet", f"must be an HTTP GET of {path}")
            continue
        if hg.get("path") != path:
            rep.error(src, f"{mp}.{probe}.httpGet.path", f"{hg.get('path')!r}, expected {path}")
        if not port_ok(hg.get("port")):
            rep.error(src, f"{mp}.{probe}.httpGet.port",
                      f"{hg.get('port')!r} is not the http port ({http_port})")

    # --- scrape annotations
    if annotations.get("prometheus.io/scrape") != "true":
        rep.error(src, f"{P[:-5]}.metadata.annotations[prometheus.io/scrape]", "must be \"true\"")
    sp = annotations.get("prometheus.io/port")
    if http_port is not None and str(sp) != str(http_port):
        rep.error(src, f"{P[:-5]}.metadata.annotations[prometheus.io/port]",
                  f"{sp!r} but lmserve serves /metrics on {http_port}")
    if annotations.get("prometheus.io/path", METRICS) != METRICS:
        rep.error(src, f"{P[:-5]}.metadata.annotations[prometheus.io/path]",
                  f"{annotations.get('prometheus.io/path')!r}, expected {METRICS}")

    # --- termination: preStop pause, drain, hard deadline, grace period
    pre = ((main.get("lifecycle") or {}).get("preStop")) or {}
    pre_s = None
    if "sleep" in pre:
        pre_s = (pre["sleep"] or {}).get("seconds")
    elif "exec" in pre:
        cmd = (pre["exec"] or {}).get("command") or []
        if len(cmd) == 2 and os.path.basename(str(cmd[0])) == "sleep":
            pre_s = as_int(rep, src, f"{mp}.lifecycle.preStop.exec.command", cmd[1])
        elif len(cmd) == 3 and cmd[1] == "-c":
            mm = re.fullmatch(r"\s*(?:exec\s+)?(?:/bin/)?sleep\s+(\d+)\s*", str(cmd[2]))
            pre_s = int(mm.group(1)) if mm else None
    if pre_s is None:
        rep.error(src, f"{mp}.lifecycle.preStop",
                  "needs a pause (sleep.seconds or exec [sleep, N]) so endpoints are removed "
                  "before lmserve starts draining")
        pre_s = 0
    grace = pod.get("terminationGracePeriodSeconds", 30)
    if drain is not None and shutdown is not None:
        if shutdown < drain:
            rep.error(src, f"{mp}.args(--shutdown-timeout)",
                      f"{shutdown}s is shorter than --drain-seconds {drain}s")
        need = pre_s + max(drain, shutdown) + GRACE_MARGIN
        if not isinstance(grace, int) or grace < need:
            rep.error(src, f"{P}.terminationGracePeriodSeconds",
                      f"{grace}s < preStop {pre_s}s + max(--drain-seconds {drain}, "
                      f"--shutdown-timeout {shutdown})s + margin {GRACE_MARGIN}s = {need}s: "
                      f"the kubelet would kill lmserve while it drains")

    # --- volumes and the model path
    for c_i, c, init in [(i, c, False) for i, c in enumerate(containers)] + \
                        [(i, c, True) for i, c in enumerate(inits)]:
        for j, vm in enumerate(c.get("volumeMounts") or []):
            if vm.get("name") not in volumes:
                rep.error(src, f"{cpath(c, c_i, init)}.volumeMounts[{j}].name",
                          f"{vm.get('name')!r} is not a volume of the pod")

    def mount_of(c, path):
        for vm in c.get("volumeMounts") or []:
            if vm.get("mountPath") == path:
                return vm.get("name")
        return None

    models_vol = mount_of(main, models_dir) if models_dir else None
    if models_dir and not models_vol:
        rep.error(src, f"{mp}.volumeMounts", f"nothing is mounted at --models {models_dir}")
    conv = [(i, c) for i, c in enumerate(inits) if c.get("name") == "convert-models"]
    fetch = [(i, c) for i, c in enumerate(inits) if c.get("name") == "fetch-models"]
    if not conv or not fetch:
        rep.error(src, f"{P}.initContainers", "needs fetch-models and convert-models")
    else:
        ci, cc = conv[0]
        fi, fc = fetch[0]
        cms_all = configmaps_of(objs)
        cenv = resolve_env(cc, cms_all)
        fenv = resolve_env(fc, cms_all)
        out_dir = cenv.get("MODELS_DIR", "/models")
        if out_dir != models_dir:
            rep.error(src, f"{cpath(cc, ci, True)}.env[MODELS_DIR]",
                      f"{out_dir!r} but lmserve --models is {models_dir!r}")
        if models_vol and mount_of(cc, out_dir) != models_vol:
            rep.error(src, f"{cpath(cc, ci, True)}.volumeMounts",
                      f"volume {models_vol!r} (lmserve's {models_dir}) is not mounted at {out_dir}")
        wdir_f, wdir_c = fenv.get("WORK_DIR", "/work"), cenv.get("WORK_DIR", "/work")
        wf, wc = mount_of(fc, wdir_f), mount_of(cc, wdir_c)
        if not wf or wf != wc:
            rep.error(src, f"{cpath(cc, ci, True)}.volumeMounts",
                      f"fetch-models writes {wdir_f} (volume {wf!r}) but convert-models reads "
                      f"{wdir_c} (volume {wc!r})")
        if fenv.get("LMSERVE_MODELS") != cenv.get("LMSERVE_MODELS"):
            rep.error(src, f"{cpath(cc, ci, True)}.env[LMSERVE_MODELS]",
                      "differs from fetch-models' LMSERVE_MODELS")
        for e in (fenv.get("LMSERVE_MODELS") or "").split():
            mm = re.fullmatch(r"([A-Za-z0-9_.-]+)=s3://[^/]+/.+", e)
            if not mm:
                rep.error(src, f"{cpath(fc, fi, True)}.env[LMSERVE_MODELS]",
                          f"{e!r} is not name=s3://bucket/key")

    # --- scripts from the ConfigMap
    cms = {o.key[1]: o for o in by_kind.get("ConfigMap", [])}
    for vname, vol in volumes.items():
        if "configMap" in vol:
            cmname = vol["configMap"].get("name")
            if cmname not in cms:
                rep.error(src, f"{P}.volumes[{vname}].configMap.name", f"no ConfigMap {cmname!r}")
                continue
            data = cms[cmname].doc.get("data") or {}
            for c_i, c, init in [(i, c, False) for i, c in enumerate(containers)] + \
                                [(i, c, True) for i, c in enumerate(inits)]:
                mnt = [vm.get("mountPath") for vm in c.get("volumeMounts") or [] if vm.get("name") == vname]
                for a in (c.get("command") or []) + (c.get("args") or []):
                    for mpth in mnt:
                        if str(a).startswith(mpth + "/") and str(a)[len(mpth) + 1:] not in data:
                            rep.error(src, f"{cpath(c, c_i, init)}.command",
                                      f"{a} is not a key of ConfigMap {cmname}")

    # --- Guaranteed QoS, exclusive CPUs
    for c_i, c, init in [(i, c, False) for i, c in enumerate(containers)] + \
                        [(i, c, True) for i, c in enumerate(inits)]:
        res = c.get("resources") or {}
        req, lim = res.get("requests") or {}, res.get("limits") or {}
        for r in ("cpu", "memory"):
            if r not in lim or str(req.get(r, lim.get(r))) != str(lim[r]):
                rep.error(src, f"{cpath(c, c_i, init)}.resources",
                          f"{r}: requests {req.get(r)!r} and limits {lim.get(r)!r} must be set "
                          "and equal (Guaranteed QoS)")
    mcpu = parse_quantity_cpu(((main.get("resources") or {}).get("limits") or {}).get("cpu", ""))
    if mcpu is None or mcpu % 1000 or mcpu == 0:
        rep.error(src, f"{mp}.resources.limits.cpu",
                  "must be a whole number of CPUs (the static CPU manager pins only integer requests)")

    # --- security: non-root user matching the image, read-only root filesystem
    psc = pod.get("securityContext") or {}
    if psc.get("runAsNonRoot") is not True:
        rep.error(src, f"{P}.securityContext.runAsNonRoot", "must be true")
    uid = psc.get("runAsUser")
    if docker.get("user_uid") is not None and uid != docker["user_uid"]:
        rep.error(src, f"{P}.securityContext.runAsUser",
                  f"{uid!r} but deploy/Dockerfile runs as USER {docker['user_uid']}")
    for c_i, c, init in [(i, c, False) for i, c in enumerate(containers)] + \
                        [(i, c, True) for i, c in enumerate(inits)]:
        sc = c.get("securityContext") or {}
        if sc.get("readOnlyRootFilesystem") is not True:
            rep.error(src, f"{cpath(c, c_i, init)}.securityContext.readOnlyRootFilesystem", "must be true")
        if sc.get("allowPrivilegeEscalation") is not False:
            rep.error(src, f"{cpath(c, c_i, init)}.securityContext.allowPrivilegeEscalation", "must be false")

    # --- Dockerfile against the Deployment
    if docker.get("expose") and http_port is not None and http_port not in docker["expose"]:
        rep.error("deploy/Dockerfile", "EXPOSE", f"{docker['expose']} but the pod serves on {http_port}")
    if docker.get("cmd_models") and models_dir and docker["cmd_models"] != models_dir:
        rep.error("deploy/Dockerfile", "CMD --models", f"{docker['cmd_models']} but the pod uses {models_dir}")
    if docker.get("cmd_port") and http_port is not None and docker["cmd_port"] != http_port:
        rep.error("deploy/Dockerfile", "CMD --listen", f"port {docker['cmd_port']} but the pod uses {http_port}")
    flags_used += docker.get("cmd_flags", [])

    # --- selectors and names
    sel = (spec.get("selector") or {}).get("matchLabels") or {}
    for k_, v_ in sel.items():
        if labels.get(k_) != v_:
            rep.error(src, "spec.selector.matchLabels", f"{k_}={v_} is not a label of the pod template")
    sa = pod.get("serviceAccountName")
    sas = {o.key[1]: o for o in by_kind.get("ServiceAccount", [])}
    if sa not in sas:
        rep.error(src, f"{P}.serviceAccountName", f"{sa!r} is not a ServiceAccount of the kustomization")
    elif "eks.amazonaws.com/role-arn" not in ((sas[sa].doc.get("metadata") or {}).get("annotations") or {}):
        rep.error(sas[sa].source, "metadata.annotations[eks.amazonaws.com/role-arn]",
                  "missing: the initContainer needs IRSA credentials for S3")

    dname = (d.get("metadata") or {}).get("name")
    svcs = by_kind.get("Service", [])
    if not svcs:
        rep.error("deploy/k8s", "", "no Service")
    for s in svcs:
        ss = s.doc.get("spec") or {}
        ssel = ss.get("selector") or {}
        if not ssel or any(labels.get(k_) != v_ for k_, v_ in ssel.items()):
            rep.error(s.source, "spec.selector", f"{ssel} does not select the lmserve pods ({labels})")
        for j, p in enumerate(ss.get("ports") or []):
            if not port_ok(p.get("targetPort", p.get("port"))):
                rep.error(s.source, f"spec.ports[{j}].targetPort",
                          f"{p.get('targetPort')!r} is neither the container port name http nor {http_port}")
    hpas = by_kind.get("HorizontalPodAutoscaler", [])
    if not hpas:
        rep.error("deploy/k8s", "", "no HorizontalPodAutoscaler")
    for h in hpas:
        hs = h.doc.get("spec") or {}
        ref = hs.get("scaleTargetRef") or {}
        if (ref.get("apiVersion"), ref.get("kind"), ref.get("name")) != ("apps/v1", "Deployment", dname):
            rep.error(h.source, "spec.scaleTargetRef",
                      f"{ref.get('apiVersion')}/{ref.get('kind')}/{ref.get('name')} is not "
                      f"apps/v1/Deployment/{dname}")
        if isinstance(hs.get("minReplicas", 1), int) and isinstance(hs.get("maxReplicas"), int) \
                and hs.get("minReplicas", 1) > hs["maxReplicas"]:
            rep.error(h.source, "spec.minReplicas", "exceeds maxReplicas")
    check_hpa_metrics(rep, objs, rep.root)
    pdbs = by_kind.get("PodDisruptionBudget", [])
    if not pdbs:
        rep.error("deploy/k8s", "", "no PodDisruptionBudget")
    for b in pdbs:
        bsel = ((b.doc.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        if not bsel or any(labels.get(k_) != v_ for k_, v_ in bsel.items()):
            rep.error(b.source, "spec.selector.matchLabels", f"{bsel} does not select the lmserve pods ({labels})")
    strat = (spec.get("strategy") or {}).get("rollingUpdate") or {}
    if str(strat.get("maxUnavailable", "25%")) not in ("0", "0%"):
        rep.error(src, "spec.strategy.rollingUpdate.maxUnavailable",
                  f"{strat.get('maxUnavailable')!r}: must be 0 so a rollout never lowers capacity")
    return flags_used


def lmserve_metric_names(root):
    p = os.path.join(root, "server", "metrics.c")
    if not os.path.exists(p):
        return None
    with open(p, encoding="utf-8") as fh:
        return set(re.findall(r"\blmserve_[a-z_]+", fh.read()))


def check_hpa_metrics(rep, objs, root):
    exported = lmserve_metric_names(root)
    for h in [o for o in objs if o.doc.get("kind") == "HorizontalPodAutoscaler"]:
        ms = (h.doc.get("spec") or {}).get("metrics") or []
        if not ms:
            rep.error(h.source, "spec.metrics", "none: the default is CPU, a poor signal for busy-polling lmserve")
        for j, m in enumerate(ms):
            if m.get("type") in ("Resource", "ContainerResource") and \
                    (m.get("resource") or m.get("containerResource") or {}).get("name") == "cpu":
                rep.error(h.source, f"spec.metrics[{j}]", "CPU: lmserve's event loops busy-poll, so pinned cores read "
                                                          "near 100% at any load; scale on in-flight requests or request rate")
            name = ((m.get("pods") or m.get("object") or {}).get("metric") or {}).get("name")
            if name and exported is not None:
                base = name[:-len("_per_second")] + "_total" if name.endswith("_per_second") else name
                if name not in exported and base not in exported:
                    rep.error(h.source, f"spec.metrics[{j}].pods.metric.name",
                              f"{name!r} is not derived from a metric that lmserve exports (server/metrics.c)")
