"""Fine-tuning lab: how a pre-trained encoder is adapted to a task, strategy by strategy, on the same data.

strategies.py  the named strategies (which layer feeds the head, frozen or tuned, adaptation modules,
               schedules) and what each makes trainable
encoders.py    the pre-trained encoders behind one interface: MiniLM (English), the mini ChineseBERT (ChnSentiCorp)
model.py       the encoder + a head over the chosen representation (one layer, or ELMo's scalar mix of all
               layers): of the text for a sentence task, of each token for a token task
data.py        the tasks' labelled rows: SST-2, CoNLL-2003 entities, ChnSentiCorp, an uploaded file
batches.py     rows -> piece ids -> padded batches (sentence and token rows alike)
tokens.py      token tasks: a word's label on its first piece, entity F1 (seqeval), tagging a sentence
train.py       one time-boxed training run per strategy: loss and dev-metric curves, the final metric
two_stage.py   stage one of two-stage fine-tuning: masked-LM steps on the task's own texts
multitask.py   the second task of multi-task fine-tuning (the other kind: entities for a sentence task, SST-2
               sentiment for the entity task) on the shared encoder
fewshot.py     the prompt tab's SetFit and prompt-based fine-tuning, entered in the same comparison
self_ensemble.py  checkpoint averaging and self-distillation (torch's AveragedModel)
supervised.py  the recipe of the prompt tab's supervised backend (full fine-tuning on all of SST-2)
runner.py      a run as the tab drives it: one at a time, live points, Cancel, variants in the model store
recorded.py    the recorded comparison (every strategy x seeds, equal steps): record, load, summarise
__main__.py    `python -m models.lab strategies | run | record | recorded | supervised` (the code the tab runs)
"""
