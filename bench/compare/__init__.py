"""The operator against other blue/green controllers, on the same local cluster.

Each side runs its controller as a local process against the cluster of
$BLUEGREEN_CLUSTER_DIR, on dedicated KWOK nodes, with the same pod template,
and is measured the same way: spec change to the active Service's selector on
the new revision (from watch events of this process), the controller's peak
RSS and CPU seconds, and the API requests it made (the API server's audit log,
see ``audit.py``). ``argo_rollouts.py`` is the Argo Rollouts side:
``make bench-compare``.

Kept apart from ``bench/``'s own modules, which import the test harness: this
package imports only ``bench.stats`` of the project, so ``mypy --strict
bench/compare`` checks it alone.
"""
