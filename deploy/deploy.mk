# Deployment checks (included by the top Makefile): `make check-deploy`, also run by `make check`
# and so by `make test`. Offline: no Docker, no cluster, no network.
#   - yamllint, a kustomize render (without kubectl), strict JSON Schema validation against the
#     vendored Kubernetes 1.30 schemas, cross-file agreement, Dockerfile lint, shellcheck of the
#     ConfigMap scripts, and lmserve --help flags when $(LMSERVE_BIN) is built;
#   - then every deliberately broken case of deploy/tests/broken_cases.yaml must be rejected for
#     its stated reason;
#   - and the ConfigMap's model-delivery scripts run against a stand-in S3 with the lmconvert and
#     lminfo built here (deploy/tests/test_model_delivery.py);
#   - and, when lmserve is built, lmserve run on loopback with the Deployment's arguments: probe
#     paths, /metrics, readiness false at SIGTERM, drain, exit before the deadline
#     (deploy/tests/test_pod_lifecycle.py; skipped, saying so, without lmserve).
# Regenerate the schemas (needs npm): make k8s-schemas K8S_TYPES_VERSION=1.30.0
#
# make check-image (run by .ci/run after make test; not part of make test): builds the real
# images with podman from a local Debian 12 minbase (apt-get installs podman, runc,
# containernetworking-plugins, iptables, mmdebstrap; podman's configuration and store under
# $(BUILD)/image) and checks them as the pod runs them (deploy/tests/check_image.py), and the
# sagemaker image as SageMaker runs it (`serve`, /opt/ml/model, port 8080;
# deploy/tests/check_image_sagemaker.py: lmscore's values, hence the prerequisites). Skips,
# saying why, when not root or when podman cannot run containers. Cold ≈ 5–8 min, warm ≈ 2.5 min.

DEBS += yamllint python3-yaml python3-jsonschema shellcheck

DEPLOY_PY ?= PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3
K8S_TYPES_VERSION ?= 1.30.0

.PHONY: check-deploy check-image k8s-schemas
check: check-deploy

check-deploy: $(BUILD)/bin/lmconvert $(BUILD)/bin/lminfo $(if $(LMSERVE_BIN),$(LMSERVE_BIN))
	@LMSERVE_BIN="$(if $(LMSERVE_BIN),$(abspath $(LMSERVE_BIN)))" $(DEPLOY_PY) deploy/tests/check_manifests.py --bin $(BUILD)/bin
	@if command -v shellcheck >/dev/null; then shellcheck deploy/sagemaker/serve && echo "shellcheck deploy/sagemaker/serve: ok"; fi
	@$(DEPLOY_PY) deploy/tests/test_broken.py $(BUILD)/bin
	@$(DEPLOY_PY) deploy/tests/test_model_delivery.py $(BUILD)/bin
	@$(DEPLOY_PY) deploy/tests/test_pod_lifecycle.py "$(LMSERVE_BIN)" $(BUILD)/bin

check-image: $(BUILD)/bin/lmconvert $(BUILD)/bin/lmscore
	@BUILD=$(BUILD) $(DEPLOY_PY) deploy/tests/check_image.py

k8s-schemas:
	@d=$$(mktemp -d) && cd $$d && npm pack -q kubernetes-types@$(K8S_TYPES_VERSION) >/dev/null && \
	  mkdir kt && tar xzf kubernetes-types-$(K8S_TYPES_VERSION).tgz -C kt && cd $(CURDIR) && \
	  $(DEPLOY_PY) deploy/tools/gen_k8s_schemas.py $$d/kt/package > deploy/schemas/k8s-$(K8S_TYPES_VERSION:%.0=%).json && \
	  rm -rf $$d && echo "k8s-schemas: deploy/schemas/k8s-$(K8S_TYPES_VERSION:%.0=%).json"
