"""Run an Argo CD Lua script as Argo CD does: only the base, table and package
libraries and a ``require("os")``, no string or math library (Argo CD's
``util/lua``), and ``obj`` (and ``actionParams``) as globals."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

# Argo CD embeds gopher-lua, a Lua 5.1; 5.4 guards against relying on 5.1 quirks.
RUNTIMES = ["lupa.lua51", "lupa.lua54"]

# What Argo CD does not open (util/lua/lua.go: package, base, table and a safe os only).
SANDBOX = """
string = nil
math = nil
io = nil
debug = nil
coroutine = nil
load, loadstring, dofile, loadfile = nil, nil, nil, nil
getmetatable("").__index = nil  -- no ("text"):match(...) either
"""


def to_lua(runtime: Any, value: Any) -> Any:
    """Python JSON-like value -> Lua value, lists as 1-based arrays, like Argo CD does."""
    if isinstance(value, Mapping):
        table = runtime.table()
        for key, item in value.items():
            table[key] = to_lua(runtime, item)
        return table
    if isinstance(value, list):
        table = runtime.table()
        for index, item in enumerate(value, start=1):
            table[index] = to_lua(runtime, item)
        return table
    return value


def from_lua(value: Any) -> Any:
    if hasattr(value, "items"):
        items = dict(value.items())
        if items and all(isinstance(k, int) for k in items):
            return [from_lua(items[k]) for k in sorted(items)]
        return {k: from_lua(v) for k, v in items.items()}
    return value


def run(
    script: str,
    obj: Mapping[str, Any],
    module: str = "lupa.lua51",
    params: Mapping[str, str] | None = None,
) -> Any:
    lupa = importlib.import_module(module)
    runtime = lupa.LuaRuntime(unpack_returned_tuples=True)
    runtime.execute(SANDBOX)
    runtime.globals().obj = to_lua(runtime, obj)
    if params is not None:
        runtime.globals().actionParams = to_lua(runtime, dict(params))
    return runtime.execute(script)


def lua_error(module: str) -> type[Exception]:
    error: type[Exception] = importlib.import_module(module).LuaError
    return error
