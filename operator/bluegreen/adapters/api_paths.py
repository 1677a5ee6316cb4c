"""What an API request touches, named as the API server's own metrics name it."""

from __future__ import annotations

_NAMESPACED = "namespaces"


def resource_of(path: str) -> str:
    """``resource[/subresource]`` of a REST path: ``/api/v1/namespaces/n/pods/p/status``
    gives ``pods/status``; ``/apis/g/v/namespaces/n`` gives ``namespaces``."""
    parts = [p for p in path.split("?", 1)[0].split("/") if p]
    if parts[:1] == ["api"]:
        rest = parts[2:]
    elif parts[:1] == ["apis"]:
        rest = parts[3:]
    else:
        return "other"
    if rest[:1] == [_NAMESPACED] and len(rest) > 2:
        rest = rest[2:]
    if not rest:
        return "discovery"
    resource = rest[0]
    return f"{resource}/{rest[2]}" if len(rest) > 2 else resource


def verb_of(method: str, path: str) -> str:
    """The API server's verb: GET of a collection is ``list``, of one object ``get``."""
    method = method.upper()
    if method == "GET":
        return "get" if _names_an_object(path) else "list"
    return {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(
        method, method.lower()
    )


def _names_an_object(path: str) -> bool:
    parts = [p for p in path.split("?", 1)[0].split("/") if p]
    rest = parts[2:] if parts[:1] == ["api"] else parts[3:]
    if rest[:1] == [_NAMESPACED] and len(rest) > 2:
        rest = rest[2:]
    return len(rest) >= 2
