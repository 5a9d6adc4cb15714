"""The run stream's wire format: small events as JSON text, frames as one binary websocket message each.

A frame (a ``field`` or ``samples`` event) is mostly arrays: D's grid, the samples and G's pull on each, G's
manifold, a Dirac field's vectors, an image grid's PNG. As JSON they were nearly all of the stream's bytes (a
float32 rounded to 3 decimals prints as ``0.12300000339746475``), and the page had to parse them. A binary
message carries them as they are, and the page reads them as typed arrays over the message's own buffer:

    bytes 0–3   uint32, little-endian: H, the length of the header in bytes
    bytes 4…    the header, H bytes of UTF-8 JSON: the event's other fields as they are in JSON, plus
                "arrays": [{"name": "d", "dtype": "f4", "shape": [32, 32], "offset": 368}, …]
    then        each array's bytes at its ``offset`` (counted from the message's first byte, a multiple of 8):
                "f4" float32 little-endian in row-major order, "u1" raw bytes (an image frame's ``png``)

Which fields travel as arrays: every top-level field that is a rectangular list of lists of numbers (2 or more
dimensions: points, grids, vectors; the float32 values the models rounded, so nothing is lost) and every
``bytes`` value. 1-D lists (bounds, covered flags, a Dirac field's axes) stay in the header. A new array in a
frame, such as ``manifold``, needs no change here.

What a run's 2D field frames share (``STATIC_KEYS``: the data's bounds, the real points drawn, the mode centres)
is not repeated in every frame: the snapshot carries it as ``static``, and a connection gets a ``static`` text
event (``{"type": "static", "bounds", "real", "centers"}``) before the first frame whose parts differ from the
ones it last got: only after a live change of ``stream.n_samples``, or when it joined before the first frame.
The frame itself travels without them; a reader puts them back (``decode`` here does not, ``web/src/wire.js``
does).
"""

from __future__ import annotations

import json
import struct
import sys
from array import array
from dataclasses import dataclass
from itertools import chain
from typing import Any

Event = dict[str, Any]
FRAME_TYPES = frozenset({"field", "samples"})
STATIC_KEYS = ("bounds", "real", "centers")
ALIGN = 8
_LENGTH = struct.Struct("<I")
_ITEMSIZE = {"f4": 4, "u1": 1}


def json_text(event: Event) -> str:
    """An event as JSON text, as Starlette's ``send_json`` writes it (compact, UTF-8 kept)."""
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False)


def has_static(event: Event) -> bool:
    """A 2D field frame (a Dirac-GAN's has no part that stays: its square follows the trajectory)."""
    return event.get("type") == "field" and event.get("kind") != "dirac" and "bounds" in event


def static_of(event: Event) -> Event:
    return {key: event.get(key) for key in STATIC_KEYS}


def static_text(static: Event) -> str:
    return json_text({"type": "static", **static})


def _shape(value: Any) -> list[int] | None:
    """The shape of a list of lists of numbers, read along its first elements; None for anything else."""
    shape: list[int] = []
    probe = value
    while isinstance(probe, list):
        shape.append(len(probe))
        if not probe:
            return None
        probe = probe[0]
    if len(shape) < 2 or isinstance(probe, bool) or not isinstance(probe, int | float):
        return None
    return shape


def _floats(value: list[Any], shape: list[int]) -> array | None:
    """The values in row-major order as float32, or None when the list is not rectangular or not all numbers."""
    items: list[Any] = value
    for size in shape[1:]:
        if any(type(row) is not list or len(row) != size for row in items):
            return None
        items = list(chain.from_iterable(items))
    try:
        out = array("f", items)
    except TypeError:
        return None
    if sys.byteorder == "big":
        out.byteswap()
    return out


def binary(event: Event) -> bytes:
    """One event as a binary message (see the module's docstring)."""
    header: Event = {}
    arrays: list[tuple[dict[str, Any], bytes]] = []
    for key, value in event.items():
        if isinstance(value, bytes | bytearray):
            arrays.append(({"name": key, "dtype": "u1", "shape": [len(value)]}, bytes(value)))
            continue
        shape = _shape(value)
        floats = None if shape is None else _floats(value, shape)
        if shape is None or floats is None:
            header[key] = value
        else:
            arrays.append(({"name": key, "dtype": "f4", "shape": shape}, floats.tobytes()))
    # The offsets depend on the header's length, which depends on the offsets: lay out with a bound, then pad.
    descriptors = [d for d, _ in arrays]
    header["arrays"] = descriptors
    for d in descriptors:
        d["offset"] = 0
    bound = len(json_text(header).encode()) + 16 * len(descriptors) + 4
    offset = _aligned(bound)
    for d, data in arrays:
        d["offset"] = offset
        offset = _aligned(offset + len(data))
    head = json_text(header).encode()
    if descriptors and 4 + len(head) > descriptors[0]["offset"]:
        raise AssertionError("header longer than its bound")  # cannot happen: an offset has far fewer than 16 digits
    parts = [_LENGTH.pack(len(head)), head]
    at = 4 + len(head)
    for d, data in arrays:
        parts.append(b"\0" * (d["offset"] - at))
        parts.append(data)
        at = d["offset"] + len(data)
    return b"".join(parts)


def _aligned(n: int) -> int:
    return -(-n // ALIGN) * ALIGN


@dataclass(frozen=True)
class Encoded:
    """An event ready to send: ``message`` (text or binary), and for a 2D field frame the ``static`` event text
    it relies on, which a connection sends first unless it is the one it last sent."""

    message: str | bytes
    static: str | None = None


def encode(event: Event) -> Encoded:
    """Small events as JSON text; frames binary, a 2D field frame without its static parts."""
    if event.get("type") not in FRAME_TYPES:
        return Encoded(json_text(event))
    if has_static(event):
        frame = {key: value for key, value in event.items() if key not in STATIC_KEYS}
        return Encoded(binary(frame), static_text(static_of(event)))
    return Encoded(binary(event))


def decode(message: str | bytes) -> Event:
    """A message as the event it encodes, arrays as nested lists (float32 values) and ``u1`` arrays as bytes: for
    Python clients (tests, benchmarks). A 2D field frame comes without its static parts (see ``Reader``)."""
    if isinstance(message, str):
        event: Event = json.loads(message)
        return event
    view = memoryview(message)
    (length,) = _LENGTH.unpack_from(view, 0)
    event = json.loads(bytes(view[4 : 4 + length]))
    for d in event.pop("arrays"):
        size = _ITEMSIZE[d["dtype"]]
        count = 1
        for n in d["shape"]:
            count *= n
        chunk = view[d["offset"] : d["offset"] + count * size]
        if d["dtype"] == "u1":
            event[d["name"]] = bytes(chunk)
        elif sys.byteorder == "big":
            swapped = array("f", chunk.tobytes())
            swapped.byteswap()
            event[d["name"]] = _nested(swapped.tolist(), d["shape"])
        else:
            event[d["name"]] = chunk.cast("f", d["shape"]).tolist()
    return event


def _nested(flat: list[Any], shape: list[int]) -> list[Any]:
    for size in reversed(shape[1:]):
        flat = [flat[i : i + size] for i in range(0, len(flat), size)]
    return flat


def header(message: str | bytes) -> Event:
    """A binary message's header alone (its event without the arrays): what a client that only times events
    needs. Text messages are parsed whole."""
    if isinstance(message, str):
        return decode(message)
    (length,) = _LENGTH.unpack_from(message, 0)
    head: Event = json.loads(bytes(message[4 : 4 + length]))
    return head


class Reader:
    """Events from one connection's messages, 2D field frames with their static parts put back, as the page's
    ``web/src/wire.js`` does: a snapshot's ``static`` or a ``static`` event is kept (and not returned: ``read``
    gives None for it) and added to each field frame that follows."""

    def __init__(self) -> None:
        self.static: Event | None = None

    def read(self, message: str | bytes) -> Event | None:
        event = decode(message)
        kind = event.get("type")
        if kind == "snapshot":
            self.static = event.get("static")
        elif kind == "static":
            self.static = {key: event.get(key) for key in STATIC_KEYS}
            return None
        elif kind == "field" and event.get("kind") != "dirac" and self.static is not None:
            event.update(self.static)
        return event
