"""Pack prebuilt layer tarballs into one docker-archive that `ctr images import` reads.

No Docker engine or registry is available, so the image manifests and configs
are written here. Layers are stored uncompressed under their diff ID, which is
what the docker-archive format expects; v1 and v2 share both app layers.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import tarfile
from pathlib import Path

PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0
    tar.addfile(info, io.BytesIO(data))


def image_config(diff_ids: list[str], config: dict[str, object], history: list[str]) -> bytes:
    doc = {
        "architecture": "amd64",
        "os": "linux",
        "config": config,
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{d}" for d in diff_ids]},
        "history": [{"created_by": line} for line in history],
    }
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--base", type=Path, required=True, help="root filesystem layer")
    parser.add_argument("--app", type=Path, required=True, help="layer holding /app/app.py")
    parser.add_argument("--pause", type=Path, required=True, help="layer holding /pause")
    parser.add_argument("--name", required=True, help="app image name, e.g. spacelift-app")
    parser.add_argument("--pause-tag", required=True)
    parser.add_argument("versions", nargs="+", help="one tag per APP_VERSION, e.g. v1 v2")
    args = parser.parse_args()

    layers = {path: sha256_file(path) for path in (args.base, args.app, args.pause)}
    app_layers = [layers[args.base], layers[args.app]]
    images: list[tuple[str, list[str], bytes]] = []
    for version in args.versions:
        config = {
            "Env": [PATH_ENV, "PYTHONUNBUFFERED=1", f"APP_VERSION={version}"],
            "Entrypoint": ["python3", "/app/app.py"],
            "Cmd": ["--host", "0.0.0.0", "--port", "5000"],
            "WorkingDir": "/app",
            "ExposedPorts": {"5000/tcp": {}},
            # nobody: the app needs no privilege and listens above 1024.
            "User": "65534:65534",
            "Labels": {
                "org.opencontainers.image.title": args.name,
                "org.opencontainers.image.version": version,
            },
        }
        history = ["debootstrap --variant=minbase bookworm + python3-flask, python3-psycopg2", "COPY app/app.py"]
        images.append((f"{args.name}:{version}", app_layers, image_config(app_layers, config, history)))
    pause_layers = [layers[args.pause]]
    pause_config = {"Entrypoint": ["/pause"], "Env": [PATH_ENV], "User": "65535:65535"}
    images.append(
        (args.pause_tag, pause_layers, image_config(pause_layers, pause_config, ["COPY pause"]))
    )

    manifest = []
    with tarfile.open(args.out, "w", format=tarfile.PAX_FORMAT) as tar:
        for path, diff_id in layers.items():
            tar.add(path, arcname=f"{diff_id}/layer.tar")
        for tag, diff_ids, blob in images:
            config_name = hashlib.sha256(blob).hexdigest() + ".json"
            add_bytes(tar, config_name, blob)
            manifest.append(
                {
                    "Config": config_name,
                    "RepoTags": [tag],
                    "Layers": [f"{d}/layer.tar" for d in diff_ids],
                }
            )
        add_bytes(tar, "manifest.json", json.dumps(manifest, indent=1).encode())


if __name__ == "__main__":
    main()
