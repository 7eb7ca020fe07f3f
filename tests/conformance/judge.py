"""How hive's rpc-compat judges an answer (../shared/conformance/README.md):

- a speconly fixture whose recorded answer has no error: only `result` is checked, against the method's result schema
  in the spec's `src/` (JSON Schema, formats not asserted);
- otherwise `error.message` is removed wherever both answers have one (nested too, e.g. eth_simulateV1's
  `calls[].error`), then the whole answers must be equal: same keys, array order, numbers as numbers, strings byte
  for byte.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import yaml


class Spec:
    """The OpenRPC methods and schemas of `src/`: each method's result schema, refs resolved against all schemas."""

    def __init__(self, src: Path):
        schemas: dict[str, Any] = {}
        # the engine API's schemas too: testing_buildBlockV1 answers with an execution payload envelope
        for path in sorted((src / "schemas").glob("*.yaml")) + sorted(src.glob("engine/openrpc/schemas/*.yaml")):
            schemas.update(yaml.safe_load(path.read_text()) or {})
        self.results: dict[str, Any] = {}
        for folder in ("eth", "debug", "txpool", "testing"):
            for path in sorted((src / folder).glob("*.yaml")):
                for method in yaml.safe_load(path.read_text()) or []:
                    self.results[method["name"]] = method.get("result", {}).get("schema", {})
        self.components = {"schemas": schemas}

    def result_errors(self, method: str, result: Any) -> list[str]:
        """Why `result` does not fit `method`'s result schema (empty: it fits)."""
        if method not in self.results:
            return [f"no result schema for {method} in the spec"]
        schema = {**self.results[method], "components": self.components}
        validator = jsonschema.Draft202012Validator(schema)
        try:
            return [f"{'/'.join(map(str, e.absolute_path)) or 'result'}: {e.message[:200]}"
                    for e in validator.iter_errors(result)]
        except jsonschema.exceptions.RefResolutionError as exc:   # a schema the spec copy lacks: not judgeable
            return [f"the result schema of {method} cannot be resolved: {exc}"]


def strip_messages(ours: Any, theirs: Any) -> tuple[Any, Any]:
    """Both answers without the `message` of every error object that both have at the same place."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        ours, theirs = dict(ours), dict(theirs)
        if (isinstance(ours.get("error"), dict) and isinstance(theirs.get("error"), dict)
                and "message" in ours["error"] and "message" in theirs["error"]):
            ours["error"] = {k: v for k, v in ours["error"].items() if k != "message"}
            theirs["error"] = {k: v for k, v in theirs["error"].items() if k != "message"}
        for key in ours.keys() & theirs.keys():
            ours[key], theirs[key] = strip_messages(ours[key], theirs[key])
        return ours, theirs
    if isinstance(ours, list) and isinstance(theirs, list):
        pairs = [strip_messages(a, b) for a, b in zip(ours, theirs)]
        return ([a for a, _ in pairs] + ours[len(pairs):], [b for _, b in pairs] + theirs[len(pairs):])
    return ours, theirs


def differences(ours: Any, theirs: Any, where: str = "") -> list[str]:
    """Every place where two JSON values differ (numbers compared as numbers, booleans only with booleans)."""
    if isinstance(theirs, dict) and isinstance(ours, dict):
        out = [f"{where}/{k}: missing" for k in theirs.keys() - ours.keys()]
        out += [f"{where}/{k}: extra" for k in ours.keys() - theirs.keys()]
        for key in sorted(ours.keys() & theirs.keys()):
            out += differences(ours[key], theirs[key], f"{where}/{key}")
        return out
    if isinstance(theirs, list) and isinstance(ours, list):
        out = [] if len(ours) == len(theirs) else [f"{where}: {len(ours)} items, want {len(theirs)}"]
        for i, (a, b) in enumerate(zip(ours, theirs)):
            out += differences(a, b, f"{where}/{i}")
        return out
    if isinstance(ours, bool) or isinstance(theirs, bool):
        same = type(ours) is type(theirs) and ours == theirs
    elif isinstance(ours, (int, float)) and isinstance(theirs, (int, float)):
        same = ours == theirs
    else:
        same = type(ours) is type(theirs) and ours == theirs
    return [] if same else [f"{where or '/'}: {_short(ours)}, want {_short(theirs)}"]


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def judge(spec: Spec, method: str, speconly: bool, ours: Any, theirs: Any) -> list[str]:
    """Why our answer fails (empty: it passes)."""
    if speconly and isinstance(theirs, dict) and "error" not in theirs:
        if not isinstance(ours, dict) or "result" not in ours:
            return [f"no result: {_short(ours)}"]
        return spec.result_errors(method, ours["result"])
    return differences(*strip_messages(ours, theirs))
