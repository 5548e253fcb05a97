"""What the event loop logs of a task's error that nobody retrieved."""

from __future__ import annotations

import asyncio
import gc
import logging

import pytest

from dockyard.telemetry.failures import quiet_connection_faults


async def _fails(error: Exception) -> None:
    raise error


def _abandon(error: Exception) -> None:
    """A task that fails and is dropped unawaited, as a library's own request writer may be."""
    loop = asyncio.new_event_loop()
    loop.set_exception_handler(quiet_connection_faults)
    try:
        task = loop.create_task(_fails(error))
        loop.run_until_complete(asyncio.sleep(0))
        assert task.done()
        del task
        gc.collect()  # the loop reports the unretrieved error when the task goes
    finally:
        loop.close()


def test_a_connection_fault_left_in_a_task_is_one_line(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        _abandon(ConnectionResetError("Cannot write to closing transport"))
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert record.exc_info is None
    assert "ConnectionResetError: Cannot write to closing transport" in record.getMessage()


def test_any_other_error_left_in_a_task_keeps_its_traceback(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        _abandon(ValueError("a bug"))
    [record] = caplog.records
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None
