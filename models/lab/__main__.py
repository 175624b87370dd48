"""Fine-tuning lab from the command line (the same code a tab runs).

    python -m models.lab strategies
    python -m models.lab run --task sst2 --examples 2000 --seconds 30 [--strategies A B C] [--seed S]
    python -m models.lab record --task sst2 --examples 1000 --max-steps 96 --seeds 0 1 2   (writes RECORDED)
    python -m models.lab recorded                       (the shipped comparison: mean and std per strategy)
    python -m models.lab supervised --epochs 2          (the prompt tab's supervised backend, every SST-2 row)

`run` prints one JSON line per strategy: strategy, task, metric (development accuracy), trainable_params,
stored_mb (the trainable tensors in fp16: what must be kept per task), seconds, steps, epochs.
"""
from __future__ import annotations

import argparse
import json
import sys

from models.errors import InputError
from models.lab import data, recorded, strategies, supervised, train


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m models.lab", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    sub.add_parser("strategies", help="list the strategies, one line each")
    p = sub.add_parser("run", help="train strategies on a task, one JSON line each")
    p.add_argument("--task", default="sst2", choices=data.TASKS)
    p.add_argument("--examples", type=int, default=2000, help="training rows")
    p.add_argument("--seconds", type=float, default=30, help="time budget per strategy")
    p.add_argument("--max-steps", type=int, help="stop each strategy after this many steps (reproducible runs)")
    p.add_argument("--strategies", nargs="+", default=list(strategies.DEFAULT), metavar="NAME")
    p.add_argument("--seed", type=int, default=0)
    p = sub.add_parser("record", help="every strategy x seeds at an equal step budget -> the recorded file")
    p.add_argument("--task", default="sst2", choices=[t for t in data.TASKS if t != "upload"])
    p.add_argument("--examples", type=int, default=1000)
    p.add_argument("--max-steps", type=int, default=96)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--strategies", nargs="+", default=None, metavar="NAME",
                   help="default: every strategy the task's kind allows")
    p.add_argument("--out", default=str(recorded.RECORDED))
    sub.add_parser("recorded", help="the recorded comparison: one JSON line per task and strategy")
    p = sub.add_parser("supervised", help="full fine-tuning on every SST-2 training row -> the supervised backend")
    p.add_argument("--examples", type=int, default=100_000, help="training rows (all of the pool by default)")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(supervised.WEIGHTS))
    args = ap.parse_args(argv)
    if args.command == "recorded":
        for row in recorded.summary(recorded.load()):
            print(json.dumps(row))
        return
    if args.command == "record":
        kind, encoder = data.TASK_KINDS[args.task]
        names = args.strategies or [s.name for s in strategies.STRATEGIES
                                    if not strategies.unsupported(s, kind, encoder)]
        recorded.record(args.task, args.examples, args.max_steps, args.seeds, names, args.out,
                        " ".join(["python -m models.lab", *(argv if argv is not None else sys.argv[1:])]))
        return
    if args.command == "supervised":
        meta = supervised.train_supervised(args.examples, args.epochs, args.seed, args.out,
                                           " ".join(["python -m models.lab", *(argv if argv is not None else sys.argv[1:])]))
        print(json.dumps(meta))
        return
    if args.command == "strategies":
        for s in strategies.STRATEGIES:
            print(f"{s.name:20} {s.group:18} {s.summary}")
        return
    try:
        for name in args.strategies:
            strategies.get(name)  # every name checked before the first one trains
        task = data.load_task(args.task, args.examples, args.seed)
        print(f"# {task.source}", file=sys.stderr)
        for name in args.strategies:
            res = train.run(name, task, args.seconds, args.seed, args.max_steps)
            print(json.dumps(res.summary()), flush=True)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2)


if __name__ == "__main__":
    main()
