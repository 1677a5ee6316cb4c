"""kopf handlers: thin wiring from watch events to the reconciler."""

from bluegreen.handlers import release, startup

__all__ = ["release", "startup"]
