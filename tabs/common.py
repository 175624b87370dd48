"""Glue every tab shares: turning model-layer errors into messages the UI (and API) shows."""
from __future__ import annotations

import logging
from typing import Any, Callable

import gradio as gr

from models.errors import InputError, ModelUnavailable

log = logging.getLogger("bert-demo")


def run_model(fn: Callable[..., Any], *args, **kwargs) -> Any:
    """Call a model-layer function; any failure becomes a gr.Error (a toast in the UI, a clean error
    for gradio_client), the inputs stay where they are, and the app keeps serving."""
    try:
        return fn(*args, **kwargs)
    except (InputError, ModelUnavailable) as exc:
        raise gr.Error(str(exc), title="Cannot run this") from exc
    except Exception as exc:  # a bug or a broken model: say so, log the traceback, keep serving
        log.exception("model call failed")
        raise gr.Error(f"The model failed on this input ({type(exc).__name__}: {exc}). "
                       f"Other tabs keep working; try another input or model.", title="Model error") from exc


def notices_markdown(notices: list[str], extra: str = "") -> str:
    lines = [f"**Note:** {n}" for n in notices]
    if extra:
        lines.append(extra)
    return "\n\n".join(lines)
