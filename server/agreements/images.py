"""Handwritten signature images from the signing canvas: strict checks, then a clean re-encoded PNG."""

from __future__ import annotations

import base64
import binascii
import hashlib
import io

MAX_BYTES = 256 * 1024
MAX_W, MAX_H = 1600, 800
MIN_W, MIN_H = 100, 40
MIN_INK_PIXELS = 150
MIN_INK_BOX = (30, 10)


class ImageError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def decode_data_url(data: str) -> bytes:
    """``data:image/png;base64,...`` (as canvas.toDataURL gives) to bytes, refusing anything else."""
    if not isinstance(data, str) or not data.startswith("data:image/png;base64,"):
        raise ImageError("signature_format", "the signature must be a PNG data URL from the signing canvas")
    payload = data[len("data:image/png;base64,"):]
    if len(payload) > MAX_BYTES * 4 // 3 + 8:
        raise ImageError("signature_too_large", f"the signature image is over {MAX_BYTES // 1024} KiB")
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as e:
        raise ImageError("signature_format", "the signature image is not valid base64") from e


def clean_signature(raw: bytes) -> tuple[bytes, str]:
    """Validate a drawn signature and return (normalised PNG, its SHA-256).

    Refused: not a PNG, over the size limits, a blank (or nearly blank) canvas."""
    from PIL import Image, UnidentifiedImageError  # heavy: loaded on first use

    if len(raw) > MAX_BYTES:
        raise ImageError("signature_too_large", f"the signature image is over {MAX_BYTES // 1024} KiB")
    if not raw.startswith(b"\x89PNG\r\n\x1a\n"):
        raise ImageError("signature_format", "the signature image is not a PNG")
    try:
        img = Image.open(io.BytesIO(raw))
        if img.width > MAX_W or img.height > MAX_H:
            raise ImageError("signature_too_large", f"the signature image is over {MAX_W}x{MAX_H} pixels")
        if img.width < MIN_W or img.height < MIN_H:
            raise ImageError("signature_too_small", f"the signature image is under {MIN_W}x{MIN_H} pixels")
        img.load()
    except ImageError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as e:
        raise ImageError("signature_format", "the signature image cannot be decoded") from e
    rgba = img.convert("RGBA")
    # Ink: visible (alpha) and darker than the paper. Transparent or white canvases have none.
    alpha = rgba.getchannel("A")
    grey = rgba.convert("L")
    ink = Image.eval(grey, lambda v: 255 if v < 160 else 0)
    ink = Image.composite(ink, Image.new("L", rgba.size, 0), alpha.point(lambda a: 255 if a > 64 else 0))
    count = sum(ink.histogram()[255:])
    box = ink.getbbox()
    if count < MIN_INK_PIXELS or box is None or (box[2] - box[0]) < MIN_INK_BOX[0] or (
            box[3] - box[1]) < MIN_INK_BOX[1]:
        raise ImageError("signature_empty", "the signature canvas is empty: please sign by hand")
    # Re-encode: strips metadata and any trailing bytes; ink on transparent paper.
    out = Image.new("LA", rgba.size, (0, 0))
    out.putalpha(ink)
    buf = io.BytesIO()
    out.save(buf, "PNG", optimize=True)
    png = buf.getvalue()
    return png, hashlib.sha256(png).hexdigest()
