"""execution-apis fixtures (`tests/<method>/<name>.io`) read as hive's rpc-compat simulator reads them."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Exchange:
    """One request as recorded (the exact text sent) and the answer geth gave."""

    request: str
    response: Any

    @property
    def method(self) -> str | None:
        """The method the request calls (a fixture may call others before the one it is about)."""
        try:
            request = json.loads(self.request)
        except ValueError:
            return None
        return request.get("method") if isinstance(request, dict) else None


@dataclass(frozen=True)
class Fixture:
    path: Path
    method: str                  # the directory name: the method under test
    comment: str
    speconly: bool               # only the result's schema is checked (when geth's answer is not an error)
    exchanges: tuple[Exchange, ...] = field(default_factory=tuple)

    @property
    def name(self) -> str:
        return f"{self.method}/{self.path.stem}"


class FixtureError(ValueError):
    """A fixture file that does not follow the format."""


def parse(path: Path) -> Fixture:
    comments, exchanges, pending = [], [], None
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        if line.startswith("//"):
            comments.append(line[2:].strip())
        elif line.startswith(">>"):
            if pending is not None:
                raise FixtureError(f"{path}:{number}: a request without an answer before it")
            pending = line[2:].strip()
        elif line.startswith("<<"):
            if pending is None:
                raise FixtureError(f"{path}:{number}: an answer without a request")
            exchanges.append(Exchange(pending, json.loads(line[2:].strip())))
            pending = None
        else:
            raise FixtureError(f"{path}:{number}: neither a comment, a request nor an answer")
    if pending is not None or not exchanges:
        raise FixtureError(f"{path}: a request without an answer")
    speconly = any(c.startswith("speconly:") for c in comments)
    return Fixture(path, path.parent.name, " ".join(c for c in comments if not c.startswith("speconly:")),
                   speconly, tuple(exchanges))


def load_all(tests_dir: Path, only: str | None = None) -> list[Fixture]:
    """Every fixture in path order (the order they must run in: sends add to the pool); `only` keeps the fixtures
    whose method or name contains it."""
    fixtures = [parse(p) for p in sorted(tests_dir.glob("*/*.io"))]
    if only:
        fixtures = [f for f in fixtures if only in f.name]
    return fixtures
