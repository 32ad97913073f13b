"""One fixture engine per checklist row, each breaking exactly that row: the check names that rule,
at the right file and line, and no other rule fails."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from conformance.template import (
    ENGINEKIT_SERVER,
    LOAD_LINE,
    NAME,
    REFERENCE_SERVER,
    check,
    edit,
    failing_rules,
    line_of,
    make_repo,
)
from enginekit.conformance import RULES, EngineReport

ENGINE = f"engines/tts/{NAME}"
SERVER, DOCKERFILE, YAML = f"{ENGINE}/server.py", f"{ENGINE}/Dockerfile", f"{ENGINE}/engine.yaml"
ENTRYPOINT_COPY = "COPY scripts/docker-entrypoint.sh ./\n"
CHMOD = "RUN chmod +x /app/docker-entrypoint.sh\n"
SYMLINK = "            model_path.symlink_to(external_path)\n"
DOWNLOAD = "            download_model(self.catalog[model_name], external_path)\n"
Mutation = Callable[[Path], None]


def change(rel: str, old: str, new: str) -> Mutation:
    return lambda root: edit(root / rel, old, new)


def remove(rel: str, text: str) -> Mutation:
    return change(rel, text, "")


def in_load(code: str) -> Mutation:
    """Insert a line into load_model, right after model_path is built."""
    return change(SERVER, LOAD_LINE, f"{LOAD_LINE}        {code}\n")


def both(*mutations: Mutation) -> Mutation:
    def apply(root: Path) -> None:
        for mutation in mutations:
            mutation(root)

    return apply


@dataclass(frozen=True)
class Case:
    id: str
    rule: str
    mutate: Mutation
    file: str  # relative to the repository root
    marker: str | None  # text on the reported line; None when the finding has no line
    server: str = REFERENCE_SERVER


CASES = [
    # server.py: the checklist's five rows, and writes into models_dir
    Case("hard-coded-app-models", "server.reads-models-dir",
         change(SERVER, "model_path = self.models_dir / model_name",
                'model_path = Path("/app/models") / model_name'),
         SERVER, 'Path("/app/models")'),
    Case("hard-coded-app-models-in-subclass", "server.reads-models-dir",
         in_load('self.cache = "/app/models/cache"'), SERVER, "/app/models/cache",
         ENGINEKIT_SERVER),
    Case("download-into-models-dir", "server.downloads-to-external",
         change(SERVER, DOWNLOAD, DOWNLOAD.replace("external_path)", "model_path)")),
         SERVER, "download_model(self.catalog"),
    Case("cache-variable-into-models-dir", "server.downloads-to-external",
         in_load('os.environ["HF_HOME"] = str(self.models_dir)'), SERVER, "HF_HOME",
         ENGINEKIT_SERVER),
    Case("loader-download-root-in-models-dir", "server.downloads-to-external",
         in_load("self.model = WhisperModel(model_name, download_root=str(model_path))"),
         SERVER, "download_root", ENGINEKIT_SERVER),
    Case("download-goes-elsewhere", "server.downloads-to-external",
         change(SERVER, DOWNLOAD, DOWNLOAD.replace(", external_path)", ")")),
         SERVER, "download_model(self.catalog"),
    Case("hard-coded-app-external-models", "server.downloads-to-external",
         in_load('self.cache = Path("/app/external_models")'), SERVER, "/app/external_models",
         ENGINEKIT_SERVER),
    Case("no-symlink-after-download", "server.symlink-after-download",
         remove(SERVER, SYMLINK), SERVER, "download_model(self.catalog"),
    Case("symlink-before-download", "server.symlink-after-download",
         change(SERVER, DOWNLOAD + SYMLINK, SYMLINK + DOWNLOAD), SERVER, "symlink_to"),
    Case("download-without-exists-check", "server.baked-in-precedence",
         change(SERVER, "if not model_path.exists():", "if model_name:"),
         SERVER, "download_model(self.catalog"),
    Case("discovery-scans-external-models-dir", "server.discovery-scans-models-dir",
         change(SERVER, "self.models_dir.iterdir()", "self.external_models_dir.iterdir()"),
         SERVER, "iterdir"),
    Case("no-discovery-of-models-dir", "server.discovery-scans-models-dir",
         change(SERVER, "sorted(path.name for path in self.models_dir.iterdir())",
                "sorted(self.catalog)"),
         SERVER, "def get_available_models"),
    Case("subclass-lists-external-models-dir", "server.discovery-scans-models-dir",
         in_load("names = os.listdir(self.external_models_dir)"), SERVER, "os.listdir",
         ENGINEKIT_SERVER),
    Case("subclass-writes-into-models-dir", "server.models-dir-read-only",
         in_load('(model_path / "cache.json").write_text("{}")'), SERVER, "write_text",
         ENGINEKIT_SERVER),
    Case("subclass-copies-into-models-dir", "server.models-dir-read-only",
         in_load('shutil.copytree("/tmp/voice", os.path.join(self.models_dir, model_name))'),
         SERVER, "copytree", ENGINEKIT_SERVER),
    Case("opens-a-models-dir-file-for-writing", "server.models-dir-read-only",
         in_load('open(model_path / "state.json", "w").close()'), SERVER, "state.json"),
    # Dockerfile
    Case("models-not-copied", "dockerfile.copy-models",
         remove(DOCKERFILE, f"COPY {ENGINE}/models/ ./models/\n"), DOCKERFILE, None),
    Case("models-copied-elsewhere", "dockerfile.copy-models",
         change(DOCKERFILE, "./models/", "/opt/models/"), DOCKERFILE, "/opt/models/"),
    Case("entrypoint-not-copied", "dockerfile.copy-entrypoint",
         remove(DOCKERFILE, ENTRYPOINT_COPY), DOCKERFILE, None),
    Case("entrypoint-source-missing", "dockerfile.copy-entrypoint",
         lambda root: (root / "scripts" / "docker-entrypoint.sh").unlink(),
         DOCKERFILE, ENTRYPOINT_COPY.strip()),
    Case("entrypoint-not-executable", "dockerfile.entrypoint-executable",
         remove(DOCKERFILE, CHMOD), DOCKERFILE, ENTRYPOINT_COPY.strip()),
    Case("chmod-before-copy", "dockerfile.entrypoint-executable",
         change(DOCKERFILE, ENTRYPOINT_COPY + CHMOD, CHMOD + ENTRYPOINT_COPY),
         DOCKERFILE, "chmod"),
    Case("samples-dir-not-created", "dockerfile.standard-dirs",
         change(DOCKERFILE, " /app/samples", ""), DOCKERFILE, "mkdir"),
    Case("brace-expansion-in-sh", "dockerfile.standard-dirs",
         change(DOCKERFILE, "/app/models /app/external_models /app/samples",
                "/app/{models,external_models,samples}"),
         DOCKERFILE, "mkdir"),
    Case("no-entrypoint", "dockerfile.entrypoint",
         remove(DOCKERFILE, 'ENTRYPOINT ["/app/docker-entrypoint.sh"]\n'), DOCKERFILE, None),
    Case("entrypoint-shell-form", "dockerfile.entrypoint",
         change(DOCKERFILE, '["/app/docker-entrypoint.sh"]', "/app/docker-entrypoint.sh"),
         DOCKERFILE, "ENTRYPOINT"),
    Case("entrypoint-script-never-execs-cmd", "dockerfile.entrypoint",
         remove("scripts/docker-entrypoint.sh", 'exec "$@"\n'), DOCKERFILE, "ENTRYPOINT"),
    Case("cmd-binds-localhost", "dockerfile.cmd",
         change(DOCKERFILE, " --host 0.0.0.0", ""), DOCKERFILE, "CMD"),
    Case("cmd-exec-form-leaves-port-unexpanded", "dockerfile.cmd",
         change(DOCKERFILE, '["sh", "-c", "python server.py --port ${PORT:-8766} --host 0.0.0.0"]',
                '["python", "server.py", "--port", "${PORT}", "--host", "0.0.0.0"]'),
         DOCKERFILE, "CMD"),
    Case("cmd-fixed-port", "dockerfile.cmd",
         change(DOCKERFILE, "${PORT:-8766}", "8766"), DOCKERFILE, "CMD"),
    # .dockerignore
    Case("no-exception-for-baked-in-models", "dockerignore.models-in-context",
         remove(".dockerignore", f"!{ENGINE}/models/\n"), ".dockerignore", "**/models/"),
    Case("exception-before-exclusion", "dockerignore.models-in-context",
         change(".dockerignore", f"**/models/\n!{ENGINE}/models/\n",
                f"!{ENGINE}/models/\n**/models/\n"),
         ".dockerignore", "**/models/"),
    Case("whole-engine-copied-without-models", "dockerignore.models-in-context",
         both(remove(DOCKERFILE, f"COPY {ENGINE}/models/ ./models/\n"),
              change(DOCKERFILE, f"COPY {ENGINE}/server.py {ENGINE}/engine.yaml ./",
                     f"COPY {ENGINE}/ ./"),
              remove(".dockerignore", f"!{ENGINE}/models/\n")),
         ".dockerignore", "**/models/"),
    # engine.yaml
    Case("schema-version", "manifest.schema",
         change(YAML, "schema_version: 2", "schema_version: 3"), YAML, "schema_version"),
    Case("schema-platform", "manifest.schema",
         change(YAML, "[linux/amd64]", "[windows/amd64]"), YAML, "windows/amd64"),
    Case("schema-source-scheme", "manifest.schema",
         change(YAML, "    display_name: Default\n",
                '    display_name: Default\n    source: {url: "ftp://example.com/m.bin"}\n'),
         YAML, "ftp://"),
    Case("name-differs-from-directory", "manifest.name",
         change(YAML, f"name: {NAME}", "name: other-tts"), YAML, "name: other-tts"),
    Case("engine-type-differs-from-parent", "manifest.engine-type",
         change(YAML, "engine_type: tts", "engine_type: stt"), YAML, "engine_type"),
    Case("default-model-not-in-models", "manifest.default-model",
         change(YAML, "default_model: default", "default_model: missing"), YAML, "default_model"),
    Case("tts-without-max-text-length", "manifest.max-text-length",
         remove(YAML, "constraints:\n  max_text_length: 1000\n"), YAML, None),
    Case("python-version-differs", "manifest.python-version",
         change(YAML, '"3.11"', '"3.12"'), YAML, "python_version"),
    Case("base-image-arg-differs", "manifest.python-version",
         change(DOCKERFILE, "python:3.11-slim", "python:3.12-slim"), YAML, "python_version"),
]  # fmt: skip


def describe(report: EngineReport) -> str:
    return "\n".join(f"{f.rule} {f.location()} {f.message}" for f in report.failures)


@pytest.mark.parametrize("server", [REFERENCE_SERVER, ENGINEKIT_SERVER], ids=["reference", "base"])
def test_the_template_engine_conforms(tmp_path: Path, server: str) -> None:
    report = check(make_repo(tmp_path, server))
    assert report.passed, describe(report)
    assert all(f.status.value == "pass" for f in report.findings)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_breaking_one_row_fails_exactly_that_rule_at_its_place(tmp_path: Path, case: Case) -> None:
    engine = make_repo(tmp_path, case.server)
    case.mutate(tmp_path)
    report = check(engine)
    assert failing_rules(report) == {case.rule}, describe(report)
    path = (tmp_path / case.file).resolve()
    line = line_of(path, case.marker) if case.marker else None
    assert {(f.file, f.line) for f in report.failures} == {(path, line)}, describe(report)
    assert all(f.fix for f in report.failures)


def test_every_rule_has_a_breaking_fixture() -> None:
    assert {c.rule for c in CASES} == set(RULES)


def test_a_missing_models_copy_names_the_copy_to_add(tmp_path: Path) -> None:
    engine = make_repo(tmp_path)
    remove(DOCKERFILE, f"COPY {ENGINE}/models/ ./models/\n")(tmp_path)
    [finding] = check(engine).failures
    assert finding.fix == f"COPY {ENGINE}/models/ ./models/"


def test_dockerignore_failure_names_the_line_to_add(tmp_path: Path) -> None:
    engine = make_repo(tmp_path)
    remove(".dockerignore", f"!{ENGINE}/models/\n")(tmp_path)
    [finding] = check(engine).failures
    assert f"`!{ENGINE}/models/`" in finding.fix
    assert f'failed to compute cache key: "/{ENGINE}/models": not found' in finding.message
    # Adding exactly that line is enough.
    with (tmp_path / ".dockerignore").open("a") as ignore:
        ignore.write(f"!{ENGINE}/models/\n")
    assert check(engine).passed
