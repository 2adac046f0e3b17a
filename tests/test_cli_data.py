"""``roost export records`` and ``roost import records`` on a data dir: round trip, a failing
chunk, resuming with --skip, and one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson

from roost.testing import make_test_app

ROOST = [str(Path(sys.executable).parent / "roost")]
FIELDS = [{"name": "title", "type": "text", "required": True}, {"name": "n", "type": "number"},
          {"name": "tags", "type": "json"}]  # fmt: skip


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ROOST, *args], capture_output=True, text=True, timeout=120)


async def seed(data: Path, rows: int) -> None:
    async with make_test_app(data) as api:
        for name in ("src", "dst"):
            await api.create_collection({"name": name, "fields": FIELDS})
        for i in range(rows):
            await api.create_record("src", {"title": f"t{i}", "n": i, "tags": {"i": [i, "x,y"]}})


async def titles(data: Path, name: str) -> list[str]:
    async with make_test_app(data) as api:
        res = await api.su("GET", f"/api/collections/{name}/records", params={"perPage": 1000, "sort": "n"})
        return [r["title"] for r in res.json()["items"]]


async def test_export_and_import_round_trip(tmp_path: Path) -> None:
    await seed(tmp_path, 7)
    out = run("export", "records", "src", "--dir", str(tmp_path), "--sort", "-n")
    assert out.returncode == 0, out.stderr
    lines = [orjson.loads(line) for line in out.stdout.splitlines()]
    assert [r["n"] for r in lines] == [6, 5, 4, 3, 2, 1, 0] and lines[0]["tags"] == {"i": [6, "x,y"]}
    target = tmp_path / "src.csv"
    out = run("export", "records", "src", "--dir", str(tmp_path), "--out", str(target), "--fields", "id,title,n,tags")
    assert out.returncode == 0, out.stderr
    assert target.read_text().splitlines()[0] == "id,title,n,tags"
    out = run("import", "records", "dst", str(target), "--dir", str(tmp_path), "--chunk", "3")
    assert out.returncode == 0, out.stderr
    assert orjson.loads(out.stdout)["committed"] == 7 and orjson.loads(out.stdout)["chunks"] == 3
    assert await titles(tmp_path, "dst") == [f"t{i}" for i in range(7)]


async def test_a_failing_chunk_stops_the_import_and_skip_resumes_it(tmp_path: Path) -> None:
    await seed(tmp_path, 0)
    rows = [{"title": f"t{i}", "n": i} for i in range(6)]
    rows[4]["title"] = ""
    source = tmp_path / "rows.jsonl"
    source.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    out = run("import", "records", "dst", str(source), "--dir", str(tmp_path), "--chunk", "2")
    assert out.returncode == 1 and "Resume with --skip 4." in out.stderr and "Traceback" not in out.stderr
    report = orjson.loads(out.stdout)
    assert report["committed"] == 4 and report["errors"][0]["row"] == 5
    assert report["errors"][0]["data"]["title"]["code"] == "validation_required"
    assert await titles(tmp_path, "dst") == ["t0", "t1", "t2", "t3"]
    rows[4]["title"] = "t4"
    source.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    out = run("import", "records", "dst", str(source), "--dir", str(tmp_path), "--skip", "4")
    assert out.returncode == 0, out.stderr
    assert await titles(tmp_path, "dst") == [f"t{i}" for i in range(6)]


async def test_errors_are_one_line(tmp_path: Path) -> None:
    await seed(tmp_path, 0)
    bad = tmp_path / "bad.csv"
    bad.write_text("title,nope\r\na,b\r\n")
    for args in (("export", "records", "missing"), ("import", "records", "dst", str(bad)),
                 ("export", "records", "src", "--filter", "(((")):  # fmt: skip
        out = run(*args, "--dir", str(tmp_path))
        assert out.returncode == 1 and out.stderr.startswith("Error: ") and "Traceback" not in out.stderr, out.stderr
