"""The yardstick: a bare FastAPI ``async def`` endpoint, served with the same uvicorn settings.

``POST /upload`` is the upload yardstick (``bench/upload.py``): the minimum a framework-native upload
does, a multipart form parsed by Starlette (files over 1 MB spooled to disk), the file read to the
end in chunks and hashed.
"""

from __future__ import annotations

import hashlib

from fastapi import FastAPI, Form, UploadFile

app = FastAPI()
_CHUNK = 256 * 1024


@app.get("/async")
async def ceiling() -> dict[str, object]:
    return {"status": "ok", "service": "ceiling", "version": 1}


@app.post("/upload")
async def upload(file: UploadFile, evidence_type: str = Form()) -> dict[str, object]:
    hasher = hashlib.sha256()
    size = 0
    while chunk := await file.read(_CHUNK):
        hasher.update(chunk)
        size += len(chunk)
    return {"evidence_type": evidence_type, "size_bytes": size, "sha256": hasher.hexdigest()}
