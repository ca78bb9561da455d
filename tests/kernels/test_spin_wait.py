"""The team's hand-off: a spin that sees another thread's change, and the sleep it falls back to."""
import threading
import time

import numpy as np
import pytest

from handgrad.kernels import spin_wait, threads


def test_a_spin_sees_a_change_made_by_another_thread():
    flag = np.zeros(1, np.int64)
    timer = threading.Timer(0.01, lambda: flag.__setitem__(0, 1))
    timer.start()
    # Reads without end: it returns only if a read inside the loop sees the change (else the test hangs).
    assert spin_wait.until_changed(flag, 0, 1 << 62)
    timer.join()


def test_a_spin_that_sees_no_change_ends_after_its_reads():
    flag = np.full(1, 7, np.int64)
    assert not spin_wait.until_changed(flag, 7, 1000)
    assert spin_wait.until_changed(flag, 6, 0)  # no reads but the last: already different
    assert spin_wait.spins_per_second() > 1e5


@pytest.mark.parametrize("spin_seconds", [0.0, 1e-9, 0.05], ids=["sleep", "spin-then-sleep", "spin"])
def test_the_team_hands_tasks_out_and_back_whether_it_spins_or_sleeps(spin_seconds, monkeypatch):
    before = threads.num_threads()
    monkeypatch.setattr(threads, "SPIN_SECONDS", spin_seconds)
    monkeypatch.setattr(threads, "_available_cpus", lambda: 3)  # spin even on fewer cores
    try:
        threads.set_num_threads(1)
        threads.set_num_threads(3)  # a new team, made with this spin
        if threads.num_threads() < 3:
            pytest.skip("threadpoolctl finds no BLAS it can control in this process: the fast kernels run one thread")
        team = threads._get_team()
        assert all(s.spins == threads._spins(3) for s in team.posted + team.finished)
        assert (team.posted[0].spins == 0) == (spin_seconds == 0.0)
        for pause in (0.0, 0.02):  # 20 ms between calls: past a short spin, the workers sleep
            seen = []

            def record(lo, hi, seen=seen):
                seen.append((lo, hi))

            for _ in range(20):
                threads.parallel_for(record, 12, 1)
                time.sleep(pause)
            assert sorted(seen) == sorted([(i, i + 1) for i in range(12)] * 20)
        with pytest.raises(KeyError, match="boom"):
            threads.parallel_for(lambda lo, hi: (_ for _ in ()).throw(KeyError("boom")) if lo == 11 else None, 12, 1)
        threads.parallel_for(lambda lo, hi: None, 12, 1)  # the team still works after an error
    finally:
        threads.set_num_threads(before)


def test_no_spin_in_a_team_larger_than_the_cpus(monkeypatch):
    monkeypatch.setattr(threads, "_available_cpus", lambda: 2)
    assert threads._spins(3) == 0
    assert threads._spins(2) > 0
    monkeypatch.setattr(threads, "SPIN_SECONDS", 0.0)
    assert threads._spins(2) == 0
