"""One cold start, in this fresh interpreter: `python -m bench._cold KIND PROVIDER EVENT OUT`.

KIND is `ours` (functions/<provider>/app.py, imported as Lambda imports it) or `baseline`
(bench/baseline_handler.py). EVENT is the REST proxy event, marshalled by the parent:
`marshal` is built in, so reading it costs no import that the handler might then get for free.
Nothing else is imported before the clock starts. OUT receives the figures as JSON.
"""

import marshal
import sys
import time


class _Context:
    function_name = "refund-status-bench"
    function_version = "$LATEST"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:refund-status-bench"
    aws_request_id = "00000000-0000-4000-8000-000000000000"
    log_group_name = "/aws/lambda/refund-status-bench"
    log_stream_name = "2026/11/23/[$LATEST]0000"

    def get_remaining_time_in_millis(self) -> int:
        return 20_000


def main(argv: list[str]) -> int:
    kind, provider, event_path, out_path = argv
    with open(event_path, "rb") as file:
        event = marshal.load(file)  # noqa: S302 - written by our own parent process
    if kind == "ours":
        sys.path.insert(0, f"functions/{provider}")  # CodeUri: the function's directory
    started = time.perf_counter()
    if kind == "ours":
        import app  # type: ignore[import-not-found]

        handler = app.lambda_handler
    else:
        from bench import baseline_handler

        handler = baseline_handler.lambda_handler
    imported = time.perf_counter()
    response = handler(event, _Context())
    answered = time.perf_counter()

    import json  # after the clock: only the report needs it

    with open(out_path, "w") as file:
        json.dump(
            {
                "import_s": imported - started,
                "first_answer_s": answered - started,
                "status": response["statusCode"],
                "modules": len(sys.modules),
            },
            file,
        )
    return 0 if response["statusCode"] == 200 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
