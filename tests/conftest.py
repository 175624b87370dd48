import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, log: str, seconds: float) -> None:
    """Until `proc` (an app being started) answers on `port`; RuntimeError if it exits or takes too long."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"app exited early; see {log}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"app did not open port {port} in {seconds} s")


@pytest.fixture(scope="session")
def app_url():
    """A real `python app.py` process on a free local port, for gradio_client tests."""
    port = _free_port()
    log = open(ROOT / "tests" / "app-under-test.log", "w")
    # HF_HUB_OFFLINE: the served app behaves the same on a machine that can reach the Hub (CI cannot)
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=ROOT, stdout=log,
                            stderr=subprocess.STDOUT, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_for_port(port, proc, log.name, 120)
    except RuntimeError:
        proc.kill()
        raise
    yield url
    proc.terminate()
    proc.wait(timeout=20)
