"""BERT family, live: a tabbed Gradio app. `python app.py --help` for the flags.

Each tab is one module in tabs/ (UI only) backed by one module in models/. To add a tab,
write both and add the tab module to TABS.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import sys
import threading

# Gradio's queue rebuilt a pandas table of its last 10,000 events after every event (the request metrics of
# the "Use via API" page): 3-10 ms of each request, more the longer the Space runs; every 100 events keeps
# those metrics and drops the cost (benchmarks/load_test.py; py-spy showed it in 9 % of a loaded worker's time)
os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", "100")

import gradio as gr  # noqa: E402

from tabs import chinesebert, common, fill_mask, inside, lab, prompt_cls, qa, tagging  # noqa: E402

TABS = [fill_mask, qa, tagging, prompt_cls, chinesebert, inside, lab]

HEADER = """# BERT family, live
See what BERT-style models do inside: every tab runs a real model, offline by default.
"""


# Gradio's highlighted text breaks lines anywhere ("incl|udes"); break between words, and inside a word
# only when it is longer than the line
CSS = (".textfield { word-break: normal !important; overflow-wrap: anywhere; display: block !important; }"
       " .textfield > * { display: inline !important; }"
       " .drop-refused { color: #b91c1c; font-weight: 600; padding: 4px 0; }")

# Tables meant for typing (the verbalizer, the few-shot examples) are also Gradio CSV drop zones: a file dropped
# there silently replaced the labels. Files go to the upload boxes; these tables refuse them.
NO_FILE_DROP_JS = """<script>
(() => {
  const refuse = (e) => {
    const box = e.target.closest && e.target.closest('.no-file-drop');
    if (!box || !e.dataTransfer || !Array.from(e.dataTransfer.types || []).includes('Files')) return;
    e.preventDefault(); e.stopPropagation();
    if (e.type !== 'drop') return;
    let note = box.querySelector('.drop-refused');
    if (!note) { note = document.createElement('div'); note.className = 'drop-refused'; box.prepend(note); }
    note.textContent = 'This table does not take files: type in it, or use the upload box below it.';
  };
  for (const type of ['dragenter', 'dragover', 'drop']) window.addEventListener(type, refuse, true);
})();
</script>"""

WARM_UP_AFTER_S = 20  # after the first requests of a fresh start, not competing with them
MAX_UPLOAD = common.MAX_UPLOAD  # uploads (labelled sets, projector tables) are read as data, never run or trusted as paths
QUEUE_SIZE = 64  # beyond this a request is refused at once ("queue full") rather than waiting for minutes
# Gradio keeps every visitor's session (a copy of the page's config: 0.67 MB for this app's 386 components)
# until it holds this many, then drops the least recently used: its default of 10,000 would be 6.7 GB
SESSION_CAPACITY = 1000
# requests Gradio processes at once (its default 40): a request waiting for its batch's pass holds one, so with
# 40 fewer shared a pass; 100 gave 58-64 against 52-57 req/s at 64 clients (benchmarks/load_test.py, 30-60 s runs)
MAX_THREADS = 100


def build_app(concurrency: int | None = None) -> gr.Blocks:
    # delete_cache: Gradio's copies of files sent to browsers (attention JSON, uploads) are removed
    # every 10 minutes once older than 30, so a long-running Space does not fill its disk
    with gr.Blocks(title="BERT family, live", delete_cache=(600, 1800)) as demo:
        gr.Markdown(HEADER)
        for tab in TABS:
            with gr.Tab(tab.TITLE):
                tab.build()
    # Each event runs `concurrency` requests at once; different tabs' events run side by side. On 2 CPU
    # cores, 1 and 2 gave the same throughput under 16 clients (11.95 vs 11.52 req/s, benchmarks/load_test.py)
    # and 1 the lower median latency, as torch already uses every core for one request.
    concurrency = concurrency or int(os.environ.get("BERT_DEMO_CONCURRENCY", "1"))
    demo.queue(default_concurrency_limit=concurrency, max_size=QUEUE_SIZE)
    return demo


def parse_args(argv=None) -> argparse.Namespace:
    env = os.environ.get
    ap = argparse.ArgumentParser(description="Serve the BERT demo.")
    ap.add_argument("--host", default=env("GRADIO_SERVER_NAME", "127.0.0.1"),
                    help="interface to bind (0.0.0.0 for all; env GRADIO_SERVER_NAME)")
    ap.add_argument("--port", type=int, default=int(env("GRADIO_SERVER_PORT", "7860")),
                    help="port (env GRADIO_SERVER_PORT)")
    ap.add_argument("--share", action="store_true", default=env("GRADIO_SHARE", "").lower() in ("1", "true"),
                    help="also open a public *.gradio.live link (needs internet; off by default)")
    return ap.parse_args(argv)


def launch(demo: gr.Blocks, args: argparse.Namespace):
    kwargs = dict(server_name=args.host, server_port=args.port, footer_links=["api", "gradio", "settings"],
                  max_file_size=MAX_UPLOAD, css=CSS, head=NO_FILE_DROP_JS, state_session_capacity=SESSION_CAPACITY,
                  max_threads=MAX_THREADS)
    if not args.share:
        return demo.launch(**kwargs)
    local = f"http://{args.host}:{args.port}"
    said = io.StringIO()  # Gradio's own multi-line frpc message; we print one line instead
    try:
        # prevent_thread_lock: keep control so a failed tunnel cannot take the local server down
        with contextlib.redirect_stdout(said), contextlib.redirect_stderr(said):
            demo.launch(share=True, prevent_thread_lock=True, **kwargs)
    except Exception as exc:  # the tunnel binary or its server is unreachable
        print(f"Could not open a share link ({type(exc).__name__}: {exc}). "
              f"The app keeps serving locally on {local}", file=sys.stderr)
        if not getattr(demo, "is_running", False):
            with contextlib.redirect_stdout(io.StringIO()):
                demo.launch(prevent_thread_lock=True, **kwargs)
    else:
        if getattr(demo, "share_url", None):
            print(f"Public link: {demo.share_url} (local: {local})")
        else:
            print(f"No share link (no internet?). The app keeps serving locally on {local}", file=sys.stderr)
    demo.block_thread()


def main(argv=None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per HTTP request buried the real ones
    args = parse_args(argv)
    # compile UMAP's numba code in the background once the app is serving (the first UMAP request paid ~14 s)
    from models.inside import projector

    warm = threading.Timer(WARM_UP_AFTER_S, projector.warm_up_umap)
    warm.daemon = True  # never keeps the process alive
    warm.start()
    launch(build_app(), args)


if __name__ == "__main__":
    main()
