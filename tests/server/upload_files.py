"""Builders of upload payloads (npz, PNG, zip) shared by the upload store and API tests."""

from __future__ import annotations

import io
import zipfile

import numpy as np
from PIL import Image


def npz_bytes(**arrays: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def png(side: tuple[int, int] = (8, 8), colour: bool = False, value: int = 128, fmt: str = "PNG") -> bytes:
    img = Image.new("RGB" if colour else "L", side, (value, 0, 255 - value) if colour else value)
    buffer = io.BytesIO()
    img.save(buffer, format=fmt)
    return buffer.getvalue()


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buffer.getvalue()
