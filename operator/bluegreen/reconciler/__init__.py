"""Observe, decide, act: the loop between kopf handlers and the pure core."""

from bluegreen.reconciler.loop import Reconciler, ReconcilerSettings

__all__ = ["Reconciler", "ReconcilerSettings"]
