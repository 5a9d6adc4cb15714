"""The chapter's lessons name only presets, sweep lessons and metrics that exist, in the chapter's order."""

from __future__ import annotations

from models.lessons import LESSONS
from models.metrics import METRICS
from models.presets import PRESETS
from models.sweeps import SWEEP_LESSONS


def test_every_lesson_names_existing_presets_sweeps_and_metrics_and_shows_something():
    metrics = {m.name for m in METRICS}
    for lesson in LESSONS:
        together = [name for names in lesson.together for name in names]
        assert set(lesson.problem + lesson.fix) | set(together) <= set(PRESETS), lesson.name
        assert set(lesson.sweeps) <= set(SWEEP_LESSONS), lesson.name
        assert set(lesson.watch) <= metrics, lesson.name
        assert lesson.problem or lesson.fix or lesson.sweeps or lesson.together, lesson.name


def test_the_taxonomy_comes_first_then_the_problems_in_the_chapters_order_then_the_fixes():
    kinds = [lesson.kind for lesson in LESSONS]
    assert kinds == sorted(kinds, key=["taxonomy", "problem", "fix"].index)
    assert LESSONS[0].name == "density-families"
    assert [lesson.name for lesson in LESSONS if lesson.kind == "problem"] == [
        "non-convergence",
        "mode-collapse",
        "diminished-gradient",
        "imbalance",
        "hyperparameter-sensitivity",
    ]
    assert len({lesson.name for lesson in LESSONS}) == len(LESSONS)


def test_every_preset_and_sweep_lesson_is_taught_by_some_lesson():
    """A preset no lesson names is missing from the page's gallery and the README's lesson order."""
    named = {
        name for lesson in LESSONS for name in (*lesson.problem, *lesson.fix, *(n for s in lesson.together for n in s))
    }
    assert set(PRESETS) - named == set()
    assert set(SWEEP_LESSONS) == {name for lesson in LESSONS for name in lesson.sweeps}


def test_the_density_lesson_runs_one_family_of_each_kind_on_each_dataset():
    """Explicit (MADE), approximate (VAE, AE) and implicit (GAN) density, every set on one dataset: side by side,
    the families differ and the data does not."""
    (lesson,) = [lesson for lesson in LESSONS if lesson.kind == "taxonomy"]
    for names in lesson.together:
        configs = [PRESETS[name].config() for name in names]
        assert sorted(c.model.family for c in configs) == ["ae", "gan", "made", "vae"], names
        assert len({c.dataset.model_dump_json() for c in configs}) == 1, names
        assert len(names) <= 4  # what the compare view shows at once
