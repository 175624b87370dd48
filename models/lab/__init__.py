"""Fine-tuning lab: how a pre-trained encoder is adapted to a task, strategy by strategy, on the same data.

strategies.py  the named strategies (which layer feeds the head, frozen or tuned, adaptation modules,
               schedules) and what each makes trainable
model.py       the MiniLM encoder + a classification head over the chosen representation (one layer, or
               ELMo's scalar mix of all layers)
data.py        the tasks' labelled rows (SST-2 from the prepared corpora, else the shipped sample)
train.py       one time-boxed training run per strategy: loss and dev-accuracy curves, the final metric
two_stage.py   stage one of two-stage fine-tuning: masked-LM steps on the task's own texts
multitask.py   the second task of multi-task fine-tuning (CoNLL-2003 entities on the shared encoder)
runner.py      a run as the tab drives it: one at a time, live points, Cancel, variants in the model store
recorded.py    the recorded comparison (every strategy x seeds, equal steps): record, load, summarise
__main__.py    `python -m models.lab strategies | run | record | recorded` (the same code the tab runs)
"""
