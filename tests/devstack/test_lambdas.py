"""The local Lambda runtime: one worker process per function, errors as the AWS runtime reports."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from devstack.aws.lambdas import LambdaRuntime
from tests.devstack.conftest import make_function, write_function

# Both functions have a module named `app` with module-level state, like functions/<name>/app.py.
APP = """
import os
import sys

WHO = {who!r}
CALLS = []


class RefundPending(Exception):
    pass


def lambda_handler(event, context):
    CALLS.append(event)
    if event.get("raise"):
        raise RefundPending("still pending")
    if event.get("sleep"):
        import time
        time.sleep(event["sleep"])
    if event.get("exit"):
        os._exit(3)
    if event.get("noise"):
        print("\\x00\\x00\\x00\\x05{{not a frame", flush=True)
        print("log line on stderr", file=sys.stderr, flush=True)
    if event.get("unserializable"):
        return object()
    return {{
        "who": WHO,
        "calls": len(CALLS),
        "module_file": __file__,
        "env": {{k: os.environ.get(k) for k in event.get("env", [])}},
        "context": {{
            "function_name": context.function_name,
            "invoked_function_arn": context.invoked_function_arn,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "aws_request_id": context.aws_request_id,
            "remaining": context.get_remaining_time_in_millis(),
        }},
        "sys_path_0": sys.path[0],
    }}
"""


@pytest.fixture
def two_apps(tmp_path: Path, runtime: LambdaRuntime) -> LambdaRuntime:
    for who in ("alpha", "beta"):
        code_dir = write_function(tmp_path, who, APP.format(who=who))
        runtime.register(
            make_function(code_dir, who, timeout=1, environment={"WHO_ENV": f"{who}-env"})
        )
    return runtime


def test_functions_named_app_do_not_collide_and_keep_their_own_env(
    two_apps: LambdaRuntime, tmp_path: Path
) -> None:
    alpha = two_apps.invoke("test-alpha", {"env": ["WHO_ENV"]})
    beta = two_apps.invoke("beta", {"env": ["WHO_ENV"]})  # by logical id
    alpha_again = two_apps.invoke("test-alpha", {})

    assert alpha.payload["who"] == "alpha"
    assert beta.payload["who"] == "beta"
    assert alpha.payload["env"] == {"WHO_ENV": "alpha-env"}
    assert beta.payload["env"] == {"WHO_ENV": "beta-env"}
    assert alpha.payload["sys_path_0"] == str(tmp_path / "alpha")
    # Module state is per function and survives between calls (a warm sandbox)
    assert alpha_again.payload["calls"] == 2
    assert beta.payload["calls"] == 1
    assert two_apps.cold_starts("test-alpha") == 1


def test_context_object_matches_the_function(two_apps: LambdaRuntime) -> None:
    result = two_apps.invoke(
        "arn:aws:lambda:us-east-1:123456789012:function:test-alpha:$LATEST", {}
    )

    context = result.payload["context"]
    assert context["function_name"] == "test-alpha"
    assert context["invoked_function_arn"].endswith(":function:test-alpha")
    assert context["memory_limit_in_mb"] == 128
    assert context["aws_request_id"] == result.request_id
    assert 0 < context["remaining"] <= 1000


def test_handler_exception_reports_its_class_name(two_apps: LambdaRuntime) -> None:
    result = two_apps.invoke("test-alpha", {"raise": True})

    assert not result.ok
    assert result.error_type == "RefundPending"
    assert result.error_message == "still pending"
    assert any("app.py" in line for line in result.stack_trace)
    assert result.error_document()["errorType"] == "RefundPending"
    # The worker survives a handled exception
    assert two_apps.invoke("test-alpha", {}).payload["calls"] == 2


def test_timeout_kills_reports_and_restarts(two_apps: LambdaRuntime) -> None:
    started = time.monotonic()
    result = two_apps.invoke("test-alpha", {"sleep": 30})
    elapsed = time.monotonic() - started

    assert result.error_type == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in (result.error_message or "")
    assert elapsed < 5
    after = two_apps.invoke("test-alpha", {})
    assert after.ok
    assert after.payload["calls"] == 1  # a fresh sandbox
    assert two_apps.cold_starts("test-alpha") == 2


def test_a_crashed_worker_is_restarted_on_the_next_call(two_apps: LambdaRuntime) -> None:
    result = two_apps.invoke("test-alpha", {"exit": True})

    assert result.error_type == "Runtime.ExitError"
    assert "exit status 3" in (result.error_message or "")
    assert two_apps.invoke("test-alpha", {}).ok
    assert two_apps.cold_starts("test-alpha") == 2


def test_handler_output_stays_visible_and_off_the_protocol(
    two_apps: LambdaRuntime, capfd: pytest.CaptureFixture[str]
) -> None:
    result = two_apps.invoke("test-alpha", {"noise": True})

    assert result.ok
    out, err = capfd.readouterr()
    assert "{not a frame" in out
    assert "log line on stderr" in err


def test_unserializable_result_is_a_marshal_error(two_apps: LambdaRuntime) -> None:
    result = two_apps.invoke("test-alpha", {"unserializable": True})

    assert result.error_type == "Runtime.MarshalError"


def test_import_errors_are_reported_like_lambda(tmp_path: Path, runtime: LambdaRuntime) -> None:
    broken = write_function(tmp_path, "broken", "import not_a_module_anywhere\n")
    runtime.register(make_function(broken, "broken"))
    empty = write_function(tmp_path, "empty", "X = 1\n")
    runtime.register(make_function(empty, "empty"))

    import_error = runtime.invoke("broken", {})
    missing = runtime.invoke("empty", {})

    assert import_error.error_type == "Runtime.ImportModuleError"
    assert "Unable to import module 'app'" in (import_error.error_message or "")
    assert missing.error_type == "Runtime.HandlerNotFound"


def test_environment_points_at_the_endpoint_and_hides_the_shell(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_PROFILE", "real-account")
    code_dir = write_function(tmp_path, "env", APP.format(who="env"))
    function = make_function(
        code_dir,
        "env",
        environment={
            "AWS_ENDPOINT_URL_SECRETS_MANAGER": "https://secretsmanager.us-east-1.amazonaws.com",
            "POWERTOOLS_TRACE_DISABLED": "false",
            "SETTING": "template",
        },
    )
    with LambdaRuntime(
        endpoint_url="http://127.0.0.1:1", env_overrides={"SETTING": "local"}
    ) as runtime:
        runtime.register(function)
        keys = [
            "AWS_PROFILE",
            "AWS_ENDPOINT_URL",
            "AWS_ENDPOINT_URL_SECRETS_MANAGER",
            "POWERTOOLS_TRACE_DISABLED",
            "AWS_LAMBDA_FUNCTION_NAME",
            "AWS_REGION",
            "SETTING",
        ]
        env = runtime.invoke("env", {"env": keys}).payload["env"]

    assert env == {
        "AWS_PROFILE": None,
        "AWS_ENDPOINT_URL": "http://127.0.0.1:1",
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": "http://127.0.0.1:1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "AWS_LAMBDA_FUNCTION_NAME": "test-env",
        "AWS_REGION": "us-east-1",
        "SETTING": "local",
    }


def test_unknown_function_is_a_key_error(runtime: LambdaRuntime) -> None:
    with pytest.raises(KeyError, match="nope"):
        runtime.invoke("nope", {})
