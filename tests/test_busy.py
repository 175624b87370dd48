"""Bounded waiting (issue 29): when more requests arrive than the queue holds, the extra ones are refused at
once with a clear busy answer instead of waiting for minutes, and the app keeps serving."""
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

pytestmark = pytest.mark.slow


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_full_queue_answers_busy_at_once_and_the_app_keeps_serving(monkeypatch):
    from gradio_client import Client

    import app
    from models import fill_mask

    real = fill_mask.predict

    def slow(*args, **kwargs):  # every request holds its place for 8 s, so a burst fills the queue
        time.sleep(8)
        return real(*args, **kwargs)

    monkeypatch.setattr(fill_mask, "predict", slow)
    monkeypatch.setattr(app, "QUEUE_SIZE", 4)
    demo = app.build_app()
    port = _port()
    demo.launch(server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)

        def ask(_):
            t0 = time.perf_counter()
            try:
                client.predict("Paris is the [MASK] of France.", "embedded-general", 5, api_name="/fill_mask")
                return "answered", time.perf_counter() - t0, ""
            except Exception as exc:
                return "refused", time.perf_counter() - t0, str(exc)

        with ThreadPoolExecutor(40) as pool:
            outcomes = list(pool.map(ask, range(40)))
        refused = [o for o in outcomes if o[0] == "refused"]
        answered = [o for o in outcomes if o[0] == "answered"]
        # 16 run at once (one batch), 4 wait in the queue: the other 20 are told at once
        assert len(answered) >= 16 and len(refused) >= 10, outcomes
        assert all("queue is full" in msg.lower() and "try again" in msg.lower() for _, _, msg in refused), refused[:2]
        # told at once: every refusal comes back before the first answer (each takes 8 s to serve)
        assert max(seconds for _, seconds, _ in refused) < min(seconds for _, seconds, _ in answered)
        monkeypatch.setattr(fill_mask, "predict", real)
        out = client.predict("Paris is the [MASK] of France.", "embedded-general", 5, api_name="/fill_mask")
        assert "capital" in str(out)  # still serving
    finally:
        demo.close()
