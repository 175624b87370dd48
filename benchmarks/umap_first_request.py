"""First UMAP request to a freshly started app, after it has been up `--wait` seconds (the app compiles
UMAP's numba code in the background 20 s after start).

    python -m benchmarks.umap_first_request [--wait 45]

Prints one JSON object: seconds of the first /inside_projector call with UMAP on the built-in 300-row
sample, and of a second one.
"""
from __future__ import annotations

import argparse
import json
import time

from benchmarks.load_test import start_app


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--wait", type=float, default=45)
    args = ap.parse_args()
    from gradio_client import Client

    proc, url = start_app(2)
    try:
        time.sleep(args.wait)
        client = Client(url, verbose=False)
        times = []
        for _ in range(2):
            t0 = time.perf_counter()
            client.predict("fill-mask: embedded-general", None, "UMAP", "label", api_name="/inside_projector")
            times.append(round(time.perf_counter() - t0, 2))
        print(json.dumps({"waited_s": args.wait, "first_umap_request_s": times[0], "second_s": times[1]}))
    finally:
        proc.kill()


if __name__ == "__main__":
    main()
