"""kopf handlers: thin wiring from watch events to the reconciler."""

from bluegreen.handlers import login, release, startup

__all__ = ["login", "release", "startup"]
