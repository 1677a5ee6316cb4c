"""``bluegreen-operator``: run the operator (kopf) with metrics and a liveness probe."""

from __future__ import annotations

import asyncio
import logging
import sys

import kopf

from bluegreen.adapters.metrics import Metrics
from bluegreen.config import parse_config


def main(argv: list[str] | None = None) -> int:
    config = parse_config(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # kopf reports every successful watch-event handler at INFO: far too chatty for
    # an operator that wakes on each pod change. Our own warnings still show.
    logging.getLogger("kopf.objects").setLevel(logging.INFO if config.verbose else logging.WARNING)
    import bluegreen.handlers  # noqa: F401  # registers the handlers with kopf

    metrics = Metrics()
    metrics.serve(config.metrics_port)
    memo = kopf.Memo(config=config, metrics=metrics)
    asyncio.run(
        kopf.operator(
            standalone=True,
            clusterwide=not config.namespaces,
            namespaces=list(config.namespaces),
            liveness_endpoint=f"http://0.0.0.0:{config.liveness_port}/healthz",
            memo=memo,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
