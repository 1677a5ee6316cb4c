# syntax=docker/dockerfile:1
# bluegreen-operator image:
#   docker build -t bluegreen-operator .
# Runs as uid 65532 with a read-only root filesystem; it writes only under /tmp,
# which the Deployment mounts as an emptyDir.
#
# The base images are build arguments whose defaults are the official images;
# `make image` builds the same file with buildah against bases assembled
# locally (hack/images/build-base-images.sh), for machines that cannot pull.
ARG GO_IMAGE=golang:1.26.8-bookworm
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---------------------------------------------------------------------------
# Terraform and the hashicorp/kubernetes provider, built from Go modules.
# Versions come from hack/versions.env, the same file hack/build-toolchain.sh
# reads, and the build flags match that script's. Go builds are reproducible,
# so the provider here is byte-identical to the one terraform/.terraform.lock.hcl
# was made against; the Go patch version is pinned for that reason, and the
# `init -lockfile=readonly` below fails the build if that ever stops holding.
FROM ${GO_IMAGE} AS terraform

SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# GOMODCACHE and GOCACHE name the cache mounts below whatever GOPATH the base
# image sets.
ENV CGO_ENABLED=0 \
    GOTOOLCHAIN=local \
    GOFLAGS=-buildvcs=false \
    GOBIN=/opt/terraform/bin \
    GOMODCACHE=/root/go/pkg/mod \
    GOCACHE=/root/.cache/go-build

COPY hack/versions.env /tmp/versions.env
RUN --mount=type=cache,target=/root/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    . /tmp/versions.env \
    && go install -trimpath -ldflags "-s -w" \
        "github.com/hashicorp/terraform@${TERRAFORM_VERSION}" \
    && go install -trimpath -ldflags "-s -w" \
        "github.com/hashicorp/terraform-provider-kubernetes@${TF_PROVIDER_KUBERNETES_MODULE_VERSION}" \
    && provider_dir="/opt/terraform/mirror/registry.terraform.io/hashicorp/kubernetes/${TF_PROVIDER_KUBERNETES_VERSION}/linux_amd64" \
    && mkdir -p "${provider_dir}" \
    && mv /opt/terraform/bin/terraform-provider-kubernetes \
        "${provider_dir}/terraform-provider-kubernetes_v${TF_PROVIDER_KUBERNETES_VERSION}"

# Offline provider installation from the mirror only: nothing is fetched from a
# registry at run time, and no plugin cache is shared between concurrent inits.
# `init` links each working directory's provider to the mirror instead of
# copying it, so one release costs no extra 100 MB in /tmp.
RUN printf '%s\n' \
      'disable_checkpoint = true' \
      'provider_installation {' \
      '  filesystem_mirror {' \
      '    path    = "/opt/terraform/mirror"' \
      '    include = ["registry.terraform.io/*/*"]' \
      '  }' \
      '}' > /opt/terraform/terraformrc

COPY terraform/ /opt/bluegreen/terraform/
ENV TF_CLI_CONFIG_FILE=/opt/terraform/terraformrc \
    TF_IN_AUTOMATION=1 \
    TF_INPUT=0
# Proves the module, its lock file and the mirror agree, in a scratch copy so
# no .terraform/ ends up in the image.
RUN cp -r /opt/bluegreen/terraform /tmp/module-check \
    && /opt/terraform/bin/terraform -chdir=/tmp/module-check init \
        -backend=false -input=false -no-color -lockfile=readonly \
    && /opt/terraform/bin/terraform -chdir=/tmp/module-check validate -no-color \
    && rm -rf /tmp/module-check

# ---------------------------------------------------------------------------
# The operator and its Python dependencies, in a virtual environment that is
# copied whole into the final stage (same base image, so same interpreter path).
FROM ${PYTHON_IMAGE} AS python

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
WORKDIR /src
# The dependencies first, from pyproject.toml alone: a change of the code
# rebuilds only the layer below.
COPY pyproject.toml ./
RUN /opt/venv/bin/python -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))' \
        > /tmp/requirements.txt \
    && /opt/venv/bin/pip install --no-cache-dir -r /tmp/requirements.txt
# README.m[d]: the glob lets the build work before the README exists.
COPY README.m[d] ./
COPY operator/ operator/
RUN /opt/venv/bin/pip install --no-cache-dir --no-deps . \
    && /opt/venv/bin/pip check \
    && /opt/venv/bin/python -c "import bluegreen.main, bluegreen.plugin.cli"

# ---------------------------------------------------------------------------
FROM ${PYTHON_IMAGE}

# A named user makes `ps` and audit logs readable; the id is the usual "nonroot".
RUN groupadd --gid 65532 nonroot \
    && useradd --uid 65532 --gid 65532 --no-create-home --home-dir /tmp \
        --shell /usr/sbin/nologin nonroot

COPY --from=python /opt/venv /opt/venv
COPY --from=terraform /opt/terraform /opt/terraform
COPY --from=terraform /opt/bluegreen/terraform /opt/bluegreen/terraform

# Everything written at run time goes under /tmp (an emptyDir), so the root
# filesystem can be read-only. TF_PLUGIN_CACHE_DIR stays unset on purpose:
# concurrent inits must not share a cache; the read-only mirror is enough.
ENV PATH=/opt/venv/bin:/opt/terraform/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/tmp \
    TMPDIR=/tmp \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TF_CLI_CONFIG_FILE=/opt/terraform/terraformrc \
    TF_IN_AUTOMATION=1 \
    TF_INPUT=0 \
    CHECKPOINT_DISABLE=1 \
    BLUEGREEN_TERRAFORM_MODULE_DIR=/opt/bluegreen/terraform \
    BLUEGREEN_TERRAFORM_WORKDIR=/tmp/bluegreen-tf

USER 65532:65532
WORKDIR /tmp
# 8080: kopf liveness (/healthz); 9090: Prometheus metrics.
EXPOSE 8080 9090
# kopf stops on SIGTERM and lets a running Terraform save state first; the
# pod's terminationGracePeriodSeconds must outlast one apply.
STOPSIGNAL SIGTERM
ENTRYPOINT ["bluegreen-operator"]
