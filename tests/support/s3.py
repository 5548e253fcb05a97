"""Session fixtures for S3: one Ceph RGW per test session, a fresh bucket per server or test.

The gateway starts on first use only, so sessions that need no S3 never pay its ~10 s. Set
DOCKYARD_TEST_S3=URL,ACCESS_KEY,SECRET_KEY to use a gateway that is already running instead.
Ceph's monitor port is fixed, so where another cluster holds it the S3 tests fail at once with
that reason rather than fight over it (or pass silently as skipped).
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.config import Config
from botocore.session import get_session
from tests.support.ceph import CephGateway, S3Endpoint

START_TIMEOUT_SECONDS = 180


def s3_admin(endpoint: S3Endpoint) -> Any:
    """A plain (synchronous) botocore client for setting up and inspecting buckets."""
    return get_session().create_client(
        "s3",
        endpoint_url=endpoint.url,
        region_name=endpoint.region,
        aws_access_key_id=endpoint.access_key,
        aws_secret_access_key=endpoint.secret_key,
        config=Config(s3={"addressing_style": "path"}, request_checksum_calculation="when_required"),
    )


@functools.cache
def _admin_of(endpoint: S3Endpoint) -> Any:
    return s3_admin(endpoint)


@dataclass(frozen=True)
class ServerBucket:
    """The bucket of a server on `env`, seen from outside, in the store's own layout:
    `<prefix>blobs/<algorithm>/<hex>` and `<prefix>quarantine/<algorithm>/<hex>`."""

    admin: Any
    bucket: str
    root: str

    @classmethod
    def of(cls, env: Mapping[str, str]) -> ServerBucket:
        setting = {key: env.get(f"DOCKYARD_STORAGE__S3__{key}", "") for key in ("ENDPOINT", "ACCESS_KEY", "SECRET_KEY")}
        endpoint = S3Endpoint(setting["ENDPOINT"], setting["ACCESS_KEY"], setting["SECRET_KEY"],
                              env.get("DOCKYARD_STORAGE__S3__REGION", "us-east-1"))  # fmt: skip
        prefix = env.get("DOCKYARD_STORAGE__S3__PREFIX", "").strip("/")
        return cls(_admin_of(endpoint), env["DOCKYARD_STORAGE__S3__BUCKET"], f"{prefix}/" if prefix else "")

    def key(self, area: str, digest: str) -> str:
        return f"{self.root}{area}/{digest.replace(':', '/', 1)}"

    def upload_ids(self) -> set[str]:
        """The upload sessions that have objects in the bucket (`<prefix>uploads/<id>/...`)."""
        prefix = f"{self.root}uploads/"
        pages = self.admin.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return {item["Key"][len(prefix) :].split("/", 1)[0] for page in pages for item in page.get("Contents", [])}

    def digests(self, area: str) -> set[str]:
        prefix = f"{self.root}{area}/"
        pages = self.admin.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return {item["Key"][len(prefix) :].replace("/", ":", 1) for page in pages for item in page.get("Contents", [])}


def bucket_blobs(env: Mapping[str, str]) -> set[str]:
    """The digests of the blobs in the bucket of a server on `env`, listed from outside."""
    return ServerBucket.of(env).digests("blobs")


def server_env(endpoint: S3Endpoint, bucket: str, **extra: str) -> dict[str, str]:
    """The DOCKYARD_* environment of a server whose blobs go to `bucket`."""
    env = {
        "DOCKYARD_STORAGE__S3__ENDPOINT": endpoint.url,
        "DOCKYARD_STORAGE__S3__BUCKET": bucket,
        "DOCKYARD_STORAGE__S3__REGION": endpoint.region,
        "DOCKYARD_STORAGE__S3__ACCESS_KEY": endpoint.access_key,
        "DOCKYARD_STORAGE__S3__SECRET_KEY": endpoint.secret_key,
    }
    env.update({f"DOCKYARD_STORAGE__S3__{key.upper()}": value for key, value in extra.items()})
    return env


def empty_bucket(admin: Any, bucket: str) -> None:
    for page in admin.get_paginator("list_multipart_uploads").paginate(Bucket=bucket):
        for upload in page.get("Uploads", []):
            admin.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
    for page in admin.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if keys:
            admin.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Endpoint]:
    external = os.environ.get("DOCKYARD_TEST_S3")
    if external:
        url, access_key, secret_key = external.split(",")
        yield S3Endpoint(url, access_key, secret_key)
        return
    gateway = CephGateway(tmp_path_factory.mktemp("ceph"))
    try:
        gateway.start(timeout=START_TIMEOUT_SECONDS)
        yield gateway.endpoint
    finally:
        gateway.stop()
        shutil.rmtree(gateway.data, ignore_errors=True)  # the OSD's file holds every byte the tests wrote


@pytest.fixture(scope="session")
def s3_bucket(s3_endpoint: S3Endpoint) -> Iterator[Callable[[], dict[str, str]]]:
    """Makes an empty bucket per call and gives the server environment for it; all purged at the end."""
    admin = s3_admin(s3_endpoint)
    made: list[str] = []

    def make() -> dict[str, str]:
        bucket = f"dockyard-{uuid.uuid4().hex[:16]}"
        admin.create_bucket(Bucket=bucket)
        made.append(bucket)
        return server_env(s3_endpoint, bucket)

    yield make
    for bucket in made:
        with contextlib.suppress(Exception):  # a stopped cluster takes its buckets with it anyway
            empty_bucket(admin, bucket)
            admin.delete_bucket(Bucket=bucket)
