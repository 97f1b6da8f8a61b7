"""The template's EventBridge Scheduler schedules, fired locally: moto keeps a schedule but
never fires it. Each `AWS::Scheduler::Schedule` whose target is a state machine starts an
execution of it every period, the way the Scheduler would, from the schedule's own
definition (expression, target, input). Locally the period can be shortened (`period`), and
a tick waits for the previous one to end, so two batches of one account never overlap.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from devstack.aws.errors import UnsupportedProperty

SCHEDULE: Final = "AWS::Scheduler::Schedule"
_RATE: Final = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_UNIT_SECONDS: Final = {"minute": 60, "hour": 3_600, "day": 86_400}
# What the local scheduler runs of a target; anything else is refused by name.
_TARGET_KEYS: Final = frozenset({"Arn", "RoleArn", "Input", "RetryPolicy"})


def rate_seconds(logical_id: str, expression: str) -> float:
    """The period of a `rate(...)` expression (cron and at() are not run locally)."""
    match = _RATE.match(expression.strip())
    if match is None:
        raise UnsupportedProperty(logical_id, "ScheduleExpression", expression)
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2).rstrip("s")]


@dataclass(frozen=True)
class ScheduleDefinition:
    """A schedule as the template declares it, resolved."""

    logical_id: str
    name: str
    period_seconds: float
    target_arn: str
    role_arn: str | None
    input: str

    @classmethod
    def from_properties(
        cls, logical_id: str, name: str, props: Mapping[str, Any]
    ) -> ScheduleDefinition:
        target = dict(props.get("Target") or {})
        for key in target:
            if key not in _TARGET_KEYS:
                raise UnsupportedProperty(logical_id, "Target", key)
        if ":states:" not in str(target.get("Arn")):
            raise UnsupportedProperty(logical_id, "Target", "Arn")
        if props.get("State", "ENABLED") != "ENABLED":
            period = 0.0  # a disabled schedule fires nothing
        else:
            period = rate_seconds(logical_id, str(props["ScheduleExpression"]))
        return cls(
            logical_id=logical_id,
            name=name,
            period_seconds=period,
            target_arn=str(target["Arn"]),
            role_arn=target.get("RoleArn"),
            input=str(target.get("Input") or "{}"),
        )

    def create_kwargs(self, props: Mapping[str, Any]) -> dict[str, Any]:
        """moto's CreateSchedule for it (moto keeps it; `LocalSchedule` fires it)."""
        target: dict[str, Any] = {"Arn": self.target_arn, "Input": self.input}
        if self.role_arn:
            target["RoleArn"] = self.role_arn
        return {
            "Name": self.name,
            "ScheduleExpression": str(props["ScheduleExpression"]),
            "FlexibleTimeWindow": dict(props.get("FlexibleTimeWindow") or {"Mode": "OFF"}),
            "Target": target,
            "State": str(props.get("State", "ENABLED")),
        }


class LocalSchedule:
    """Fires one schedule: starts its state machine every period, one run at a time."""

    def __init__(
        self,
        definition: ScheduleDefinition,
        *,
        starter: Any,
        watcher: Any,
        period: float | None = None,
    ) -> None:
        """`starter`: Step Functions signed as the schedule (its StartExecution is the
        schedule role's call); `watcher`: the emulator's own, to see a run end."""
        self.definition = definition
        self._starter = starter
        self._watcher = watcher
        self._period = definition.period_seconds if period is None else period
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.fired = 0

    def start(self) -> None:
        if self._period <= 0 or self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._run, name=f"schedule-{self.definition.logical_id}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def fire(self) -> str:
        """One run now; its execution ARN (what the Scheduler's StartExecution would start)."""
        self.fired += 1
        # A name of its own each run, as the Scheduler gives (moto names every unnamed one
        # alike, so a second unnamed run would be refused as already existing).
        answer = self._starter.start_execution(
            stateMachineArn=self.definition.target_arn,
            name=f"{self.definition.logical_id[:40]}-{uuid.uuid4().hex}",
            input=self.definition.input,
        )
        return str(answer["executionArn"])

    def _run(self) -> None:
        while not self._stop.wait(self._period):
            try:
                arn = self.fire()
                while not self._stop.is_set():
                    status = self._watcher.describe_execution(executionArn=arn)["status"]
                    if status != "RUNNING":
                        break
                    self._stop.wait(0.1)
            except Exception as error:  # a tick's failure is the next tick's to retry
                if not self._stop.is_set():
                    print(f"schedule {self.definition.logical_id}: {error}", flush=True)
