"""A result store in S3-compatible object storage (AWS S3, Cloudflare R2, MinIO, Supabase
storage's S3 endpoint): `--storage s3://BUCKET/PREFIX`.

Every server and worker of one database reads and writes the same bucket, so no machine needs a
shared disk: uploads, results, previews, portraits and avatars all live there. Files are served by
short-lived presigned links (`/result` redirects to one), signed for the endpoint clients reach.
Credentials come from boto3's usual chain (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, a profile, an
instance role); the endpoint from `--s3-endpoint-url` or AWS_ENDPOINT_URL.
"""

from __future__ import annotations

import mimetypes
import os
from datetime import datetime, timezone
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from ..errors import InvalidOptionError
from ._config import S3_SCHEME, ServiceConfig
from ._results import StoredFile

_DELETE_BATCH = 1000  # the most keys one DeleteObjects request takes


def _client(endpoint_url: str | None, region: str | None) -> Any:
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise InvalidOptionError("--storage s3://... needs boto3: pip install 'talkinghead[s3]'") from None
    # Path-style addressing (endpoint/bucket/key) for every endpoint but AWS's own: MinIO, R2 and
    # Supabase answer it, and a bucket name need not resolve as a host name.
    custom = endpoint_url or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    config = Config(s3={"addressing_style": "path"} if custom else {}, retries={"max_attempts": 5, "mode": "standard"}, signature_version="s3v4")
    return boto3.session.Session().client("s3", endpoint_url=endpoint_url, region_name=region, config=config)


@dataclass(frozen=True)
class S3ResultStore:
    """Files under `prefix` in `bucket`; keys as `LocalResultStore` names them."""

    bucket: str
    prefix: str  # "" or ending in /
    client: Any = field(repr=False)
    signer: Any = field(repr=False)  # the client links are signed with: the endpoint as clients see it
    presign_expiry: float = 900.0

    @classmethod
    def from_config(cls, config: ServiceConfig) -> "S3ResultStore":
        bucket, _, prefix = str(config.storage)[len(S3_SCHEME) :].partition("/")
        prefix = prefix.strip("/")
        client = _client(config.s3_endpoint_url, config.s3_region)
        signer = _client(config.s3_public_endpoint_url, config.s3_region) if config.s3_public_endpoint_url else client
        return cls(bucket, prefix + "/" if prefix else "", client, signer, config.presign_expiry)

    def _object(self, key: str) -> str:
        parts = PurePosixPath(key).parts
        if not parts or key.startswith("/") or any(part in (".", "..") for part in parts):
            raise ValueError(f"not a store key: {key!r}")
        return self.prefix + key

    def _stored(self, key: str, size: int, modified: Any) -> StoredFile:
        url = self.signer.generate_presigned_url("get_object", Params={"Bucket": self.bucket, "Key": self.prefix + key}, ExpiresIn=int(self.presign_expiry))
        return StoredFile(key, size, modified.timestamp(), url=url)

    def put(self, key: str, source: Path | bytes, *, exclusive: bool = False) -> StoredFile | None:
        name = self._object(key)
        size = len(source) if isinstance(source, (bytes, bytearray)) else Path(source).stat().st_size
        extra = {"ContentType": mimetypes.guess_type(key)[0] or "application/octet-stream"}
        if exclusive:
            extra["IfNoneMatch"] = "*"  # a conditional write: the first writer wins
        try:
            if isinstance(source, (bytes, bytearray)) or exclusive:
                body = bytes(source) if isinstance(source, (bytes, bytearray)) else Path(source).read_bytes()
                self.client.put_object(Bucket=self.bucket, Key=name, Body=body, **extra)
            else:  # multipart for large files; an object appears whole or not at all
                self.client.upload_file(str(source), self.bucket, name, ExtraArgs=extra)
        except self.client.exceptions.ClientError as error:
            if exclusive and error.response.get("Error", {}).get("Code") in ("PreconditionFailed", "ConditionalRequestConflict"):
                return None
            raise
        if not isinstance(source, (bytes, bytearray)):
            Path(source).unlink(missing_ok=True)  # moved in, as LocalResultStore does
        return self._stored(key, size, datetime.now(timezone.utc))  # as written: no second request to read it back

    def get(self, key: str) -> StoredFile | None:
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self._object(key))
        except self.client.exceptions.ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return self._stored(key, head["ContentLength"], head["LastModified"])

    def open(self, key: str) -> BinaryIO:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._object(key))["Body"]
        except self.client.exceptions.NoSuchKey:
            raise FileNotFoundError(key) from None

    def delete(self, prefix: str) -> None:
        if not prefix.endswith("/"):
            self.client.delete_object(Bucket=self.bucket, Key=self._object(prefix))
            return
        names = [self.prefix + stored.key for stored in self.list(prefix)]
        for start in range(0, len(names), _DELETE_BATCH):
            batch = [{"Key": name} for name in names[start : start + _DELETE_BATCH]]
            self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})

    def list(self, prefix: str = "") -> Iterator[StoredFile]:
        """Every object under `prefix`, without links (a listing signs nothing)."""
        if prefix:
            self._object(prefix.rstrip("/"))
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
            for item in page.get("Contents", []):
                yield StoredFile(item["Key"][len(self.prefix) :], item["Size"], item["LastModified"].timestamp())

    def bytes_used(self, prefix: str = "") -> int:
        return sum(stored.size for stored in self.list(prefix))
