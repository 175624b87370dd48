"""Look inside: attention views, neurons, layer-wise predictions, head importance and pruning, a projector with
a datapoint editor, token attribution, transformer factors, corpus search, batch mode and model comparison, for
the fill-mask, QA and tagging tabs' models. One module per view group; each builds its own sub-tab."""
from __future__ import annotations

import gradio as gr

from tabs.inside import attention, attribution, batch, compare, corpus_search, factors, heads, projector

TITLE = "Look inside"
GROUPS = (attention, heads, projector, attribution, factors, corpus_search, batch, compare)  # the sub-tabs' order

INTRO = """
### Look inside the models of the other tabs
**Attention**: every layer and head (head view: lines weighted by attention; model view: all heads at
once, click one to enlarge). **Neurons**: how one head's attention comes about (query, keys, their product). **Layer-wise predictions**: the masked LM's head read off every layer.
**Heads**: which heads matter for tagging (Michel et al., 2019) and what pruning them costs.
**Projector**: a data set embedded and drawn in 2-D; edit a point and see it move. **Attribution**:
which words a prediction rests on, by two of Captum's Integrated Gradients, LIME and occlusion side by side
(sentiment, one entity, a QA answer's start or end, and "why X rather than Y" at a mask). **Transformer factors**: each token's embedding as a sparse sum of dictionary "factors" (Yun et al.,
2021), and what each factor stands for. **Corpus search**: the corpus tokens whose hidden states are nearest to one of yours (exBERT).
**Batch**: a CSV/TSV of reviews, sentences or questions run and explained row by row, with scores
per label and the most influential words. **Compare models**: how alike two models' layers are (linear CKA) and
where their predictions differ. Everything runs here, offline.
"""


def build() -> None:
    gr.Markdown(INTRO)
    for group in GROUPS:
        group.build()
