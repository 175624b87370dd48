"""Fine-tuning lab: how a pre-trained encoder is adapted to a task, strategy by strategy, on the same data.

strategies.py  the named strategies (which layer feeds the head, frozen or tuned, adaptation modules,
               schedules) and what each makes trainable
model.py       the MiniLM encoder + a classification head over the chosen representation (one layer, or
               ELMo's scalar mix of all layers)
data.py        the tasks' labelled rows (SST-2 from the prepared corpora, else the shipped sample)
train.py       one time-boxed training run per strategy: loss and dev-accuracy curves, the final metric
__main__.py    `python -m models.lab strategies | run` (the same code a tab will run)
"""
