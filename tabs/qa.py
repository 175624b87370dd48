"""Span-extraction QA tab: where do the start and end logits peak?"""
from __future__ import annotations

import gradio as gr
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from models import loading, qa, registry  # noqa: E402
from tabs.common import BATCHED, clear_on_failure, examples_offline_first, notices_markdown, run_model  # noqa: E402

TITLE = "Question answering"
PLOT_TOKENS = 200  # tokens drawn around the answer; longer contexts are cut in the plot only

INTRO = """
### Extractive QA: the answer is a span of the context
A SQuAD-style model gives every context token two scores: a **start logit** (how likely the answer
starts here) and an **end logit**. The answer is the span with the highest start + end, with
start ≤ end and at most *max answer length* tokens. Long contexts are read in overlapping windows.
If the **[CLS] ("no answer") score** beats the best span by more than the threshold, the model
abstains. The embedded model (offline) is MiniLM-L6 with a small adapter trained on half of the
SQuAD v1.1 dev set; it is English-only.
"""

AMAZON = ("The Amazon rainforest covers most of the Amazon basin of South America. The basin is about "
          "7,000,000 square kilometres, of which 5,500,000 square kilometres are covered by the rainforest. "
          "The region includes territory belonging to nine nations. The majority of the forest is contained "
          "within Brazil, with 60% of the rainforest, followed by Peru with 13%, and Colombia with 10%.")
TELEPHONE = " ".join([
    "The history of the telephone is a story of many inventors working at the same time.",
    "In the 1840s and 1850s several engineers in Europe experimented with sending sound along wires.",
    "Most of them used the telegraph as their starting point, since its wires already crossed many countries.",
    "The telegraph could send only coded pulses, and operators had to learn Morse code to use it.",
    "Inventors hoped that a machine able to carry the human voice would make such training unnecessary.",
    "Charles Bourseul described a way to transmit speech electrically in 1854, but he never built a device.",
    "Antonio Meucci developed a voice communication apparatus in New York during the 1850s and 1860s.",
    "He filed a caveat for it at the patent office in 1871, but could not afford to renew it.",
    "Johann Philipp Reis built a device in Germany in 1861 that could transmit musical tones.",
    "His instrument used a membrane and a needle, and it could carry a melody but rarely clear speech.",
    "Many newspapers of the time reported on these experiments, and the public followed them closely.",
    "Scientific societies in London, Paris and Berlin held lectures where the new machines were shown.",
    "Some critics called the devices toys, while others predicted that they would change business forever.",
    "Alexander Graham Bell was awarded the first United States patent for the telephone in March 1876.",
    "Elisha Gray filed a similar caveat at the patent office on the very same day.",
    "The coincidence led to a long legal dispute that reached the Supreme Court.",
    "Bell demonstrated his telephone at the Centennial Exhibition in Philadelphia later that year.",
    "The first telephone exchange opened in New Haven, Connecticut, in 1878.",
    "It connected twenty-one subscribers, who could call one another through a single operator.",
    "Within a decade, exchanges had spread to most large cities in the United States and Europe.",
    "Long-distance lines followed, and by 1915 a call could cross the whole North American continent.",
])
EXAMPLES = [
    ["Which country contains the majority of the Amazon rainforest?", AMAZON, "embedded-squad"],
    ["How many nations have territory in the Amazon region?", AMAZON, "embedded-squad"],
    ["Who was awarded the first US patent for the telephone?", TELEPHONE, "embedded-squad"],
    ["Where did the first telephone exchange open?", TELEPHONE, "embedded-squad"],
    ["Who won the football World Cup in 2030?", AMAZON, "embedded-squad"],
    ["苏轼是哪里人?", "苏轼是北宋著名的文学家与政治家,眉州眉山人。", "uer/roberta-base-chinese-extractive-qa"],
    ["苏轼是哪里人？", "苏轼（1037年1月8日－1101年8月24日），字子瞻，号东坡居士，眉州眉山人，北宋著名文学家、书法家、画家。",
     "zh-cmrc"],
]


def logits_figure(result: qa.QAResult):
    toks = result.context_logits
    lo, hi = 0, len(toks)
    if result.answer is not None and len(toks) > PLOT_TOKENS:
        centre = next((i for i, t in enumerate(toks) if t.end > result.answer.start), 0)
        lo = max(0, min(centre - PLOT_TOKENS // 2, len(toks) - PLOT_TOKENS))
        hi = lo + PLOT_TOKENS
    elif len(toks) > PLOT_TOKENS:
        hi = PLOT_TOKENS
    shown = toks[lo:hi]
    fig, ax = plt.subplots(figsize=(min(18, 4 + 0.09 * len(shown)), 3.6))
    x = range(lo, lo + len(shown))
    ax.plot(x, [t.start_logit for t in shown], label="start logit", color="#2563eb", lw=1.4)
    ax.plot(x, [t.end_logit for t in shown], label="end logit", color="#dc2626", lw=1.4)
    ax.axhline(result.null_score / 2, color="#6b7280", ls=":", lw=1, label="[CLS] score / 2")
    if result.answer is not None:
        idx = [i for i, t in enumerate(toks) if t.start < result.answer.end and t.end > result.answer.start]
        if idx:
            ax.axvspan(idx[0] - 0.5, idx[-1] + 0.5, color="#facc15", alpha=0.35, label="answer span")
    if len(shown) <= 60:
        ax.set_xticks(list(x))
        ax.set_xticklabels([t.token for t in shown], rotation=90, fontsize=7)
    ax.set_xlabel("context token" + (f" (tokens {lo}-{hi} of {len(toks)})" if (lo, hi) != (0, len(toks)) else ""))
    ax.set_ylabel("logit")
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    plt.close(fig)
    return fig


def answer(question: str, context: str, model_name: str, top_n: float, max_answer_len: float,
           null_threshold: float, progress=gr.Progress()):
    """Best span, n-best table, logits plot. Returns (notes, highlighted context, n-best, plot, raw JSON)."""
    if not loading.is_loaded(qa.TASK, model_name):
        progress(0.1, desc=f"Loading {model_name} (first use only)…")
    r = run_model(qa.predict, question, context, model_name, int(top_n), int(max_answer_len), float(null_threshold))
    if r.answer is None:  # no legend: its "answer" chip next to a text with no answer misled
        highlighted = gr.update(value=[(r.context, None)], show_legend=False)
        head = f"**No answer**: the [CLS] score {r.null_score:.2f} beats the best span by more than the threshold."
    else:
        a = r.answer
        highlighted = gr.update(value=[(r.context[:a.start], None), (r.context[a.start:a.end], "answer"),
                                       (r.context[a.end:], None)], show_legend=True)
        head = f"**Answer:** {a.text}  (start+end logit {a.score:.2f}, probability {a.probability:.2f})"
    table = pd.DataFrame([{"rank": i + 1, "answer": x.text, "start+end logit": round(x.score, 3),
                           "probability": round(x.probability, 3), "chars": f"{x.start}-{x.end}",
                           "window": x.window + 1} for i, x in enumerate(r.nbest)])
    info = f"Model `{r.model}` · {len(r.windows)} window(s) · {r.seconds * 1000:.0f} ms"
    return notices_markdown(r.notices, head + "\n\n" + info), highlighted, table, logits_figure(r), r.to_dict()


def build() -> None:
    gr.Markdown(INTRO)
    with gr.Row():
        with gr.Column(scale=3):
            question = gr.Textbox(label="Question", value=EXAMPLES[0][0], max_length=qa.MAX_QUESTION_CHARS)
            context = gr.Textbox(label="Context", lines=6, value=EXAMPLES[0][1], max_length=qa.MAX_CONTEXT_CHARS)
        with gr.Column(scale=2):
            model = gr.Dropdown(registry.dropdown(qa.TASK),
                                value=qa.DEFAULT_MODEL, label="Model")
            top_n = gr.Slider(1, qa.MAX_TOP_N, value=5, step=1, label="n-best answers")
            max_len = gr.Slider(1, qa.MAX_ANSWER_TOKENS, value=30, step=1, label="Max answer length (tokens)")
            null_t = gr.Slider(-10, 20, value=0.0, step=0.5,
                               label="No-answer threshold (answer only if best span + threshold ≥ [CLS] score)")
    run = gr.Button("Answer", variant="primary")
    notes = gr.Markdown(label="Notes", elem_id="qa-notes")
    highlighted = gr.HighlightedText(label="Answer in the context", color_map={"answer": "yellow"},
                                     show_legend=True, combine_adjacent=True)
    plot = gr.Plot(label="Start and end logits over the context tokens")
    table = gr.Dataframe(label="n-best spans (merged across windows)", interactive=False,
                         headers=["rank", "answer", "start+end logit", "probability", "chars", "window"])
    with gr.Accordion("Raw result (JSON, with every context token's logits)", open=False):
        raw = gr.JSON(label="Raw result")
    examples_offline_first(EXAMPLES, [question, context, model], lambda e: registry.get(qa.TASK, e[2]).needs_hub)
    event = run.click(answer, [question, context, model, top_n, max_len, null_t],
                      [notes, highlighted, table, plot, raw], api_name="answer", **BATCHED,
                      api_description="Extract the answer span of `question` from `context`, with n-best and logits.")
    clear_on_failure(event, [highlighted, table, plot, raw], notes)
