"""The lab as the tab drives it: live curve points, one training at a time with the place in line, Cancel,
trained variants kept in the model store and dropped, and uploads refused with a message that names the
problem."""
import time

import pytest

from models import readers
from models.errors import InputError
from models.lab import data, runner
from models.loading import MODEL_CACHE


@pytest.fixture(scope="module")
def tiny():
    return data.load_task("sst2", examples=64, seed=0, dev_size=40)


def _wait(run, timeout=300):
    assert run.finished.wait(timeout), "the run did not finish"


def test_a_run_reports_points_while_it_trains_and_keeps_its_variants_until_dropped(tiny):
    run = runner.start(tiny, ["frozen-top", "bitfit"], seconds=5)
    _wait(run)
    assert run.error is None and [r.strategy for r in run.results] == ["frozen-top", "bitfit"]
    for name in run.strategies:
        steps = [p[0] for p in run.points[name]]
        assert steps and steps == sorted(steps) and all(0 <= p[2] <= 1 for p in run.points[name])
        assert run.lines[name].startswith("done")
    rows = runner.classify(run, "A wonderful, moving film.")
    assert [r["strategy"] for r in rows] == ["frozen-top", "bitfit"]
    assert all(r["label"] in tiny.labels and 0.5 <= r["probability"] <= 1 for r in rows)
    tensors = runner.trained_tensors(run, "bitfit")
    assert tensors and all(n.endswith("bias") or n.startswith("head") for n in tensors)
    runner.drop(run.id)
    assert runner.get_run(run.id) is None and not MODEL_CACHE.is_loaded(("lab", run.id, "bitfit"))


def test_one_training_at_a_time_the_next_waits_with_its_place_and_cancel_stops_both(tiny):
    first = runner.start(tiny, ["full"], seconds=60)
    second = runner.start(tiny, ["frozen-top"], seconds=5)
    deadline = time.time() + 60
    while not first.points["full"] and time.time() < deadline:  # the first one is training
        time.sleep(0.2)
    assert first.position == 0 and second.position == 1 and second.lines["frozen-top"] == "waiting"
    t0 = time.time()
    first.cancel()
    second.cancel()
    _wait(first, 60)
    _wait(second, 60)
    assert time.time() - t0 < 30  # stopped at the next step, not after the 60 s budget
    assert "cancelled" in first.lines["full"] and not second.results
    runner.drop(first.id)
    runner.drop(second.id)


@pytest.mark.parametrize("strategies_, seconds, match", [
    ([], 30, "at least one strategy"), (["no-such"], 30, "Unknown strategy"), (["full"], 1000, "between 5"),
])
def test_bad_choices_get_a_clear_message(tiny, strategies_, seconds, match):
    with pytest.raises(InputError, match=match):
        runner.start(tiny, strategies_, seconds)


def _write(tmp_path, name, text, encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return str(path)


def test_an_uploaded_file_trains_with_its_own_labels(tmp_path):
    rows = [f"great film number {i}\tgood" for i in range(15)] + [f"dull film number {i}\tbad" for i in range(15)]
    task = data.load_task("upload", 100, upload=_write(tmp_path, "ok.tsv", "text\tlabel\n" + "\n".join(rows)))
    assert task.labels == ["bad", "good"] and len(task.dev) == 6 and len(task.train) == 24
    assert not {t for t, _ in task.dev} & {t for t, _ in task.train}


@pytest.mark.parametrize("name,text,encoding,match", [
    ("cols.csv", "review_text,stars\nnice,5\n", "utf-8", "needs a column named 'text'"),
    ("one.csv", "text,label\n" + "".join(f"film {i},pos\n" for i in range(30)), "utf-8", "at least two classes"),
    ("few.csv", "text,label\nnice,pos\nbad,neg\n", "utf-8", "at least 20"),
    ("latin.csv", "text,label\n" + "".join(f"caf\u00e9 {i},{i % 2}\n" for i in range(30)), "latin-1", "not UTF-8"),
    ("ids.csv", "text,label\n" + "".join(f"film {i},{i}\n" for i in range(30)), "utf-8", "30 different values"),
])
def test_a_bad_upload_is_refused_with_its_problem_named(tmp_path, name, text, encoding, match):
    with pytest.raises(InputError, match=match):
        data.load_task("upload", 100, upload=_write(tmp_path, name, text, encoding))


def test_a_huge_upload_is_refused_by_size(tmp_path):
    path = tmp_path / "huge.csv"
    path.write_text("text,label\n" + ("x" * 1000 + ",a\n") * (readers.MAX_UPLOAD_BYTES // 1000 + 10))
    with pytest.raises(InputError, match="limit is 20 MB"):
        data.load_task("upload", 100, upload=str(path))
