"""kopf's credentials come from the same place as the operator's own requests.

Without this, kopf would piggyback on a client library (which the operator no
longer loads) or read ``KUBECONFIG`` itself and ignore ``--kubeconfig``.
"""

from __future__ import annotations

import datetime
from typing import Any

import kopf

from bluegreen.adapters.kube_connection import shared_credentials
from bluegreen.config import OperatorConfig


@kopf.on.login()
async def login(memo: kopf.Memo, **_: Any) -> kopf.ConnectionInfo:
    config: OperatorConfig = memo["config"]
    credentials = shared_credentials(config.kubeconfig)
    token = await credentials.bearer()
    return kopf.ConnectionInfo(
        server=credentials.server,
        ca_data=credentials.ca_pem,
        insecure=credentials.insecure,
        token=token,
        certificate_data=credentials.cert_pem,
        private_key_data=credentials.key_pem,
        default_namespace=credentials.default_namespace,
        # kopf logs in again when this passes, and after any 401.
        expiration=_expiration(credentials.token_lifetime()),
    )


def _expiration(seconds: float | None) -> datetime.datetime | None:
    if seconds is None:
        return None
    return datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=seconds)
