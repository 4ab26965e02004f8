"""The competing-load detector on injected readings: each signal flags, and says what it saw."""

import pytest

from bench.load import LoadReading, assess, read_load

QUIET = dict(loadavg=0.5, busy_s=100.0, steal_s=1.0, total_s=1000.0, own_s=10.0, calibration_s=1e-3)


def _pair(seconds=10.0, **after):
    """Readings `seconds` apart on a 2-CPU machine; `after` overrides the second's fields, and by
    default this process used 1 CPU and nothing else ran."""
    before = LoadReading(wall_s=0.0, **QUIET)
    quiet_after = dict(QUIET, busy_s=100.0 + seconds, total_s=1000.0 + 2 * seconds, own_s=10.0 + seconds)
    return before, LoadReading(wall_s=seconds, **{**quiet_after, **after})


def test_a_quiet_machine_is_not_contended():
    contended, note = assess(*_pair(), pinned=1, cpus=2)
    assert not contended
    assert "others used 0.00 CPUs" in note and "calibration drift +0.0%" in note


def test_others_on_our_cpus_are_detected():
    # This process (pinned to 1 of 2 CPUs) used 10 s; the machine was busy for 25 s: others used
    # 1.5 CPUs, more than the 1 CPU left free, so they ran on ours.
    contended, note = assess(*_pair(busy_s=125.0), pinned=1, cpus=2)
    assert contended and "other processes used 1.50 CPUs" in note
    # The same others beside a process pinned to both CPUs, and within the free CPU: 0.8 of it.
    assert assess(*_pair(busy_s=125.0), pinned=2, cpus=2)[0]
    assert not assess(*_pair(busy_s=118.0), pinned=1, cpus=2)[0]


def test_steal_load_and_calibration_drift_are_detected():
    steal = assess(*_pair(steal_s=3.0, total_s=1020.0), pinned=1, cpus=2)  # 2 s of 20: 10 %
    assert steal[0] and "stole 10.0%" in steal[1]
    load = assess(*_pair(loadavg=3.5), pinned=1, cpus=2)
    assert load[0] and "load average 3.50 on 2 CPUs" in load[1]
    assert not assess(*_pair(loadavg=2.5), pinned=2, cpus=2)[0]  # our own threads and a lag
    slower = assess(*_pair(calibration_s=1.2e-3), pinned=1, cpus=2)
    assert slower[0] and "changed by +20.0%" in slower[1]
    assert not assess(*_pair(calibration_s=1.05e-3), pinned=1, cpus=2)[0]


@pytest.mark.parametrize("missing", ["busy_s", "loadavg", "calibration_s"])
def test_a_missing_reading_is_left_out_not_guessed(missing):
    before, after = _pair(**{"busy_s": 125.0, missing: None})
    contended, note = assess(before, after, pinned=1, cpus=2)
    assert contended == (missing != "busy_s")
    assert note


def test_a_real_reading_has_every_field_on_linux():
    r = read_load()
    assert r.calibration_s > 0 and r.own_s > 0
    if r.busy_s is not None:
        assert r.total_s >= r.busy_s >= 0 and r.steal_s >= 0
