"""deploy/docker: build the image offline and smoke-test a container made from it.

There is no Docker engine here. Debian's ``debootstrap`` makes a minimal Debian base with
Python 3, and Debian's ``buildah`` builds ``deploy/docker/Dockerfile`` on it with
``PYTHON_IMAGE`` pointing at that base (chroot isolation, host network, so no daemon or user
namespace is needed). The container then runs the image's entry point as its own user: a
superuser, a collection and a record through the API, then SIGTERM to Roost, which must stop
cleanly. The base image is kept between runs; the built image is removed.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .test_proxies import cluster
from .tools import DEPLOY, REPO_ROOT, run, tool

BASE = "localhost/roost-base:bookworm"
MIRROR = os.environ.get("ROOST_DEBIAN_MIRROR", "http://deb.debian.org/debian")
#: this machine's pip configuration (a local wheel mirror), mounted into the build when present
PIP_MOUNTS = ["/opt/pypi", "/opt/wheels", "/etc/xdg/pip", "/etc/pip.conf", "/etc/ssl/certs"]


def _base_image(buildah: str, tmp: Path) -> None:
    if run([buildah, "images", "--quiet", BASE]).stdout.strip():
        return
    debootstrap = tool("debootstrap", hint="apt-get install debootstrap")
    rootfs = tmp / "rootfs"
    made = run([debootstrap, "--variant=minbase", "--include=python3,python3-venv,python-is-python3,ca-certificates",
                "bookworm", str(rootfs), MIRROR], timeout=900)
    assert made.returncode == 0, made.stdout[-2000:] + made.stderr[-2000:]
    container = run([buildah, "from", "scratch"]).stdout.strip()
    try:
        mount = run([buildah, "mount", container]).stdout.strip()
        assert run(["cp", "-a", f"{rootfs}/.", mount]).returncode == 0
        run([buildah, "umount", container])
        run([buildah, "config", "--env", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", container])
        committed = run([buildah, "commit", container, BASE], timeout=600)
        assert committed.returncode == 0, committed.stderr
    finally:
        run([buildah, "rm", container])


@pytest.fixture
def image(tmp_path: Path) -> Iterator[tuple[str, str]]:
    buildah = tool("buildah", hint="apt-get install buildah debootstrap")
    _base_image(buildah, tmp_path)
    tag = f"localhost/roost:test-{secrets.token_hex(4)}"
    mounts = [arg for path in PIP_MOUNTS if Path(path).exists() for arg in ("-v", f"{path}:{path}:ro")]
    built = run([buildah, "bud", "--isolation", "chroot", "--format", "docker", "--layers=false", *mounts,
                 "--build-arg", f"PYTHON_IMAGE={BASE}", "-f", str(DEPLOY / "docker" / "Dockerfile"), "-t", tag,
                 str(REPO_ROOT)], timeout=900)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    try:
        yield buildah, tag
    finally:
        run([buildah, "rmi", "--force", tag])


@pytest.fixture
def container(image: tuple[str, str]) -> Iterator[tuple[str, str]]:
    buildah, tag = image
    name = run([buildah, "from", "--name", f"roost-test-{secrets.token_hex(4)}", tag]).stdout.strip()
    try:
        yield buildah, name
    finally:
        run([buildah, "rm", name])


def _in(buildah: str, container: str, *command: str) -> subprocess.CompletedProcess[str]:
    return run([buildah, "run", "--isolation", "chroot", container, "--", *command], timeout=120)


def _check_config(buildah: str, tag: str) -> None:
    config = json.loads(run([buildah, "inspect", "--type", "image", tag]).stdout)["Docker"]["config"]
    assert config["User"] == "10001:10001"
    assert config["Entrypoint"] == ["roost"]
    assert config["Cmd"] == ["serve", "--http", "0.0.0.0:8090", "--dir", "/data"]
    assert "/data" in config["Volumes"]
    assert "/api/health" in " ".join(config["Healthcheck"]["Test"])
    assert config["StopSignal"] == "SIGTERM"


def _check_unprivileged_without_a_compiler(buildah: str, name: str) -> None:
    assert _in(buildah, name, "id", "-u").stdout.strip() == "10001"
    found = _in(buildah, name, "sh", "-c", "command -v gcc cc make || true").stdout.strip()
    assert found == ""
    assert _in(buildah, name, "roost", "version").stdout.startswith("roost version")


def _roost_child(wrapper: int) -> int:
    """The Roost process under ``buildah run`` (its grandchild, through buildah-chroot-exec)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for status in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                argv = status.read_bytes().split(b"\0")
            except OSError:
                continue
            if argv and argv[0].endswith(b"python") and b"serve" in argv:
                pid = int(status.parent.name)
                if _descends_from(pid, wrapper):
                    return pid
        time.sleep(0.1)
    raise AssertionError("roost serve did not start in the container")


def _descends_from(pid: int, ancestor: int) -> bool:
    while pid > 1:
        if pid == ancestor:
            return True
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            return False
    return False


def test_the_image_builds_and_a_container_serves_the_api_and_stops_on_sigterm(
    image: tuple[str, str], container: tuple[str, str], tmp_path: Path
) -> None:
    # one test, so that parallel test workers build the image once
    buildah, name = container
    _check_config(buildah, image[1])
    _check_unprivileged_without_a_compiler(buildah, name)
    email, password = "image@example.com", "image-pass-12345"
    made = _in(buildah, name, "roost", "superuser", "upsert", email, password, "--dir", "/data")
    assert made.returncode == 0, made.stderr
    port = cluster.free_port()
    # the image's own entry point, on a loopback port instead of 0.0.0.0:8090 (host network here)
    log = (tmp_path / "serve.log").open("wb")
    wrapper = subprocess.Popen([buildah, "run", "--isolation", "chroot", name, "--", "roost", "serve", "--http",
                                f"127.0.0.1:{port}", "--dir", "/data"], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        assert cluster.wait_healthy(url, wrapper, 60), (tmp_path / "serve.log").read_text()
        with httpx.Client(base_url=url, timeout=10) as http:
            token = http.post("/api/collections/_superusers/auth-with-password",
                              json={"identity": email, "password": password}).json()["token"]
            res = http.post("/api/collections", headers={"Authorization": token},
                            json={"name": "smoke", "listRule": "", "createRule": "", "fields": [{"name": "n", "type": "number"}]})
            assert res.status_code == 200, res.text
            assert http.post("/api/collections/smoke/records", json={"n": 3}).status_code == 200
            assert [i["n"] for i in http.get("/api/collections/smoke/records").json()["items"]] == [3]
        # docker stop sends SIGTERM to PID 1, which is Roost itself (exec-form entry point)
        roost = _roost_child(wrapper.pid)
        os.kill(roost, signal.SIGTERM)
        wrapper.wait(timeout=30)
        log.close()
        output = (tmp_path / "serve.log").read_text()
        # uvicorn drains, then re-raises SIGTERM so the exit status says why it stopped (143)
        assert "exited on terminated" in output and "killed" not in output and "Traceback" not in output, output
        # a clean shutdown closed SQLite, which folds and removes the write-ahead log
        left = _in(buildah, name, "ls", "/data").stdout.split()
        assert "data.db" in left and not [f for f in left if f.endswith("-wal")], left
    finally:
        if wrapper.poll() is None:
            wrapper.kill()
            wrapper.wait(timeout=10)
        log.close()
