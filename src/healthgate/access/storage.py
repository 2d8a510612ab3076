"""Where attached files are kept: one small interface (put, get, delete, exists by key) with two
implementations, a local directory (under the data directory, the default) and an S3-compatible object store
(``HEALTHGATE_ATTACHMENT_STORAGE=s3``; needs the optional ``s3`` extra, boto3). Keys are made by the code
(``applications/<id>/<attachment id>``), never by a user."""

from __future__ import annotations

import importlib
import os
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from healthgate.errors import NotFound

if TYPE_CHECKING:
    from healthgate.config import Settings

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$")


def check_key(key: str) -> str:
    if not _KEY.match(key) or ".." in key or len(key) > 300:
        raise ValueError(f"not a storage key: {key!r}")
    return key


class Storage(Protocol):
    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None: ...

    def get(self, key: str) -> bytes:
        """The stored bytes; NotFound when there are none."""
        ...

    def delete(self, key: str) -> None:
        """Remove the object (nothing happens when there is none)."""
        ...

    def exists(self, key: str) -> bool: ...


class LocalStorage:
    """Files in a directory: written to a temporary file and renamed, so a reader never sees half a file."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise NotFound(f"no stored file {key}") from None

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()


class S3Storage:
    """Objects in a bucket of an S3-compatible store (AWS S3, MinIO, Ceph ...), through boto3."""

    def __init__(self, bucket: str, *, client: Any = None, prefix: str = "", endpoint_url: str | None = None,
                 region: str | None = None, access_key_id: str | None = None,
                 secret_access_key: str | None = None):
        if client is None:
            try:  # the optional ``s3`` extra: imported by name so the default install never needs it
                boto3 = importlib.import_module("boto3")
            except ImportError as missing:  # pragma: no cover - depends on the installation
                raise RuntimeError("S3 attachment storage needs boto3: pip install 'healthgate[s3]'") from missing
            client = boto3.client("s3", endpoint_url=endpoint_url, region_name=region,
                                  aws_access_key_id=access_key_id, aws_secret_access_key=secret_access_key)
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")

    def _key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data, ContentType=content_type)

    def get(self, key: str) -> bytes:
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        except Exception as exc:
            if _missing(exc):
                raise NotFound(f"no stored file {key}") from None
            raise
        return bytes(answer["Body"].read())

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except Exception as exc:
            if _missing(exc):
                return False
            raise
        return True


def _missing(exc: Exception) -> bool:
    code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
    return code in ("404", "NoSuchKey", "NotFound")


def from_settings(settings: Settings) -> Storage:
    """The storage the settings choose: ``local`` (``<data dir>/attachments``) or ``s3``."""
    if settings.attachment_storage == "s3":
        if not settings.s3_bucket:
            raise RuntimeError("HEALTHGATE_ATTACHMENT_STORAGE=s3 needs HEALTHGATE_S3_BUCKET")
        secret = settings.s3_secret_access_key.get_secret_value() if settings.s3_secret_access_key else None
        return S3Storage(settings.s3_bucket, prefix=settings.s3_prefix, endpoint_url=settings.s3_endpoint_url,
                         region=settings.s3_region, access_key_id=settings.s3_access_key_id,
                         secret_access_key=secret)
    return LocalStorage(Path(settings.data_dir) / "attachments")
