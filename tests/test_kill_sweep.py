"""The kill sweep (scripts/kill_sweep.py) in CI: SIGKILL ×3, SIGINT and a full disk, JSONL and CSV."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_kill_sweep_every_id_exactly_once():
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "kill_sweep.py"), "--articles", "1500", "--seed", "7"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "kill sweep passed" in proc.stdout
    assert proc.stdout.count('"disk full", 2,') == 2          # the full disk was met and reported, both formats
