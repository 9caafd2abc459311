"""Public verification on the web, shared by the API (``POST /api/verify``) and the verify page: the
uploaded PDF read within its limit, a verification slot, the check itself on the verify executor."""

from __future__ import annotations

import asyncio
import functools
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import BodyPartReader, web

from server import checkpoints
from server.agreements.keys import Keyring, TrustedKeys
from server.agreements.verify import MAX_PDF, verify_pdf
from server.errors import ApiError, bad_request, read_body
from server.http import http_status
from server.security.uploads import UploadRefused
from server.services import services

VERIFY_QUEUE = 4  # and waiting for a slot; more at once are refused (429)


def keyring(app: web.Application) -> Keyring:
    return services(app).agreement_keys


def trusted_keys(app: web.Application) -> TrustedKeys:
    """This server's public keys, its city root certificate and its current CRL."""
    return keyring(app).trusted("this server's keyring")


async def read_upload(request: web.Request) -> bytes:
    """The PDF from a multipart form (field ``file``) or a raw application/pdf body, within the limit."""
    if request.content_length is not None and request.content_length > MAX_PDF + 64 * 1024:
        raise ApiError(413, "too_large", f"the file is over {MAX_PDF // (1024 * 1024)} MiB")
    ctype = request.content_type
    if ctype.startswith("multipart/"):
        try:
            return await _multipart_file(request)
        except (ValueError, AssertionError, RuntimeError) as e:  # no boundary, truncated or garbled parts
            raise bad_request("the upload is not a valid multipart form", "invalid_upload") from e
    if ctype in ("application/pdf", "application/octet-stream"):
        return await read_body(request, MAX_PDF, f"the file is over {MAX_PDF // (1024 * 1024)} MiB")
    raise ApiError(415, "unsupported_media_type", "upload the PDF as multipart/form-data or application/pdf")


async def _multipart_file(request: web.Request) -> bytes:
    reader = await request.multipart()
    while True:
        part = await reader.next()
        if part is None:
            raise bad_request("no file in the upload (field name: file)", "missing_field")
        if not isinstance(part, BodyPartReader) or part.name != "file":
            continue  # another field, or a nested multipart/* part
        data = bytearray()
        while chunk := await part.read_chunk(64 * 1024):
            data += chunk
            if len(data) > MAX_PDF:
                raise ApiError(413, "too_large", f"the file is over {MAX_PDF // (1024 * 1024)} MiB")
        return bytes(data)


@asynccontextmanager
async def verify_slot(request: web.Request) -> AsyncIterator[None]:
    """Held from reading the upload to the verdict: VERIFY_SLOTS at a time, each within the parsing limits
    (server/security/uploads.py). At most VERIFY_QUEUE more wait their turn (the server buffers part of
    a waiting upload); beyond that, 429 at once, so memory stays bounded however many arrive."""
    svc = services(request)
    slots: asyncio.Semaphore = svc.verify_slots
    if slots.locked() and svc.verify_waiting >= VERIFY_QUEUE:
        raise ApiError(429, "busy", "核验请求过多，请稍后再试。 / Too many verifications at once; try again shortly.",
                       retry_after=5)
    svc.verify_waiting += 1
    try:
        await slots.acquire()
    finally:
        svc.verify_waiting -= 1
    try:
        yield
    finally:
        slots.release()


async def check_upload(request: web.Request, data: bytes) -> dict[str, Any]:
    if not data:
        raise bad_request("the uploaded file is empty", "empty_file")
    trusted = trusted_keys(request.app)
    # The inclusion proof's tree head must be signed by this city's ledger key.
    city = checkpoints.city_key_ids(services(request).ledger_keys)
    try:
        result = await asyncio.get_running_loop().run_in_executor(
            services(request).verify_executor, functools.partial(verify_pdf, data, trusted, check_pades=True,
                                                              ledger_keys=city))
    except UploadRefused as e:
        raise ApiError(http_status(e), e.code, e.message) from e
    out = result.as_dict()
    out["sha256"] = hashlib.sha256(data).hexdigest()
    return out
