"""Demo web app for blue/green releases: one image, two versions.

The version comes from the environment so the same image can play V1 or V2;
an unknown version fails at start-up, before the pod turns ready, so a typo in
a release never serves the wrong text.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Mapping, Sequence

from flask import Flask

MESSAGES: dict[str, str] = {
    "v1": "Spacelift App V1",
    "v2": "Spacelift App V2 🚀",
}
DEFAULT_VERSION = "v1"


class ConfigError(ValueError):
    """The environment asks for something the app cannot serve."""


def resolve_message(env: Mapping[str, str]) -> str:
    """The text served on "/": APP_MESSAGE if set, else the one for APP_VERSION."""
    version = env.get("APP_VERSION", DEFAULT_VERSION).strip().lower() or DEFAULT_VERSION
    if version not in MESSAGES:
        known = ", ".join(sorted(MESSAGES))
        raise ConfigError(f"APP_VERSION={version!r} is not one of: {known}")
    override = env.get("APP_MESSAGE")
    # An empty override is almost certainly a templating slip; keep the default.
    return override if override else MESSAGES[version]


def create_app(env: Mapping[str, str] | None = None) -> Flask:
    """Build the app; raises ConfigError on a bad environment."""
    message = resolve_message(os.environ if env is None else env)
    app = Flask(__name__)

    @app.get("/")
    def index() -> tuple[str, int, dict[str, str]]:
        return message, 200, {"Content-Type": "text/plain; charset=utf-8"}

    @app.get("/healthz")
    def healthz() -> tuple[str, int, dict[str, str]]:
        return "ok", 200, {"Content-Type": "text/plain; charset=utf-8"}

    return app


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Blue/green demo app")
    parser.add_argument("--host", default=os.environ.get("APP_HOST", "0.0.0.0"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("APP_PORT", "5000")))
    args = parser.parse_args(argv)
    try:
        app = create_app()
    except ConfigError as exc:
        parser.exit(2, f"error: {exc}\n")
    # As PID 1 in a container, Python ignores SIGTERM unless a handler is set, and
    # the pod would wait out its whole grace period before SIGKILL.
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(0))
    app.run(host=args.host, port=args.port)


if __name__ == "__main__":
    main()
