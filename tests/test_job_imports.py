"""What a job loads before it starts work: torch (2-4 s of a job's start on 2 cores) only in
the jobs that run or read the network."""

from __future__ import annotations

import json
import subprocess
import sys

from .conftest import REPO
from .test_architecture import vvcjnd_imports

SCRIPTS = REPO / "workflow" / "scripts"
# jobs that run the network or read a checkpoint (torch.load)
NETWORK_JOBS = {"train_model", "use_checkpoint", "infer_image", "evaluate_jnd_qp",
                "evaluate_models"}  # fmt: skip


def test_only_the_network_jobs_load_torch():
    scripts = sorted(SCRIPTS.glob("*.py"))
    assert NETWORK_JOBS <= {script.stem for script in scripts}
    jobs = {
        script.stem: sorted({name for _, name in vvcjnd_imports(script.read_text(), script.stem)})
        for script in scripts
        if script.stem not in NETWORK_JOBS
    }
    assert all(jobs.values())
    result = subprocess.run(
        [sys.executable, str(REPO / "tests" / "job_imports.py")],
        input=json.dumps(jobs), capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = json.loads(result.stdout)
    assert sorted(loaded) == sorted(jobs)
    assert [job for job, torch in loaded.items() if torch] == []
