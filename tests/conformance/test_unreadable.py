"""A Dockerfile that dockerfile-parse rejects (here an ENV continued into the next instruction) is
reported as a finding with its reason, never a traceback: every group still gives its verdicts."""

from __future__ import annotations

from pathlib import Path

from conformance.template import check, edit, make_repo
from enginekit.conformance import Status


def test_a_dockerfile_the_parser_rejects_fails_one_rule_and_skips_the_rest(tmp_path: Path) -> None:
    engine = make_repo(tmp_path)
    edit(engine / "Dockerfile", "WORKDIR /app\n", "ENV PYTHONUNBUFFERED=1 \\\nWORKDIR /app\n")
    report = check(engine)
    statuses = {f.rule: f.status for f in report.findings}
    [failure] = report.failures
    assert failure.rule == "dockerfile.copy-models"
    assert failure.message.startswith("Dockerfile cannot be read: ")
    assert "WORKDIR" in failure.message
    dockerfile_rules = [r for r in statuses if r.startswith("dockerfile.")]
    assert all(statuses[r] is Status.SKIP for r in dockerfile_rules[1:])
    assert statuses["dockerignore.models-in-context"] is Status.SKIP
    assert statuses["manifest.python-version"] is Status.SKIP
    assert statuses["server.reads-models-dir"] is Status.PASS
