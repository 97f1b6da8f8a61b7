"""Errors of the local AWS stack: one family, each naming what the template got wrong."""

from __future__ import annotations


class LocalAwsError(Exception):
    """Base of every error raised by devstack.aws."""


class TemplateError(LocalAwsError):
    """template.yaml cannot be turned into local resources."""


class UnsupportedResource(TemplateError):
    """A resource type the local stack cannot run."""

    def __init__(self, logical_id: str, resource_type: str) -> None:
        super().__init__(
            f"resource {logical_id!r} has type {resource_type!r}, which the local stack "
            "does not support (add it to devstack/aws/template.py or remove it)"
        )
        self.logical_id = logical_id
        self.resource_type = resource_type


class UnsupportedProperty(TemplateError):
    """A resource property (or a key inside one) the local stack cannot create."""

    def __init__(self, logical_id: str, where: str, key: str) -> None:
        super().__init__(
            f"resource {logical_id!r}: {where} property {key!r} is not something the local "
            "stack can create (support it in devstack/aws/template.py and emulator.py, "
            "or remove it)"
        )
        self.logical_id = logical_id
        self.key = key


class UnresolvableReference(TemplateError):
    """A Ref, GetAtt or Sub variable that names nothing the template defines."""


class UnsupportedIntrinsic(TemplateError):
    """An intrinsic function the local resolver does not evaluate."""


class ParameterError(TemplateError):
    """A template parameter without a value, or with a value its constraints reject."""


class PortInUse(LocalAwsError):
    """The port asked for the emulator is taken."""

    def __init__(self, host: str, port: int) -> None:
        super().__init__(f"port {port} on {host} is already in use; pick another or pass port=0")
        self.port = port
