# bluegreen-operator: every developer and CI entry point. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= .venv
PY := $(VENV)/bin/python
export BLUEGREEN_CLUSTER_DIR ?= $(CURDIR)/.cluster

##@ General
help: ## List every target with one line each
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z0-9_-]+:.*##/ {printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2} /^##@/ {printf "\n\033[1m%s\033[0m\n", substr($$0, 5)}' $(MAKEFILE_LIST)

##@ Set-up
deps: ## Install the Debian packages the scripts need (only what is missing)
	hack/install-system-deps.sh

venv: $(VENV)/.installed ## Create the Python virtual environment with the project and its dev tools
$(VENV)/.installed: pyproject.toml
	hack/install-system-deps.sh
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

toolchain: deps ## Build and cache etcd, Kubernetes, kwok, Terraform and the provider mirror (no-op when cached)
	hack/build-toolchain.sh

##@ Local cluster
cluster: toolchain ## Start the local control plane with KWOK nodes; kubeconfig in .cluster/kubeconfig
	hack/cluster-up.sh

cluster-down: ## Stop exactly the processes `make cluster` started and remove its state
	hack/cluster-down.sh

node: cluster ## Add the real node (kubelet, containerd, kube-proxy) and the app images
	hack/images/build-app-images.sh
	hack/node/node-up.sh

node-down: ## Stop the real node only
	hack/node/node-down.sh

prometheus: cluster ## Start Prometheus for the local cluster on 127.0.0.1:9190 (pods by Kubernetes SD, the operator's /metrics)
	hack/prometheus-up.sh

prometheus-down: ## Stop the local cluster's Prometheus only
	hack/prometheus-down.sh

e2e: venv toolchain ## End-to-end tests on the real node (live traffic through the switch; the operator installed from its image)
	BLUEGREEN_REAL_NODE=1 BLUEGREEN_IMAGE_TESTS=1 $(VENV)/bin/pytest tests/e2e

chaos: venv toolchain ## Every fault in every phase, 100 live-traffic releases (tests/chaos; `make test`: the short form)
	BLUEGREEN_CHAOS=full BLUEGREEN_REAL_NODE=1 hack/run-tests.sh tests/chaos

##@ Images and install
image: deps ## Build the operator and demo app images with buildah (no Docker engine) and push them to the local registry
	hack/images/build-images.sh

registry: ## Start the local OCI registry on 127.0.0.1:5001 (`make image` starts it too)
	hack/registry/registry-up.sh

registry-down: ## Stop the local registry (its images stay in the cache folder)
	hack/registry/registry-down.sh

deploy: node image ## Install the operator as users do, kubectl apply -k deploy/local/: pods on the real node, image from the registry
	hack/deploy-local.sh

undeploy: ## Uninstall in the documented order: every release (the operator finalizes it), then kubectl delete -k
	hack/undeploy-local.sh

release: ## Write dist/<version>/install.yaml (kustomize output of manifests/) and the CRD, for kubectl apply -f
	hack/release.sh

##@ Generate
manifests: venv ## Write the CRD (crds/, manifests/crd/) and health.lua's names from operator/bluegreen/api
	$(PY) -m bluegreen.api.manifests

##@ Quality
lint: venv ## ruff, mypy --strict, import layers, generated files current, Terraform fmt/validate, hadolint
	$(VENV)/bin/ruff check operator tests bench app
	$(VENV)/bin/ruff format --check operator tests bench app
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	$(PY) -m bluegreen.api.manifests --check
	hack/lint-terraform.sh
	hack/lint-dockerfiles.sh

unit: venv ## Unit tests only (no cluster)
	$(VENV)/bin/pytest tests/unit app/tests

test: venv toolchain lint ## Everything: lint, unit, integration on the local cluster (started if needed)
	hack/run-tests.sh

bench: venv toolchain ## Benchmarks on the local cluster; results in BENCHMARKS.md
	hack/run-bench.sh

bench-compare: venv cluster ## Build Argo Rollouts v1.10.1, measure N blue/green Rollouts switching on the local cluster (BENCH_COMPARE_RELEASES=100)
	bench/compare/build-argo-rollouts.sh
	$(PY) -m bench.compare.argo_rollouts --releases $${BENCH_COMPARE_RELEASES:-100}
	$(PY) -m bench.scale --releases $${BENCH_COMPARE_RELEASES:-100} --replicas 1

bench-article: venv toolchain ## The blue/green article's four Terraform applies against one BlueGreenRelease, under load on the real node (`make node` first)
	$(PY) -m bench.article_flow

bench-scale-report: venv ## Rewrite only BENCHMARKS.md's Scale section from bench/results (scale, Argo Rollouts, article flow)
	$(PY) -m bench.scale_report --results bench/results --write BENCHMARKS.md

##@ Run
demo: venv toolchain ## A full blue/green release (v1 then v2) on the local cluster; USE_CURRENT_CONTEXT=1 for yours, IN_CLUSTER=1 with the operator installed from its image
	hack/demo.sh

run: venv ## Run the operator locally against the cluster your KUBECONFIG names
	$(VENV)/bin/bluegreen-operator

.PHONY: help deps venv toolchain cluster cluster-down node node-down prometheus prometheus-down e2e chaos image registry registry-down deploy undeploy release manifests lint unit test bench bench-compare bench-article bench-scale-report demo run
