"""The glibc tuning that keeps the encoder's freed buffers warm: applied once, skippable, never fatal."""
import platform

import pytest

from healthtag.models import allocator


@pytest.fixture
def fresh(monkeypatch):
    monkeypatch.setattr(allocator, "_applied", None)
    return allocator


def test_opt_out_leaves_the_allocator_alone(fresh, monkeypatch):
    monkeypatch.setenv("HEALTHTAG_SYSTEM_MALLOC", "1")
    assert fresh.keep_freed_buffers() is False
    monkeypatch.delenv("HEALTHTAG_SYSTEM_MALLOC")
    assert fresh.keep_freed_buffers() is False   # the first call decided for the process


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_applies_on_glibc(fresh, monkeypatch):
    monkeypatch.delenv("HEALTHTAG_SYSTEM_MALLOC", raising=False)
    assert fresh.keep_freed_buffers() is True
    assert fresh.keep_freed_buffers() is True


def test_other_platforms_are_left_alone(fresh, monkeypatch):
    monkeypatch.delenv("HEALTHTAG_SYSTEM_MALLOC", raising=False)
    monkeypatch.setattr(allocator.platform, "system", lambda: "Darwin")
    assert fresh.keep_freed_buffers() is False


def test_bench_can_say_what_a_child_will_run_with():
    env = {"HEALTHTAG_SYSTEM_MALLOC": "1"}
    assert allocator.why_not_tuned(env) == "HEALTHTAG_SYSTEM_MALLOC=1"
    assert "system defaults" in allocator.describe(env)
    if platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
        assert allocator.why_not_tuned({}) is None and "keeps freed" in allocator.describe({})
