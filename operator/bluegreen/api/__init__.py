"""The BlueGreenRelease API, ``bluegreen.dev/v1alpha1``: the one source of its vocabulary.

Everything another program or a human sees by name lives here once: the
resource's identity and its label, annotation and finalizer keys
(``v1alpha1``), phases and the other closed sets of values (``enums``),
condition types and reasons (``conditions``), timestamps (``timefmt``), the
grammar of the human-action annotation (``human_actions``), the spec's defaults
(``defaults``) and bounds (``limits``), and the typed models of spec and status
(``spec``, ``checks``, ``status``, ``status_parts``). ``crd`` generates the CRD
from the models' field metadata (``schema`` is the generator, ``crd_spec`` lays
out the spec's wire-only groupings), ``argocd`` the names the Argo CD health
script matches on, and ``manifests`` writes or checks both (``make manifests``,
``make lint``). This is the lowest layer: it imports nothing else of
``bluegreen``; the operator's core and the kubectl plugin both build on it, and
import-linter keeps it that way.

Why frozen dataclasses rather than pydantic v2 for the models: the operator
already parses and writes spec and status with frozen dataclasses, and
``core.decide`` and its tests construct them positionally and compare them by
value; keeping them moves vocabulary without rewriting a parser whose error
reasons (``SpecError``) are part of the release's status, and adds no runtime
dependency to a pure core. What pydantic would bring - a schema from type
hints and per-field docs - is covered by ``field(metadata=doc(...))`` and the
small generator in ``schema``, which emits exactly the structural OpenAPI
subset Kubernetes accepts (pydantic's JSON Schema would need rewriting anyway:
``$defs``/``anyOf``/``title`` are refused or meaningless in a CRD, and CEL rules,
int-or-string and list-map keys are Kubernetes extensions it does not know).
"""
