"""The progress reporter of long-running management commands."""

from __future__ import annotations

import io

import pytest

from quickscale.core.progress import Progress


class Clock:
    """Seconds that advance only when a test says so."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_log_gets_a_line_every_tenth_of_the_work() -> None:
    stream = io.StringIO()
    progress = Progress(stream, "Expiring")

    for done in range(1, 1001):
        progress(done, 1000)

    lines = stream.getvalue().splitlines()
    assert len(lines) == 10
    assert lines[0].startswith("Expiring: 100/1000 (10%)")
    assert lines[-1].startswith("Expiring: 1000/1000 (100%)")


def test_a_log_gets_a_line_every_n_items_when_asked() -> None:
    stream = io.StringIO()
    progress = Progress(stream, "Verifying", every=3)

    for done in range(1, 8):
        progress(done, 7)

    assert [line.split(" (")[0] for line in stream.getvalue().splitlines()] == [
        "Verifying: 3/7",
        "Verifying: 6/7",
        "Verifying: 7/7",
    ]


def test_a_small_job_in_a_log_reports_every_item() -> None:
    stream = io.StringIO()
    progress = Progress(stream, "Job")

    for done in range(1, 4):
        progress(done, 3)

    assert [line.split(" (")[0] for line in stream.getvalue().splitlines()] == [
        "Job: 1/3",
        "Job: 2/3",
        "Job: 3/3",
    ]


def test_a_line_shows_the_rate_once_time_has_passed() -> None:
    stream = io.StringIO()
    clock = Clock()
    progress = Progress(stream, "Job", clock=clock)

    clock.now += 4
    progress(50, 100)

    assert stream.getvalue() == "Job: 50/100 (50%) 12.5/s\n"


def test_no_rate_is_shown_before_any_time_has_passed() -> None:
    stream = io.StringIO()
    progress = Progress(stream, "Job", clock=Clock())

    progress(1, 1)

    assert stream.getvalue() == "Job: 1/1 (100%)\n"


def test_a_terminal_gets_one_line_redrawn_in_place_with_a_bar() -> None:
    stream = Terminal()
    clock = Clock()
    progress = Progress(stream, "Job", clock=clock)

    clock.now += 1
    progress(1, 2)
    clock.now += 1
    progress(2, 2)

    output = stream.getvalue()
    assert output.count("\n") == 1
    assert output.endswith("\n")
    first, last = output.rstrip("\n").split("\r")[1:]
    assert first.startswith("Job [" + "#" * 15 + "-" * 15 + "] 1/2 (50%) 1.0/s")
    assert last.startswith("Job [" + "#" * 30 + "] 2/2 (100%) 1.0/s")


def test_a_terminal_is_redrawn_at_most_ten_times_a_second_but_always_at_the_end() -> None:
    stream = Terminal()
    progress = Progress(stream, "Job", clock=Clock())

    for done in range(1, 101):
        progress(done, 100)

    draws = stream.getvalue().split("\r")[1:]
    assert len(draws) == 2
    assert "1/100 (1%)" in draws[0]
    assert "100/100 (100%)" in draws[1]


def test_closing_ends_a_terminal_line_left_open_by_unfinished_work() -> None:
    stream = Terminal()

    with Progress(stream, "Job") as progress:
        progress(1, 10)

    assert stream.getvalue().endswith("\n")


def test_closing_adds_nothing_when_the_work_finished() -> None:
    stream = Terminal()

    with Progress(stream, "Job") as progress:
        progress(1, 1)

    assert stream.getvalue().count("\n") == 1


def test_the_stream_decides_whether_it_is_a_terminal_unless_told() -> None:
    assert Progress(Terminal(), "Job").tty is True
    assert Progress(io.StringIO(), "Job").tty is False
    assert Progress(io.StringIO(), "Job", tty=True).tty is True


def test_an_empty_job_counts_as_done() -> None:
    stream = io.StringIO()

    Progress(stream, "Job", clock=Clock())(0, 0)

    assert stream.getvalue() == "Job: 0/0 (100%)\n"


def test_every_must_be_positive() -> None:
    with pytest.raises(ValueError, match="every must be a positive number"):
        Progress(io.StringIO(), "Job", every=0)
