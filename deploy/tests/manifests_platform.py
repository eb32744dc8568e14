"""What a platform team expects, checked by check_manifests.py: lmserve first, no API token,
spread over nodes, one model list, hashed ConfigMaps, sidecars that stop on SIGTERM,
converter memory from the model size, PodMonitor, the KServe example (check_pod_platform,
check_cluster_extras)."""
import os
import re

from manifests_agreement import LMSERVE_DEFAULTS, METRICS, flag_values
from manifests_render import configmaps_of, pod_configmap_refs


# lmconvert's peak resident memory per byte of model file (XGBoost JSON or UBJSON) plus a
# constant: the rule for every container that runs lmconvert (docs/deployment.md, "Memory of the
# converters"). Measured (docs/lmconvert.md): peak <= 1.25 x .lm + 24 MiB, and a .lm takes 28
# bytes a node where UBJSON takes 34 and JSON 57 or more: 1.1 x the model file covers both
# (141 MiB for a 280 MB JSON model, 140 MiB for its 169 MB UBJSON).
CONVERT_PEAK_FACTOR = 1.1
CONVERT_CONSTANT_MI = 64
MAX_MODEL_ANNOTATION = "lmrt.dev/max-model-json-size"
DEFAULT_CONTAINER_ANNOTATION = "kubectl.kubernetes.io/default-container"
CONVERT_SCRIPTS = ("convert-models.sh", "reconvert-models.sh", "convert-one.sh")


def parse_quantity_mi(q):
    """Memory quantity -> MiB (float) or None."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?", str(q))
    if not m:
        return None
    mult = {None: 1, "Ki": 1024, "Mi": 1024 ** 2, "Gi": 1024 ** 3, "Ti": 1024 ** 4,
            "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}[m.group(2)]
    return float(m.group(1)) * mult / 1024 ** 2


def script_of(c, pod, cms):
    """(key, text) of the ConfigMap script a container runs with sh, or (None, None)."""
    cmd = [str(x) for x in (c.get("command") or []) + (c.get("args") or [])]
    vols = {v.get("name"): v for v in pod.get("volumes") or []}
    for vm in c.get("volumeMounts") or []:
        v = vols.get(vm.get("name")) or {}
        cm = (v.get("configMap") or {}).get("name")
        for a in cmd:
            if cm in cms and a.startswith(str(vm.get("mountPath")) + "/"):
                key = a[len(vm["mountPath"]) + 1:]
                return key, (cms[cm].doc.get("data") or {}).get(key)
    return None, None


def image_repo_tag(img):
    img = str(img or "")
    if "@" in img:
        return img.split("@", 1)[0], img.split("@", 1)[1]
    last = img.split("/")[-1]
    if ":" in last:
        return img.rsplit(":", 1)[0], img.rsplit(":", 1)[1]
    return img, None


def check_pod_platform(rep, objs, root):
    deps = [o for o in objs if o.doc.get("kind") == "Deployment"]
    if len(deps) != 1:
        return
    src, d = deps[0].source, deps[0].doc
    tmpl = (d.get("spec") or {}).get("template") or {}
    pod = tmpl.get("spec") or {}
    labels = (tmpl.get("metadata") or {}).get("labels") or {}
    ann = (tmpl.get("metadata") or {}).get("annotations") or {}
    P = "spec.template.spec"
    containers, inits = pod.get("containers") or [], pod.get("initContainers") or []
    every = [(f"{P}.containers[{i}]({c.get('name')})", c, False) for i, c in enumerate(containers)] + \
            [(f"{P}.initContainers[{i}]({c.get('name')})", c, True) for i, c in enumerate(inits)]
    cms = configmaps_of(objs)

    # lmserve first: kubectl logs / exec / attach pick the first container.
    if not containers or containers[0].get("name") != "lmserve":
        rep.error(src, f"{P}.containers[0]", f"is {containers[0].get('name') if containers else None!r}: lmserve must "
                                             "be the first container (kubectl logs and exec pick the first one)")
    if ann.get(DEFAULT_CONTAINER_ANNOTATION) != "lmserve":
        rep.error(src, f"spec.template.metadata.annotations[{DEFAULT_CONTAINER_ANNOTATION}]",
                  f"{ann.get(DEFAULT_CONTAINER_ANNOTATION)!r}: must be lmserve")

    # No API token: nothing here calls the Kubernetes API; IRSA brings its own projected token.
    if pod.get("automountServiceAccountToken") is not False:
        rep.error(src, f"{P}.automountServiceAccountToken",
                  f"{pod.get('automountServiceAccountToken')!r}: must be false (no container calls the "
                  "Kubernetes API; IRSA's webhook mounts its own projected web-identity token regardless)")

    # Spread across nodes, hard; every constraint selects the pods.
    tsc = pod.get("topologySpreadConstraints") or []
    host = [t for t in tsc if t.get("topologyKey") == "kubernetes.io/hostname"]
    if not host:
        rep.error(src, f"{P}.topologySpreadConstraints",
                  "no spread across nodes (topologyKey kubernetes.io/hostname): replicas may share a node")
    for t in host:
        if t.get("whenUnsatisfiable") != "DoNotSchedule":
            rep.error(src, f"{P}.topologySpreadConstraints[kubernetes.io/hostname].whenUnsatisfiable",
                      f"{t.get('whenUnsatisfiable')!r}: must be DoNotSchedule (best effort lets replicas pile up on one node)")
    for j, t in enumerate(tsc):
        ml = ((t.get("labelSelector") or {}).get("matchLabels")) or {}
        if not ml or any(labels.get(k) != v for k, v in ml.items()):
            rep.error(src, f"{P}.topologySpreadConstraints[{j}].labelSelector", f"{ml} does not select the pods")

    # One model list, from one generated ConfigMap.
    sources = set()
    for where, c, _ in every:
        for e in c.get("env") or []:
            if e.get("name") != "LMSERVE_MODELS":
                continue
            ref = (e.get("valueFrom") or {}).get("configMapKeyRef")
            if "value" in e or not isinstance(ref, dict):
                rep.error(src, f"{where}.env[LMSERVE_MODELS]",
                          "a literal model list: read it from the generated ConfigMap (valueFrom.configMapKeyRef), "
                          "one source for every container")
            else:
                sources.add((ref.get("name"), ref.get("key")))
    if len(sources) > 1:
        rep.error(src, f"{P}.*.env[LMSERVE_MODELS]", f"containers read different model lists: {sorted(sources)}")

    # Hashed ConfigMaps: every ConfigMap the pod uses is generated, so an edit rolls the pods.
    for dd, key in pod_configmap_refs(d):
        o = cms.get(dd.get(key))
        if o is not None and not (getattr(o, "generated", False) and getattr(o, "hashed", False)):
            rep.error(o.source, f"ConfigMap/{o.key[1]}",
                      "used by the pod but its name has no content hash (generate it with configMapGenerator, "
                      "without disableNameSuffixHash): an edit would not roll the pods")

    # Sidecars: PID 1 of their containers, so they must handle SIGTERM and wait interruptibly.
    for where, c, init in every:
        if init or c.get("name") == "lmserve":
            continue
        key, text = script_of(c, pod, cms)
        if not text:
            continue
        if not re.search(r"^\s*trap\s.*\bTERM\b", text, re.M):
            rep.error(src, f"{where}.command", f"{key} runs as PID 1 without a SIGTERM trap: the kernel "
                                               "ignores SIGTERM for it and a pod deletion waits the whole grace period")
        if re.search(r"^\s*sleep\b", text, re.M):
            rep.error(src, f"{where}.command", f"{key}: a foreground sleep delays the SIGTERM trap until it ends "
                                               "(sleep in the background and wait for it)")

    # Memory of the containers that run lmconvert follows the model size.
    maxsz = ann.get(MAX_MODEL_ANNOTATION)
    max_mi = parse_quantity_mi(maxsz) if maxsz is not None else None
    if max_mi is None:
        rep.error(src, f"spec.template.metadata.annotations[{MAX_MODEL_ANNOTATION}]",
                  f"{maxsz!r}: state the largest JSON model the pod is sized for (e.g. 280Mi)")
    else:
        need = CONVERT_PEAK_FACTOR * max_mi + CONVERT_CONSTANT_MI
        for where, c, _ in every:
            key, _t = script_of(c, pod, cms)
            if c.get("name") != "convert-models" and key not in CONVERT_SCRIPTS:
                continue
            # A large archive member goes to a temporary file in TMPDIR (default /tmp): on a
            # memory-backed volume it would count toward this limit, which the rule leaves out.
            tmpdir = next((e.get("value") for e in c.get("env") or [] if e.get("name") == "TMPDIR"),
                          None) or "/tmp"
            mounts = [m for m in c.get("volumeMounts") or []
                      if tmpdir == m.get("mountPath") or tmpdir.startswith(m.get("mountPath", "").rstrip("/") + "/")]
            mount = max(mounts, key=lambda m: len(m.get("mountPath", "")), default=None)
            vol = next((v for v in pod.get("volumes") or [] if mount and v.get("name") == mount.get("name")), None)
            if vol is None or ((vol.get("emptyDir") or {}).get("medium") == "Memory"):
                rep.error(src, f"{where}.env[TMPDIR]",
                          f"{tmpdir!r} is {'not on a volume' if vol is None else 'a memory-backed emptyDir'}: "
                          "lmconvert's temporary copy of a large archive member belongs on disk "
                          "(docs/deployment.md, Memory of the converters)")
            lim = parse_quantity_mi(((c.get("resources") or {}).get("limits") or {}).get("memory", ""))
            if lim is None or lim < need:
                rep.error(src, f"{where}.resources.limits.memory",
                          f"{((c.get('resources') or {}).get('limits') or {}).get('memory')!r} < "
                          f"{CONVERT_PEAK_FACTOR} x {maxsz} + {CONVERT_CONSTANT_MI}Mi = {need:.0f}Mi: lmconvert "
                          "would be OOM-killed on the largest model")

    # The serving image has no shell: nothing may exec in the lmserve container.
    main = [c for c in containers if c.get("name") == "lmserve"]
    if main and os.path.exists(os.path.join(root, "deploy", "Dockerfile")):
        m = main[0]
        with open(os.path.join(root, "deploy", "Dockerfile"), encoding="utf-8") as fh:
            scratch = re.search(r"^FROM\s+scratch\b(?![\s\S]*^FROM\s)", fh.read(), re.M)
        if scratch:
            for k in ("startupProbe", "livenessProbe", "readinessProbe"):
                if "exec" in (m.get(k) or {}):
                    rep.error(src, f"{P}.containers(lmserve).{k}.exec", "the lmserve image has no shell or tools to exec")
            for k, h in ((m.get("lifecycle") or {}).items()):
                if "exec" in (h or {}):
                    rep.error(src, f"{P}.containers(lmserve).lifecycle.{k}.exec",
                              f"{h['exec'].get('command')}: the lmserve image (FROM scratch) has no shell or "
                              "/bin/sleep: use sleep: {seconds: N}")
        # Converters: the lmconvert image of the same tag as lmserve's (one .lm format).
        repo, tag = image_repo_tag(m.get("image"))
        for where, c, _ in every:
            key, _t = script_of(c, pod, cms)
            if c.get("name") == "convert-models" or key in CONVERT_SCRIPTS:
                crepo, ctag = image_repo_tag(c.get("image"))
                if ctag != tag or not crepo.endswith("/lmconvert"):
                    rep.error(src, f"{where}.image", f"{c.get('image')!r}: converters run the lmconvert image "
                                                     f"of lmserve's tag ({tag}), built from the same Dockerfile")



def check_cluster_extras(rep, all_objs):
    """PodMonitor and the KServe example, against the base Deployment; returns lmserve flags used."""
    flags = []
    base = all_objs.get(os.path.join("deploy", "k8s")) or []
    deps = [o for o in base if o.doc.get("kind") == "Deployment"]
    if not deps:
        return flags
    tmpl = (deps[0].doc.get("spec") or {}).get("template") or {}
    labels = (tmpl.get("metadata") or {}).get("labels") or {}
    main = [c for c in (tmpl.get("spec") or {}).get("containers") or [] if c.get("name") == "lmserve"]
    objs = [o for v in all_objs.values() for o in v]
    pms = [o for o in objs if o.doc.get("kind") == "PodMonitor"]
    if not pms:
        rep.error("deploy/", "PodMonitor", "none: clusters with the Prometheus operator need one (deploy/monitoring)")
    for o in pms:
        sp = o.doc.get("spec") or {}
        ml = (sp.get("selector") or {}).get("matchLabels") or {}
        if not ml or any(labels.get(k) != v for k, v in ml.items()):
            rep.error(o.source, "spec.selector.matchLabels", f"{ml} does not select the lmserve pods ({labels})")
        eps = sp.get("podMetricsEndpoints") or []
        if not any(e.get("port") == "http" and e.get("path", METRICS) == METRICS for e in eps):
            rep.error(o.source, "spec.podMetricsEndpoints", f"no endpoint on port http, path {METRICS}")
    srs = {o.key[1]: o for o in objs if o.doc.get("kind") == "ServingRuntime"}
    isvcs = [o for o in objs if o.doc.get("kind") == "InferenceService"]
    if not srs or not isvcs:
        rep.error("deploy/", "ServingRuntime/InferenceService", "no KServe example (deploy/kserve)")
    for o in srs.values():
        sp = o.doc.get("spec") or {}
        cs = sp.get("containers") or []
        if len(cs) != 1:
            rep.error(o.source, "spec.containers", "one container (kserve-container) expected")
            continue
        c = cs[0]
        vals, fl = flag_values(c.get("args") or [])
        flags += fl
        if vals.get("--models") != "/mnt/models":
            rep.error(o.source, "spec.containers[0].args(--models)", f"{vals.get('--models')!r}: KServe mounts the model at /mnt/models")
        m = re.fullmatch(r".*:(\d+)", vals.get("--listen", LMSERVE_DEFAULTS["--listen"]))
        ports = [p.get("containerPort") for p in c.get("ports") or []]
        if not m or int(m.group(1)) not in ports:
            rep.error(o.source, "spec.containers[0].ports", f"{ports} does not include lmserve's --listen port")
        if "v2" not in (sp.get("protocolVersions") or []):
            rep.error(o.source, "spec.protocolVersions", "lmserve speaks v2")
        if main and image_repo_tag(c.get("image"))[0] != image_repo_tag(main[0].get("image"))[0]:
            rep.error(o.source, "spec.containers[0].image", f"{c.get('image')!r} is not the Deployment's lmserve image")
        sc = c.get("securityContext") or {}
        if sc.get("readOnlyRootFilesystem") is not True or sc.get("runAsNonRoot") is not True:
            rep.error(o.source, "spec.containers[0].securityContext", "readOnlyRootFilesystem and runAsNonRoot must be true")
    for o in isvcs:
        mdl = ((o.doc.get("spec") or {}).get("predictor") or {}).get("model") or {}
        sr = srs.get(mdl.get("runtime"))
        if sr is None:
            rep.error(o.source, "spec.predictor.model.runtime", f"{mdl.get('runtime')!r} is not a ServingRuntime here")
            continue
        fmts = [f.get("name") for f in (sr.doc.get("spec") or {}).get("supportedModelFormats") or []]
        if (mdl.get("modelFormat") or {}).get("name") not in fmts:
            rep.error(o.source, "spec.predictor.model.modelFormat.name", f"not among the runtime's formats {fmts}")
        ann = (o.doc.get("metadata") or {}).get("annotations") or {}
        pred = (o.doc.get("spec") or {}).get("predictor") or {}
        if ann.get("serving.kserve.io/deploymentMode") == "RawDeployment" and \
                ann.get("serving.kserve.io/autoscalerClass") not in ("external", "none"):
            rep.error(o.source, "metadata.annotations[serving.kserve.io/autoscalerClass]",
                      f"{ann.get('serving.kserve.io/autoscalerClass')!r}: KServe would autoscale the predictor on "
                      f"{pred.get('scaleMetric', 'cpu')}, a poor signal for busy-polling lmserve (external or none)")
        if mdl.get("protocolVersion", "v1") not in ((sr.doc.get("spec") or {}).get("protocolVersions") or []):
            rep.error(o.source, "spec.predictor.model.protocolVersion", f"{mdl.get('protocolVersion')!r}: lmserve speaks v2")
    return flags
