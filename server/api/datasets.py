"""Uploaded datasets: list, upload a .npz, a zip of images or JSON points, and delete. The store does the checking
and counts each client's (with GANPLAY_AUTH=users: each user's) uploads against ``max_uploads_per_client`` and all
of them against ``max_uploads``. An upload belongs to whoever uploaded it: only they or an admin may delete it;
anyone signed in may list it and train on it."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request, Response, status
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from server.access import can_use_upload, control_refused
from server.api.deps import CallerDep, forbidden
from server.api.errors import ERRORS
from server.datasets_store import (
    UploadError,
    UploadQuota,
    check_room,
    delete_upload,
    get_upload,
    list_uploads,
    save_upload,
)
from server.security import client_id

router = APIRouter(prefix="/api/datasets", tags=["datasets"], responses=ERRORS)

MULTIPART_OVERHEAD = 64 * 1024  # boundaries and part headers around the file in a multipart body


class DatasetOut(BaseModel):
    id: str
    name: str
    format: str
    shape: list[int]
    n: int
    labels: int
    classes: list[str] | None = None
    created_at: datetime
    owner: str | None = None


def _data_dir(request: Request) -> Path:
    return Path(request.app.state.settings.data_dir)


def _max_bytes(request: Request) -> int:
    return int(request.app.state.settings.max_upload_bytes)


def _quota(request: Request) -> UploadQuota:
    settings = request.app.state.settings
    return UploadQuota(client_id(request), int(settings.max_uploads_per_client), int(settings.max_uploads))


def _error(status: int, field: str, reason: str) -> HTTPException:
    return HTTPException(status, detail=[{"field": field, "reason": reason}])


def _too_large(limit: int) -> HTTPException:
    return _error(413, "file", f"uploads are limited to {limit} bytes")


async def _read_body(request: Request, limit: int) -> bytes:
    """The raw body, read no further than ``limit + 1`` bytes."""
    chunks, size = [], 0
    async for chunk in request.stream():
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
    return b"".join(chunks)


_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": ".npz, .zip of PNG/JPEG images, or .json points",
                        }
                    },
                },
            },
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["points"],
                    "properties": {
                        "points": {"type": "array", "items": {"type": "array", "items": {"type": "number"}}},
                        "labels": {"type": "array", "items": {"type": "integer"}},
                        "name": {"type": "string"},
                    },
                },
            },
        },
    },
    "responses": {
        "413": {"description": "Upload too large"},
        "415": {"description": "Unsupported file type"},
        "422": {"description": "Invalid content"},
        "429": {"description": "This client (or user) already stores max_uploads_per_client uploads"},
        "507": {"description": "The server already stores max_uploads uploads"},
    },
}


@router.get("", response_model=list[DatasetOut])
async def list_datasets(request: Request, caller: CallerDep) -> list[dict]:
    """Newest first; with ``watch=owners`` a user's own uploads only (an admin sees all), the ones they may train
    on."""
    watch = request.app.state.settings.watch
    uploads = await run_in_threadpool(list_uploads, _data_dir(request))
    return [meta for meta in uploads if can_use_upload(caller, meta.get("owner"), watch)]


@router.post("", response_model=DatasetOut, status_code=201, openapi_extra=_UPLOAD_BODY)
async def upload_dataset(request: Request, caller: CallerDep) -> dict:
    """A multipart ``file`` field, or a JSON body of points. The body is parsed by hand (not by a declared
    parameter) so that an oversized upload is refused from its Content-Length before any of it is read."""
    limit, quota = _max_bytes(request), _quota(request)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit + MULTIPART_OVERHEAD:
        raise _too_large(limit)
    try:
        await run_in_threadpool(check_room, _data_dir(request), quota)  # before reading: a full store reads nothing
    except UploadError as e:
        raise _error(e.status_code, e.field, e.reason) from None

    if content_type == "application/json":
        content = await _read_body(request, limit)
        filename = "points.json"
        try:
            name = json.loads(content).get("name")
            if isinstance(name, str) and name:
                filename = f"{name}.json"
        except (ValueError, AttributeError, UnicodeDecodeError, RecursionError):
            pass  # the store reports invalid (or too deeply nested) JSON with its own message
    elif content_type == "multipart/form-data":
        try:
            form = await request.form(max_files=1, max_fields=10)
        except Exception as e:  # starlette raises its own MultiPartException/HTTPException for malformed bodies
            raise _error(422, "file", f"malformed multipart body: {e}") from None
        try:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise _error(422, "file", "missing: send the file in a multipart field named 'file'")
            content = await upload.read(limit + 1)
            filename = upload.filename or ""
        finally:
            await form.close()
        if len(content) > limit:
            raise _too_large(limit)
    else:
        raise _error(
            415,
            "content-type",
            f"'{content_type or 'none'}'; send multipart/form-data with a 'file' field, or application/json points",
        )
    try:
        return await run_in_threadpool(save_upload, _data_dir(request), filename, content, limit, quota, caller.name)
    except UploadError as e:
        raise _error(e.status_code, e.field, e.reason) from None


@router.delete(
    "/{dataset_id}", status_code=status.HTTP_204_NO_CONTENT, responses={404: {"description": "No such upload"}}
)
async def delete_dataset(dataset_id: str, request: Request, caller: CallerDep) -> Response:
    """Frees the upload's place in both quotas. A run that trains on it keeps the data it loaded; a later fork or
    resume of such a run fails, saying the upload is gone. Its owner or an admin only (403)."""
    meta = await run_in_threadpool(get_upload, _data_dir(request), dataset_id)
    if meta is not None:
        reason = control_refused(caller, f"dataset {dataset_id}", meta.get("owner"), "delete")
        if reason is not None:
            raise forbidden(reason)
    if not await run_in_threadpool(delete_upload, _data_dir(request), dataset_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no dataset {dataset_id}")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
