"""Power-loss tests: the filesystem that drops what was not made durable, and what runs on it."""

from tests.support.powercut import powercut_dir  # noqa: F401 - the fixture for every test here
