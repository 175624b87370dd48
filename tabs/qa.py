"""Span-extraction QA tab: where do the start and end logits peak?"""
from __future__ import annotations

import gradio as gr
import pandas as pd

from models import loading, qa, registry
from tabs.common import BATCHED, clear_on_failure, examples_offline_first, notices_markdown, run_model

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


SERIES_COLOURS = {"start logit": "#2563eb", "end logit": "#dc2626", "[CLS] score / 2": "#6b7280",
                  "answer span": "#ca8a04"}


def logits_frame(result: qa.QAResult) -> tuple[pd.DataFrame, str]:
    """The start and end logit of each context token (up to PLOT_TOKENS around the answer), the [CLS] score
    / 2 as a flat line and the answer as a bar above the curves; and which tokens the plot shows when it
    cannot show them all ("" when it does). Drawn by the browser (gr.LinePlot): the matplotlib PNG it
    replaces cost the server ~100 ms per answer, most of a QA request under load (py-spy, load_test)."""
    toks = result.context_logits
    lo, hi = 0, len(toks)
    if result.answer is not None and len(toks) > PLOT_TOKENS:
        centre = next((i for i, t in enumerate(toks) if t.end > result.answer.start), 0)
        lo = max(0, min(centre - PLOT_TOKENS // 2, len(toks) - PLOT_TOKENS))
        hi = lo + PLOT_TOKENS
    elif len(toks) > PLOT_TOKENS:
        hi = PLOT_TOKENS
    shown = list(enumerate(toks))[lo:hi]
    rows = [(i, t.token, "start logit", t.start_logit) for i, t in shown]
    rows += [(i, t.token, "end logit", t.end_logit) for i, t in shown]
    rows += [(i, t.token, "[CLS] score / 2", result.null_score / 2) for i, t in shown]
    if result.answer is not None and shown:
        top = max(max(t.start_logit, t.end_logit) for _, t in shown) + 1
        a = result.answer
        inside = [(i, t.token) for i, t in shown if t.start < a.end and t.end > a.start]
        if inside:  # a bar from half a token before the first to half after the last (one token included)
            rows += [(inside[0][0] - 0.5, inside[0][1], "answer span", top),
                     *[(i, tok, "answer span", top) for i, tok in inside],
                     (inside[-1][0] + 0.5, inside[-1][1], "answer span", top)]
    shown_note = f"the plot shows context tokens {lo}-{hi} of {len(toks)}" if (lo, hi) != (0, len(toks)) else ""
    return pd.DataFrame(rows, columns=["token #", "token", "series", "logit"]), shown_note


def answer(question: str, context: str, model_name: str, top_n: float, max_answer_len: float,
           null_threshold: float, progress=gr.Progress()):
    """Best span, n-best table, logits plot. Returns (notes, highlighted context, n-best, plot, raw JSON)."""
    if not loading.is_loaded(qa.TASK, model_name):
        progress(0.1, desc=f"Loading {model_name} (first use only)…")
    r = run_model(qa.predict, question, context, model_name, int(top_n), int(max_answer_len), float(null_threshold))
    # plain values, not gr.update(...): Gradio rebuilds an updated component's config and JSON schema on
    # every request (~5 ms of its event loop each); the box has no legend (an "answer" chip next to a text
    # with no answer misled), its label says what the highlight means
    if r.answer is None:
        highlighted = [(r.context, None)]
        head = f"**No answer**: the [CLS] score {r.null_score:.2f} beats the best span by more than the threshold."
    else:
        a = r.answer
        highlighted = [(r.context[:a.start], None), (r.context[a.start:a.end], "answer"), (r.context[a.end:], None)]
        head = f"**Answer:** {a.text}  (start+end logit {a.score:.2f}, probability {a.probability:.2f})"
    table = pd.DataFrame([{"rank": i + 1, "answer": x.text, "start+end logit": round(x.score, 3),
                           "probability": round(x.probability, 3), "chars": f"{x.start}-{x.end}",
                           "window": x.window + 1} for i, x in enumerate(r.nbest)])
    frame, shown = logits_frame(r)
    info = f"Model `{r.model}` · {len(r.windows)} window(s) · {r.seconds * 1000:.0f} ms"
    info += f" · {shown}" if shown else ""
    return notices_markdown(r.notices, head + "\n\n" + info), highlighted, table, frame, r.to_dict()


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
    highlighted = gr.HighlightedText(label="The answer, highlighted in the context", color_map={"answer": "yellow"},
                                     show_legend=False, combine_adjacent=True)
    plot = gr.LinePlot(x="token #", y="logit", color="series", color_map=SERIES_COLOURS,
                       tooltip=["token #", "token", "series", "logit"], x_title="context token",
                       label="Start and end logits over the context tokens (hover for the token)", height=420)
    table = gr.Dataframe(label="n-best spans (merged across windows)", interactive=False,
                         headers=["rank", "answer", "start+end logit", "probability", "chars", "window"])
    with gr.Accordion("Raw result (JSON, with every context token's logits)", open=False):
        raw = gr.JSON(label="Raw result")
    examples_offline_first(EXAMPLES, [question, context, model], lambda e: registry.get(qa.TASK, e[2]).needs_hub)
    event = run.click(answer, [question, context, model, top_n, max_len, null_t],
                      [notes, highlighted, table, plot, raw], api_name="answer", **BATCHED,
                      api_description="Extract the answer span of `question` from `context`, with n-best and logits.")
    clear_on_failure(event, [highlighted, table, plot, raw], notes)
