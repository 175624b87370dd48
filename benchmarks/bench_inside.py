"""Cost of each "Look inside" view on a ~128-token input (models loaded first, not timed).

    python -m benchmarks.bench_inside [--runs 5]

Prints one JSON object: p50/p95 ms per view: attention (model call + the HTML page), logit lens,
head importance + 10-point pruning curve (UPOS tagger, 100 built-in sentences), projector (PCA of
the 300-row SST-2 sample, and placing one edited point), occlusion and gradient x input, and comparing
two masked LMs (CKA of every layer pair + the prediction diff + the plot), the neuron view, corpus search
(its index build, once per model, and a query), and Captum's methods.
"""
from __future__ import annotations

import argparse
import json

from benchmarks.bench_fill_mask import TEXT, timed
from models import prompt_cls
from models.inside import attention, captum_views, corpus_search, heads, logit_lens, projector
from tabs.inside import attention as attention_tab, compare as compare_tab


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    plain = TEXT.replace("[MASK]", "capital")
    n_tokens = len(attention.attention(plain, "fill-mask: embedded-general").tokens)
    spec = prompt_cls.make_spec(*prompt_cls.PRESETS[prompt_cls.SST2_PRESET])
    texts, labels, _ = projector.read_table(projector.SAMPLE)
    proj = projector.project(texts, labels)
    question = "What is Paris?"
    views = {
        "attention_view": lambda: attention_tab.attention_html(attention.attention(plain, "fill-mask: embedded-general")),
        "logit_lens": lambda: logit_lens.logit_lens(TEXT),
        "head_importance_and_pruning_curve": lambda: heads.pruning_curve("embedded-upos"),
        "projector_pca_300_rows": lambda: projector.project(texts, labels),
        "projector_place_edited_point": lambda: proj.place(texts[0] + " not"),
        "compare_models_cka_and_diff": lambda: compare_tab.show_comparison(TEXT, "fill-mask: embedded-general",
                                                                      "fill-mask: embedded-movies"),
        "neuron_view_with_figure": lambda: attention_tab.show_neurons(plain, "fill-mask: embedded-general", 3, 4, 8),
        "corpus_search_index_build_once": lambda: corpus_search.build_index("fill-mask: embedded-general"),
        "corpus_search_query": lambda: corpus_search.search(plain, "fill-mask: embedded-general", 8, 3, 10),
        **{f"captum_{m.lower().replace(' ', '_')}_sentiment": (lambda m=m: captum_views.explain_classification(
            plain[:400], spec, m)) for m in captum_views.METHODS},
        "captum_integrated_gradients_contrast": lambda: captum_views.explain_contrast(TEXT, "capital", "city",
                                                                                      "Integrated Gradients"),
        "captum_integrated_gradients_qa_start": lambda: captum_views.explain_qa(question, plain, "start",
                                                                                "Integrated Gradients"),
    }
    out = {"input_tokens": n_tokens, "runs": args.runs}
    for name, fn in views.items():
        slow = "pruning" in name or "index_build" in name
        out[name] = timed(fn, 1 if slow else args.runs, warmup=0 if slow else 1)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
