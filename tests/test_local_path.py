"""The README's local path works as written: `pip install -r requirements.txt`, then `jupyter lab book/`.

Starts JupyterLab on a free port with the book's folder, waits until it serves its page and
lists a chapter through its contents API, then stops it. (Issue 15: requirements.txt installed
neither JupyterLab nor what it needs, so the README's command failed on a fresh machine.)
"""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
JUPYTER = Path(sys.executable).with_name("jupyter")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_readme_names_the_command_this_test_runs():
    assert "jupyter lab book/" in (ROOT / "README.md").read_text()
    assert re.search(r"^jupyterlab\b", (ROOT / "requirements.txt").read_text(), re.M)


def test_jupyter_lab_serves_the_book_folder(tmp_path):
    port, token = _free_port(), "edu-gen-test"
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "config"), "JUPYTER_DATA_DIR": str(tmp_path / "data"),
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "HOME": str(tmp_path)}
    server = subprocess.Popen(
        [str(JUPYTER), "lab", "book/", "--no-browser", f"--port={port}", "--ip=127.0.0.1", f"--IdentityProvider.token={token}",
         "--ServerApp.open_browser=False", "--allow-root"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline, listing = time.monotonic() + 90, None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                url = f"http://127.0.0.1:{port}/api/contents/?token={token}"
                listing = json.loads(urllib.request.urlopen(url, timeout=2).read())
                page = urllib.request.urlopen(f"http://127.0.0.1:{port}/lab?token={token}", timeout=5).read().decode()
                break
            except OSError:
                time.sleep(0.5)
        assert listing is not None, server.stdout.read1(4000).decode(errors="replace") if server.poll() is not None else "no answer in 90 s"
        names = {item["name"] for item in listing["content"]}
        assert "01_losses_as_likelihood.ipynb" in names  # the root it serves is book/
        assert "JupyterLab" in page
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
