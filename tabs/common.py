"""Glue every tab shares: turning model-layer errors into messages the UI (and API) shows, and
clearing a panel's outputs when its run fails (so no stale result sits next to an error)."""
from __future__ import annotations

import html
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import gradio as gr

from models.batching import MAX_BATCH
from models.errors import InputError, ModelUnavailable
from models.readers import MAX_UPLOAD_BYTES

# gradio's upload limit, from the one limit the readers enforce
MAX_UPLOAD = f"{MAX_UPLOAD_BYTES // 2**20}mb"

log = logging.getLogger("bert-demo")


def use_cjk_font_fallback() -> str | None:
    """Matplotlib draws characters DejaVu Sans lacks (Chinese tokens in the QA logit plot and the views)
    with Noto Sans SC, which the app ships anyway (pylopdf-fonts-zh-cn, the ChineseBERT glyph font);
    without it they are empty boxes. Returns the fallback's family name (None without the package)."""
    import matplotlib
    from matplotlib import font_manager

    from models.chinese.glyphs import noto_fonts

    fonts = noto_fonts()
    if not fonts:
        return None
    path = fonts[0].path
    font_manager.fontManager.addfont(path)
    name = font_manager.FontProperties(fname=path).get_name()
    # matplotlib falls back glyph by glyph only across the families named in font.family (a generic
    # 'sans-serif' resolves to one font), so name both: DejaVu Sans first, Noto Sans SC for what it lacks
    matplotlib.rcParams["font.family"] = ["DejaVu Sans", name]
    return name


CJK_FONT = use_cjk_font_fallback()
MAX_ECHO = 300  # characters of an error message; a message never echoes a huge input back


def ui_error(message: str, title: str) -> gr.Error:
    """A gr.Error whose text shows exactly as written: Gradio renders error messages as HTML, so
    `<mask>` would vanish unless escaped. Gradio prints no traceback for it; the caller logs."""
    if len(message) > MAX_ECHO:
        message = message[:MAX_ECHO] + f"… ({len(message):,} characters in all)"
    return gr.Error(html.escape(message, quote=False), title=title, print_exception=False)


def run_model(fn: Callable[..., Any], *args, **kwargs) -> Any:
    """Call a model-layer function; any failure becomes a gr.Error (a toast in the UI, a clean error
    for gradio_client), the inputs stay where they are, and the app keeps serving.

    An error the user can act on logs one line; only a real fault (a bug, a broken model) logs a traceback."""
    try:
        return fn(*args, **kwargs)
    except (InputError, ModelUnavailable) as exc:
        log.info("user error in %s: %s", getattr(fn, "__name__", fn), str(exc)[:200])
        raise ui_error(str(exc), "Cannot run this") from None
    except gr.Error:
        raise
    except Exception as exc:  # a bug or a broken model: say so, log the traceback, keep serving
        log.exception("model call failed")
        raise ui_error(f"The model failed on this input ({type(exc).__name__}: {exc}). "
                       f"Other tabs keep working; try another input or model.", "Model error") from None


def notices_markdown(notices: list[str], extra: str = "") -> str:
    lines = [f"**Note:** {n}" for n in notices]
    if extra:
        lines.append(extra)
    return "\n\n".join(lines)


FAILED_NOTE = "⚠️ The last run failed (see the message); its results were cleared."


def clear_on_failure(event, outputs: list, notes=None, note: str = None) -> None:
    """When `event` raises (or is cancelled: Gradio reports both the same way), empty its outputs (and say
    so in `notes`, with `note` where the event can be cancelled), so results of an earlier run are never
    shown next to the error of this one. The inputs are left as the user typed them."""
    outputs = [o for o in outputs if o is not notes]

    targets = outputs + ([notes] if notes is not None else [])

    def clear():
        values = [None] * len(outputs) + ([note or FAILED_NOTE] if notes is not None else [])
        return values if len(values) > 1 else values[0]

    event.failure(clear, None, targets, api_visibility="private", queue=False)


def examples_offline_first(examples: list[list], inputs: list, needs_hub: Callable[[list], bool]) -> None:
    """gr.Examples for the examples that run offline; those that need a Hub model are offered as such
    when the Hub is reachable, and only named (not offered) when it is not, since they would fail."""
    from models.loading import hub_reachable

    local = [e for e in examples if not needs_hub(e)]
    hub = [e for e in examples if needs_hub(e)]
    gr.Examples(local, inputs=inputs, label="Examples")
    if hub and hub_reachable():
        gr.Examples(hub, inputs=inputs, label="Examples with Hub models (downloaded on first use)")
    elif hub:
        gr.Markdown(f"*{len(hub)} more example(s) use Hub models; the Hub cannot be reached from here, "
                    f"so they are not offered.*")


# the events whose model calls share forward passes (models/batching.py): as many requests at once as one
# batch holds, so a burst reaches the batcher together instead of one at a time through the queue
BATCHED = {"concurrency_limit": MAX_BATCH}

EXPORT_DIR = Path(tempfile.gettempdir()) / "bert-demo-exports"
EXPORT_MAX_FILES = 32  # the newest exports kept; older ones are deleted
EXPORT_MAX_AGE_S = 30 * 60  # and none outlives half an hour


def export_file(name: str, text: str | bytes) -> str:
    """Write a download (e.g. the raw attention JSON, a figure) to one bounded folder and return its path.

    Every click used to leave a temp dir behind (~9 MB at 128 tokens); now each call first deletes
    exports past the age limit or beyond the newest EXPORT_MAX_FILES."""
    EXPORT_DIR.mkdir(parents=True, exist_ok=True)
    prune_exports()
    fd, path = tempfile.mkstemp(prefix=Path(name).stem + "-", suffix=Path(name).suffix, dir=EXPORT_DIR)
    with os.fdopen(fd, "wb") as f:
        f.write(text.encode("utf-8") if isinstance(text, str) else text)
    return path


def figure_files(fig, stem: str) -> list[str]:
    """A matplotlib figure as PNG and SVG downloads (one click each in a gr.File)."""
    import io

    paths = []
    for fmt in ("png", "svg"):
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt, dpi=110)  # laid out by its maker: a "tight" box would draw it twice (slow)
        paths.append(export_file(f"{stem}.{fmt}", buf.getvalue()))
    return paths


def table_files(df, stem: str) -> list[str]:
    """A table as CSV and JSON downloads (records, one object per row)."""
    return [export_file(f"{stem}.csv", df.to_csv(index=False)),
            export_file(f"{stem}.json", df.to_json(orient="records", force_ascii=False, indent=1))]


def prune_exports() -> None:
    """Keep room for one more export: at most EXPORT_MAX_FILES - 1 files, none past the age limit."""
    max_files, max_age_s = EXPORT_MAX_FILES - 1, EXPORT_MAX_AGE_S
    files = sorted((p for p in EXPORT_DIR.glob("*") if p.is_file()), key=lambda p: p.stat().st_mtime, reverse=True)
    now = time.time()
    for i, p in enumerate(files):
        if i >= max_files or now - p.stat().st_mtime > max_age_s:
            p.unlink(missing_ok=True)
