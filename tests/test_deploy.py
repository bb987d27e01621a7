"""The deployment files: the one install script that the quick start, CI and the image run; the
Dockerfile, compose.yaml and the Kubernetes manifests under deploy/k8s, each checked against what it
names (the CLI's options, the service's metrics and probes, the Kubernetes and Compose schemas).
No image is built here: there is no Docker engine to build it with."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import kubernetes_validate
import pytest
import yaml

from talkinghead.cli._commands import COMMANDS
from talkinghead.cli._main import _parser
from talkinghead.service import ServiceConfig

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT / "deploy" / "k8s"
INSTALL = "scripts/install.sh"
# The variables boto3 reads itself; talkinghead's own are checked against its source.
AWS_VARIABLES = {"AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"}
# The oldest Kubernetes the manifests are meant for (autoscaling/v2 and networking/v1 are older), and the newest schema known.
KUBERNETES_VERSIONS = ("1.29", kubernetes_validate.latest_version())


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", "\n".join(line for line in (ROOT / "Dockerfile").read_text().splitlines() if not line.lstrip().startswith("#")))
    return [(word.upper(), rest.strip()) for word, _, rest in (line.strip().partition(" ") for line in text.splitlines() if line.strip())]


def instruction(name: str) -> str:
    (value,) = [rest for word, rest in dockerfile() if word == name]
    return value


def image_env() -> dict[str, str]:
    return dict(pair.split("=", 1) for pair in shlex.split(instruction("ENV")))


def compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def with_defaults(value: str) -> str:
    """A Compose value with each ${NAME:-default} replaced by its default, as with nothing set."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)


def manifests() -> dict[str, list[dict]]:
    """The documents of each YAML file of deploy/k8s (and monitoring/), by path relative to it."""
    return {str(path.relative_to(K8S)): list(yaml.safe_load_all(path.read_text())) for path in sorted(K8S.rglob("*.yaml"))}


def resources(kind: str) -> dict[str, dict]:
    found = [doc for docs in manifests().values() for doc in docs if doc.get("kind") == kind]
    return {doc["metadata"]["name"]: doc for doc in found}


def container(deployment: str) -> dict:
    (spec,) = resources("Deployment")[deployment]["spec"]["template"]["spec"]["containers"]
    return spec


def env_file(path: Path) -> dict[str, str]:
    lines = [line for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


def parse_command(argv: list[str], env: dict[str, str], monkeypatch):
    """argv (a talkinghead command line) parsed by the real CLI, with `env` as the environment the
    container gives it; a server's or worker's arguments also make a valid ServiceConfig."""
    assert argv[0] == "talkinghead", argv
    for name in [name for name in os.environ if name.startswith(("TALKINGHEAD_", "AWS_"))]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    command = next(word for word in argv[1:] if not word.startswith("-"))
    try:
        args = _parser(command).parse_args(argv[1:])
    except SystemExit as stopped:
        if stopped.code == 0 and "--help" in argv:  # a README's example of another command
            return None
        pytest.fail(f"talkinghead refuses {shlex.join(argv)}")
    if command in ("serve", "worker"):
        ServiceConfig(database_url=args.database_url, storage=args.storage, work_dir=args.work_dir, workers=args.workers)
    return args


# ---- one install script


def test_every_install_goes_through_the_install_script():
    dockerfile_runs = " ".join(rest for word, rest in dockerfile() if word == "RUN")
    callers = {"Dockerfile": dockerfile_runs, **{name: (ROOT / name).read_text() for name in ("scripts/test.sh", "scripts/demo.sh")}}
    for name, text in callers.items():
        assert INSTALL in text, f"{name} does not run {INSTALL}"
        assert not re.search(r"pip install|-m venv", text), f"{name} installs Python packages itself instead of through {INSTALL}"
    assert "bash scripts/test.sh" in (ROOT / ".ci" / "run").read_text(), "CI no longer runs the README's test command"
    # The image: a copy (not a link to a checkout that is gone after the build), with the service's extras.
    image_install = re.search(rf"{re.escape(INSTALL)}([^&]*)", dockerfile_runs).group(1).split()
    assert "--editable" not in image_install and "--system-packages" in image_install
    assert image_install[image_install.index("--extras") + 1] == "postgres,s3"
    assert "/opt/talkinghead/bin" in image_env()["PATH"] and image_install[image_install.index("--venv") + 1] == "/opt/talkinghead"


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--colour"], "unknown argument: --colour"),
        (["--venv"], "--venv needs a folder"),
        (["--extras"], "--extras needs a comma-separated list"),
        (["--extras", "postgres;s3"], "names separated by commas"),
        (["--extras", "postgres,s4"], "talkinghead has no extra s4; it has postgres, s3"),
    ],
)
def test_install_script_refuses_what_it_cannot_do_before_touching_anything(tmp_path, arguments, message):
    venv = tmp_path / "venv"
    done = subprocess.run(["bash", ROOT / INSTALL, "--venv", str(venv), *arguments], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert not venv.exists()


def test_install_script_help_names_every_option():
    done = subprocess.run(["bash", ROOT / INSTALL, "--help"], capture_output=True, text=True, timeout=60, check=True)
    parsed = set(re.findall(r"^\s+(--[a-z-]+)\)", (ROOT / INSTALL).read_text(), re.MULTILINE))
    assert parsed == {"--venv", "--extras", "--editable", "--system-packages"}
    assert parsed <= set(re.findall(r"--[a-z-]+", done.stdout))


# ---- the image


def test_dockerfile_passes_hadolint():
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not installed (the test extra brings it on Linux and macOS)")
    done = subprocess.run([hadolint, "--failure-threshold", "warning", ROOT / "Dockerfile"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_image_runs_the_service_as_a_non_root_user_and_checks_readiness(monkeypatch):
    entrypoint, command = json.loads(instruction("ENTRYPOINT")), json.loads(instruction("CMD"))
    args = parse_command([*entrypoint, *command], image_env(), monkeypatch)
    assert args.command == "serve" and args.host == "0.0.0.0"
    assert instruction("EXPOSE") == str(args.port)
    assert re.search(rf"http://127\.0\.0\.1:{args.port}/readyz", instruction("HEALTHCHECK"))
    uid = instruction("USER").split(":")[0]
    assert uid.isdigit() and uid != "0", "a numeric non-root user, so Kubernetes' runAsNonRoot can check it"
    assert f"--uid {uid}" in " ".join(rest for word, rest in dockerfile() if word == "RUN")
    # Its defaults keep everything under the user's home, the folder a volume is mounted on.
    home = instruction("WORKDIR")
    assert args.database_url == f"sqlite:///{home}/service.db" and str(args.storage).startswith(home + "/")


def test_dockerignore_leaves_out_environments_and_outputs_but_not_what_the_install_reads():
    ignored = {line for line in (ROOT / ".dockerignore").read_text().splitlines() if line and not line.startswith("#")}
    assert {".git", ".venv", "out", "talkinghead-data", "**/__pycache__", "deploy/k8s/secrets.env"} <= ignored
    assert not ignored & {"src", "scripts", "pyproject.toml", "README.md", "*"}


# ---- Compose


def test_compose_file_matches_the_compose_specification():
    done = subprocess.run(["check-jsonschema", "--builtin-schema", "vendor.compose-spec", ROOT / "compose.yaml"],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"})  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_compose_runs_an_api_only_server_and_separate_workers_on_postgres_and_minio(monkeypatch):
    services = compose()["services"]
    entrypoint = json.loads(instruction("ENTRYPOINT"))
    env = {name: with_defaults(str(value)) for name, value in services["server"]["environment"].items()}
    assert env == {name: with_defaults(str(value)) for name, value in services["worker"]["environment"].items()}
    server = parse_command([*entrypoint, *services["server"]["command"]], env, monkeypatch)
    worker = parse_command([*entrypoint, *services["worker"]["command"]], env, monkeypatch)
    assert server.command == "serve" and server.workers == 0 and worker.command == "worker"
    assert services["worker"]["deploy"]["replicas"] == 2
    assert services["worker"]["healthcheck"] == {"disable": True}, "a worker has no /readyz for the image's check to ask"
    assert f"{server.port}:{server.port}" in services["server"]["ports"]
    # PostgreSQL: the URL's user, password and database are those the container is made with.
    postgres = {name: with_defaults(value) for name, value in services["postgres"]["environment"].items()}
    url = f"postgresql://{postgres['POSTGRES_USER']}:{postgres['POSTGRES_PASSWORD']}@postgres:5432/{postgres['POSTGRES_DB']}"
    assert server.database_url == url
    # MinIO: the keys are its credentials, the bucket is the one the init container makes, and result
    # links are signed for the port the host publishes.
    minio = {name: with_defaults(value) for name, value in services["minio"]["environment"].items()}
    assert (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]) == (minio["MINIO_ROOT_USER"], minio["MINIO_ROOT_PASSWORD"])
    assert env["AWS_ENDPOINT_URL"] == "http://minio:9000" and "9000:9000" in services["minio"]["ports"]
    assert server.s3_public_endpoint_url == "http://localhost:9000"
    bucket = server.storage.removeprefix("s3://").split("/")[0]
    assert f"mc mb --ignore-existing local/{bucket}" in " ".join(services["bucket"]["entrypoint"])
    for name in ("server", "worker"):
        assert services[name]["depends_on"] == {"postgres": {"condition": "service_healthy"}, "bucket": {"condition": "service_completed_successfully"}}
    assert services["bucket"]["depends_on"] == {"minio": {"condition": "service_healthy"}}


# ---- Kubernetes


def test_every_yaml_file_parses():
    paths = [ROOT / "compose.yaml", *sorted((ROOT / "deploy").rglob("*.yaml")), *sorted((ROOT / "deploy").rglob("*.yml"))]
    assert len(paths) > 5
    for path in paths:
        assert all(doc is not None for doc in yaml.safe_load_all(path.read_text())), f"{path} has an empty document"


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_kubernetes_manifests_match_the_api_schema(version):
    checked = set()
    for path, docs in manifests().items():
        for doc in docs:
            if doc.get("kind") in ("Kustomization", "ServiceMonitor") or "kind" not in doc:  # kustomize's own; a CRD; Helm values
                continue
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.ValidationError as error:
                pytest.fail(f"{path}: {doc['kind']} {doc['metadata']['name']}: {error.message} at {'.'.join(map(str, error.path))}")
            checked.add((doc["kind"], doc["metadata"]["name"]))
    # Nothing skipped by mistake.
    assert checked == {("Namespace", "talkinghead"), ("Deployment", "server"), ("Deployment", "worker"), ("Service", "server"),
                       ("Ingress", "talkinghead"), ("HorizontalPodAutoscaler", "worker")}  # fmt: skip


def test_kustomization_lists_every_manifest_beside_it():
    (kustomization,) = manifests()["kustomization.yaml"]
    beside = {path.name for path in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == beside
    generated = [source for generator in ("configMapGenerator", "secretGenerator") for source in kustomization[generator][0]["envs"]]
    assert generated == ["config.env", "secrets.env"] and (K8S / "secrets.env.example").exists()
    assert "deploy/k8s/secrets.env" in (ROOT / ".gitignore").read_text().splitlines(), "the filled-in secrets must stay out of git"


def test_kustomization_renders_every_resource_with_the_image_config_and_secret(tmp_path):
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: it renders the kustomization")
    copy = shutil.copytree(K8S, tmp_path / "k8s")
    shutil.copy(copy / "secrets.env.example", copy / "secrets.env")
    done = subprocess.run([kubectl, "kustomize", copy], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    rendered = list(yaml.safe_load_all(done.stdout))
    by_kind: dict[str, list[dict]] = {}
    for doc in rendered:
        by_kind.setdefault(doc["kind"], []).append(doc)
        assert doc["kind"] == "Namespace" or doc["metadata"]["namespace"] == "talkinghead"
    assert sorted(by_kind) == ["ConfigMap", "Deployment", "HorizontalPodAutoscaler", "Ingress", "Namespace", "Secret", "Service"]
    (config,), (secret,) = by_kind["ConfigMap"], by_kind["Secret"]
    image = kustomization_image()
    for deployment in by_kind["Deployment"]:
        (spec,) = deployment["spec"]["template"]["spec"]["containers"]
        assert spec["image"] == f"{image['newName']}:{image['newTag']}"
        assert [ref.get("configMapRef", ref.get("secretRef"))["name"] for ref in spec["envFrom"]] == [config["metadata"]["name"], secret["metadata"]["name"]]
    assert set(secret["data"]) == set(env_file(K8S / "secrets.env.example"))


def kustomization_image() -> dict:
    (image,) = manifests()["kustomization.yaml"][0]["images"]
    assert image["name"] == container("server")["image"] == container("worker")["image"]
    return image


def test_server_and_worker_commands_are_ones_the_cli_takes(monkeypatch):
    env = {**env_file(K8S / "config.env"), **env_file(K8S / "secrets.env.example")}
    assert set(env) <= AWS_VARIABLES | {name for name in env if name.startswith("TALKINGHEAD_")}
    server = parse_command(["talkinghead", *container("server")["args"]], env, monkeypatch)
    worker = parse_command(["talkinghead", *container("worker")["args"]], env, monkeypatch)
    assert server.command == "serve" and server.workers == 0 and server.host == "0.0.0.0"
    assert worker.command == "worker"
    assert str(server.storage).startswith("s3://") and server.database_url.startswith("postgresql://")
    # The work folder is on the pod's writable volume (the root file system is read-only).
    for name in ("server", "worker"):
        spec = container(name)
        assert spec["securityContext"]["readOnlyRootFilesystem"] is True
        assert any(str(server.work_dir).startswith(mount["mountPath"] + "/") for mount in spec["volumeMounts"])


def test_every_variable_the_deployments_set_is_one_something_reads():
    source = "\n".join(path.read_text() for path in (ROOT / "src" / "talkinghead").rglob("*.py"))
    named = set(image_env()) - {"PATH"}
    named |= set(env_file(K8S / "config.env")) | set(env_file(K8S / "secrets.env.example"))
    named |= {name for service in compose()["services"].values() if service.get("image") == "talkinghead" for name in service["environment"]}
    talkinghead = {name for name in named if name.startswith("TALKINGHEAD_")}
    assert named - talkinghead <= AWS_VARIABLES
    assert {name for name in talkinghead if f'"{name}"' not in source} == set(), "talkinghead reads no such variable"


def test_pods_run_as_the_image_user_and_probe_the_server_where_it_answers():
    uid = int(instruction("USER").split(":")[0])
    for name, deployment in resources("Deployment").items():
        pod = deployment["spec"]["template"]
        assert deployment["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
        assert pod["spec"]["securityContext"]["runAsNonRoot"] is True and pod["spec"]["securityContext"]["runAsUser"] == uid
        assert "limits" in container(name)["resources"] and "requests" in container(name)["resources"]
    server = container("server")
    port = server["args"][server["args"].index("--port") + 1]
    assert server["ports"] == [{"name": "http", "containerPort": int(port)}]
    assert server["livenessProbe"]["httpGet"] == server["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert server["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert not {"livenessProbe", "readinessProbe", "ports"} & set(container("worker")), "a worker serves no HTTP"
    annotations = resources("Deployment")["server"]["spec"]["template"]["metadata"]["annotations"]
    assert (annotations["prometheus.io/port"], annotations["prometheus.io/path"]) == (port, "/metrics")


def test_service_ingress_and_autoscaler_point_at_what_exists():
    (service,) = resources("Service").values()
    server_pods = resources("Deployment")["server"]["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= server_pods.items()
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    (ingress,) = resources("Ingress").values()
    paths = {rule["path"]: rule["backend"]["service"] for rule in ingress["spec"]["rules"][0]["http"]["paths"]}
    assert set(paths) == {"/v1", "/docs", "/openapi.json", "/demo"}, "the API, its docs and the demo; /metrics stays inside"
    assert all(backend == {"name": service["metadata"]["name"], "port": {"name": "http"}} for backend in paths.values())
    (monitor,) = resources("ServiceMonitor").values()
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["endpoints"][0]["port"] == "http"
    (hpa,) = resources("HorizontalPodAutoscaler").values()
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "worker"}
    # Two jobs a pod: the render processes each worker pod runs.
    worker = container("worker")["args"]
    assert hpa["spec"]["metrics"][0]["external"]["target"] == {"type": "AverageValue", "averageValue": worker[worker.index("--workers") + 1]}


def adapter_rule() -> dict:
    (values,) = manifests()["monitoring/prometheus-adapter.values.yaml"]
    (rule,) = values["rules"]["external"]
    return rule


def test_the_autoscaler_metric_is_made_of_gauges_a_real_server_exposes(sqlite_services):
    rule = adapter_rule()
    (hpa,) = resources("HorizontalPodAutoscaler").values()
    assert hpa["spec"]["metrics"][0]["external"]["metric"]["name"] == rule["name"]["as"]
    query = rule["metricsQuery"].replace("<<.Series>>", rule["seriesQuery"].split("{")[0])
    # Each selector of the query, as its metric name and the labels it asks for.
    selectors = [(name, dict(re.findall(r'(\w+)="([^"]*)"', labels))) for name, labels in re.findall(r"(talkinghead_\w+)\{([^}]*)\}", query)]
    assert len(selectors) == 2 and "<<.LabelMatchers>>" in query

    # The Compose and Kubernetes layout: an API-only server, ready once a separate worker is alive.
    server = sqlite_services.serve(workers=0, auth=False, start=False).start(wait_ready=False)
    deadline = time.monotonic() + 60
    while not _answers(f"{server.url}/healthz"):
        assert time.monotonic() < deadline and server.process.poll() is None, server.log.read_text()[-2000:]
        time.sleep(0.2)
    assert httpx.get(f"{server.url}/readyz").status_code == 503
    sqlite_services.worker()
    server.wait_ready()

    samples = {}
    for line in httpx.get(f"{server.url}/metrics").text.splitlines():
        if line and not line.startswith("#"):
            series, value = line.rsplit(" ", 1)
            name, _, labels = series.partition("{")
            samples[(name, frozenset(re.findall(r'(\w+)="([^"]*)"', labels)))] = float(value)
    for name, labels in selectors:
        assert (name, frozenset(labels.items())) in samples, f"/metrics has no {name}{labels}"
    assert samples[("talkinghead_workers", frozenset())] == 1


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


# ---- the README


def test_readme_deployment_section_names_real_files_and_commands_the_cli_takes(monkeypatch):
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("\n## Deployment\n") + 1 :]
    section = section[: section.index("\n## ")]
    lines = [line.split(" #")[0] for block in re.findall(r"```sh\n(.*?)```", section, re.DOTALL) for line in block.splitlines()]
    pattern = re.compile(rf"(?:^|\s)(talkinghead (?:{'|'.join(COMMANDS)})\b.*)$")
    commands = [shlex.split(found.group(1)) for found in map(pattern.search, lines) if found]
    assert len(commands) >= 3  # keys create in Docker, Compose and Kubernetes
    for argv in commands:
        parse_command(argv, image_env(), monkeypatch)
    for path in re.findall(r"`((?:deploy|scripts)/[\w./-]+|Dockerfile|compose\.yaml|\.dockerignore)`", section):
        assert (ROOT / path).exists(), f"the README names {path}, which is not there"
