"""kopf handlers: thin wiring from watch events to the reconciler."""

from bluegreen.handlers import owned, release, startup

__all__ = ["owned", "release", "startup"]
