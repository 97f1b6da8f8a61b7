"""Starting the emulator on a port another program holds."""

from __future__ import annotations

import socket

import pytest

from devstack.aws.emulator import LocalAws
from devstack.aws.errors import PortInUse
from tests.devstack.conftest import TEMPLATE


def test_a_taken_port_is_a_one_line_error_naming_it() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        with pytest.raises(PortInUse, match=str(port)) as caught:
            LocalAws(TEMPLATE, port=port).start()

    assert "\n" not in str(caught.value)
