"""The fault proxy between S3 clients and Ceph RGW: signed requests pass unmodified, injected errors read as S3's."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.session import get_session
from tests.http.ocitest import RegistryClient
from tests.support.ceph import S3Endpoint
from tests.support.faultproxy import FaultProxy, s3_error
from tests.support.s3 import empty_bucket, s3_admin
from tests.support.server import DockyardServer

PART = 5 << 20  # S3's smallest part but the last


def s3_client(url: str, endpoint: S3Endpoint, **config: Any) -> Any:
    return get_session().create_client(
        "s3",
        endpoint_url=url,
        region_name=endpoint.region,
        aws_access_key_id=endpoint.access_key,
        aws_secret_access_key=endpoint.secret_key,
        config=Config(s3={"addressing_style": "path"}, **config),
    )


@pytest.fixture
def bucket(s3_endpoint: S3Endpoint) -> Iterator[str]:
    admin = s3_admin(s3_endpoint)
    name = f"faultproxy-{uuid.uuid4().hex[:12]}"
    admin.create_bucket(Bucket=name)
    yield name
    empty_bucket(admin, name)
    admin.delete_bucket(Bucket=name)


@pytest.fixture
def proxy(s3_endpoint: S3Endpoint) -> Iterator[FaultProxy]:
    with FaultProxy(s3_endpoint.url) as fault_proxy:
        yield fault_proxy


# botocore sends every upload with `Expect: 100-continue`; "when_supported" adds a signed CRC32 header too.
@pytest.mark.parametrize("checksums", ["when_required", "when_supported"])
def test_signed_requests_pass_unmodified(
    s3_endpoint: S3Endpoint, bucket: str, proxy: FaultProxy, checksums: str
) -> None:
    s3 = s3_client(proxy.url, s3_endpoint, request_checksum_calculation=checksums, retries={"total_max_attempts": 1})
    key = "dir/a key+with=odd&chars~(1)"
    body = os.urandom(3 << 20)
    s3.put_object(Bucket=bucket, Key=key, Body=body)
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body

    parts = [os.urandom(PART), os.urandom(1000)]
    upload = s3.create_multipart_upload(Bucket=bucket, Key="multi")["UploadId"]
    etags = [
        s3.upload_part(Bucket=bucket, Key="multi", UploadId=upload, PartNumber=number, Body=part)["ETag"]
        for number, part in enumerate(parts, 1)
    ]
    completed = [{"ETag": etag, "PartNumber": number} for number, etag in enumerate(etags, 1)]
    s3.complete_multipart_upload(Bucket=bucket, Key="multi", UploadId=upload, MultipartUpload={"Parts": completed})
    s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "multi"})
    assert s3.get_object(Bucket=bucket, Key="copy")["Body"].read() == b"".join(parts)

    assert proxy.count("PUT", f"/{bucket}/multi", query="*partNumber=*") == 2
    assert proxy.count("PUT", f"/{bucket}/copy", query="", headers={"x-amz-copy-source": "*"}) == 1
    assert all(status == 200 for _, _, status in proxy.log), proxy.log  # no SignatureDoesNotMatch anywhere


def test_injected_errors_are_read_as_s3_errors(s3_endpoint: S3Endpoint, bucket: str, proxy: FaultProxy) -> None:
    once = s3_client(proxy.url, s3_endpoint, retries={"total_max_attempts": 1})
    proxy.add("GET", f"/{bucket}/*", s3_error(500, "InternalError", "injected"), times=1)
    once.put_object(Bucket=bucket, Key="k", Body=b"content")
    with pytest.raises(ClientError) as failure:
        once.get_object(Bucket=bucket, Key="k")
    assert failure.value.response["Error"]["Code"] == "InternalError"
    assert failure.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500

    retrying = s3_client(proxy.url, s3_endpoint, retries={"total_max_attempts": 3, "mode": "standard"})
    proxy.add("PUT", f"/{bucket}/*", s3_error(503, "SlowDown"), times=1)
    retrying.put_object(Bucket=bucket, Key="k", Body=b"retried")  # SlowDown is retried, as S3's own is
    assert once.get_object(Bucket=bucket, Key="k")["Body"].read() == b"retried"
    assert [status for method, _, status in proxy.log if method == "PUT"] == [200, 503, 200]


def test_dockyard_on_s3_through_the_proxy(
    proxy: FaultProxy, s3_bucket: Callable[[], dict[str, str]], tmp_path: Path
) -> None:
    env = {**s3_bucket(), "DOCKYARD_STORAGE__S3__ENDPOINT": proxy.url}
    bucket = env["DOCKYARD_STORAGE__S3__BUCKET"]
    blob = os.urandom(12 << 20)
    with DockyardServer(tmp_path / "data", env=env) as server, RegistryClient(server.url, timeout=60) as client:
        digest = client.push_blob("faults/s3", blob)
        assert client.get_blob("faults/s3", digest).content == blob
    assert proxy.count("PUT", f"/{bucket}/*") > 0
    assert not [entry for entry in proxy.log if entry[2] in (400, 403)], proxy.log  # every signature held
