import base64
import io

import pytest
from PIL import Image

from server.agreements.images import ImageError, clean_signature, decode_data_url
from tests.support.agreement_sample import stroke_png


def png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def test_drawn_stroke_is_accepted_and_normalised() -> None:
    raw = stroke_png()
    out, digest = clean_signature(raw)
    assert out.startswith(b"\x89PNG") and len(digest) == 64
    assert clean_signature(out)[0] == out  # stable


@pytest.mark.parametrize("img, code", [
    (Image.new("RGBA", (600, 200), (255, 255, 255, 0)), "signature_empty"),  # transparent canvas
    (Image.new("RGB", (600, 200), "white"), "signature_empty"),  # white canvas
    (Image.new("RGBA", (3000, 200), (0, 0, 0, 255)), "signature_too_large"),
    (Image.new("RGBA", (20, 10), (0, 0, 0, 255)), "signature_too_small"),
])
def test_refusals(img: Image.Image, code: str) -> None:
    with pytest.raises(ImageError) as e:
        clean_signature(png(img))
    assert e.value.code == code


def test_a_dot_is_not_a_signature() -> None:
    img = Image.new("RGBA", (600, 200), (255, 255, 255, 0))
    img.putpixel((10, 10), (0, 0, 0, 255))
    with pytest.raises(ImageError, match="empty"):
        clean_signature(png(img))


def test_not_png_and_bad_data_urls() -> None:
    with pytest.raises(ImageError, match="not a PNG"):
        clean_signature(b"GIF89a....")
    with pytest.raises(ImageError):
        clean_signature(b"\x89PNG\r\n\x1a\n" + b"garbage")
    with pytest.raises(ImageError):
        decode_data_url("data:image/svg+xml;base64,AAAA")
    with pytest.raises(ImageError):
        decode_data_url("data:image/png;base64,@@@")
    with pytest.raises(ImageError, match="over"):
        decode_data_url("data:image/png;base64," + "A" * 400_000)
    assert decode_data_url("data:image/png;base64," + base64.b64encode(b"abc").decode()) == b"abc"
