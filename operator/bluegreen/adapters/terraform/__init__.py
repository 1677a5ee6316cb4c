"""The Terraform adapter: ``TerraformInfrastructure`` applies the bundled module per release.

Modules, from the port down:

- ``infrastructure``: the port's three operations as sequences of commands,
  and their scheduling (one run per release, a global concurrency limit);
- ``services``: Services that exist before Terraform knows them;
- ``locks``: the state lock (read from its Lease) and stale-lock recovery;
- ``session``: one operation's commands in a release's working directory;
- ``commands``: the command lines (the only user of python-terraform);
- ``process``: asyncio subprocesses under a deadline, stopped as a group;
- ``diagnostics``, ``json_documents``: what Terraform's output says;
- ``workdir``, ``module``, ``redaction``, ``cluster``: files, the module's
  source, secrets in messages, and the state Secrets in the cluster.
"""

from bluegreen.adapters.terraform.infrastructure import TerraformInfrastructure

__all__ = ["TerraformInfrastructure"]
