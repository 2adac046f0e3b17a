"""Refresh the GraphiQL page's vendored browser bundles from npm.

    python tools/refresh_graphiql.py [--graphiql 3.8.3] [--react 18.3.1]

``npm pack`` fetches each package's tarball (no install, no scripts run); the prebuilt browser
builds and the LICENSE files are copied into ``roost/apis/graphql/static/`` and the versions are
written to its README. GraphiQL 3 is the last line with a prebuilt UMD bundle, and React 18 the
last with UMD builds, so the defaults stay on those lines. The ``sourceMappingURL`` comments are
dropped: the maps are not shipped, and a browser with its tools open would ask for them.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import tarfile
import tempfile
from pathlib import Path

STATIC = Path(__file__).resolve().parents[1] / "roost" / "apis" / "graphql" / "static"
#: package -> (file in the tarball, name under static/)
FILES = {
    "graphiql": [("package/graphiql.min.js", "graphiql.min.js"), ("package/graphiql.min.css", "graphiql.min.css"),
                 ("package/LICENSE", "LICENSE.graphiql")],
    "react": [("package/umd/react.production.min.js", "react.production.min.js"), ("package/LICENSE", "LICENSE.react")],
    "react-dom": [("package/umd/react-dom.production.min.js", "react-dom.production.min.js"),
                  ("package/LICENSE", "LICENSE.react-dom")],
}  # fmt: skip
_SOURCE_MAP = re.compile(rb"\n?(//# sourceMappingURL=\S+|/\*# sourceMappingURL=\S+ ?\*/)\s*$")
README = """# Vendored GraphiQL

The GraphiQL page (`GET /api/graphql` from a browser) is served from these files, so it needs no
CDN. Refresh them with `python tools/refresh_graphiql.py`; each package's LICENSE is kept beside
its build.

| npm package | version | files |
|---|---|---|
{rows}
`page.html` and `page.js` are Roost's own.
"""


def fetch(package: str, version: str, into: Path) -> Path:
    out = subprocess.run(["npm", "pack", f"{package}@{version}", "--silent", "--pack-destination", str(into)],
                         check=True, capture_output=True, text=True)  # fmt: skip
    return into / out.stdout.strip().splitlines()[-1]


def copy(tarball: Path, files: list[tuple[str, str]]) -> None:
    with tarfile.open(tarball) as tar:
        for member, name in files:
            source = tar.extractfile(member)
            if source is None:
                raise SystemExit(f"{tarball.name} has no {member}")
            data = source.read()
            if name.endswith((".js", ".css")):
                data = _SOURCE_MAP.sub(b"\n", data)
            (STATIC / name).write_bytes(data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--graphiql", default="3.8.3")
    parser.add_argument("--react", default="18.3.1")
    args = parser.parse_args()
    versions = {"graphiql": args.graphiql, "react": args.react, "react-dom": args.react}
    STATIC.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for package, version in versions.items():
            copy(fetch(package, version, Path(tmp)), FILES[package])
    rows = "".join(f"| `{p}` | {v} | {', '.join(f'`{n}`' for _, n in FILES[p])} |\n" for p, v in versions.items())
    (STATIC / "README.md").write_text(README.format(rows=rows))


if __name__ == "__main__":
    main()
