"""The environment the driver gives its children (`bench.driver.child_env`)."""

from __future__ import annotations

from bench.driver import child_env


def test_children_give_numpys_blas_one_thread_unless_the_user_set_it(monkeypatch):
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    monkeypatch.setenv("SOME_USER_SETTING", "kept")
    env = child_env()
    assert env["OPENBLAS_NUM_THREADS"] == "1"  # the untimed reference's BLAS: no spinning thread
    assert env["PYTHONUNBUFFERED"] == "1" and env["SOME_USER_SETTING"] == "kept"
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "4")
    assert child_env()["OPENBLAS_NUM_THREADS"] == "4"
