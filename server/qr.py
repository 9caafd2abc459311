"""QR codes as SVG (python ``qrcode``), for case codes and contact cards."""

from __future__ import annotations


def qr_svg(data: str, box_size: int = 8) -> str:
    """A standalone SVG drawing ``data`` as a QR code (medium error correction, printable)."""
    import qrcode  # heavy: loaded on first use; loads with the first QR code, not at start-up
    import qrcode.image.svg  # heavy: loaded on first use

    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=box_size, border=2,
                       image_factory=qrcode.image.svg.SvgPathImage)
    qr.add_data(data)
    qr.make(fit=True)
    svg = qr.make_image().to_string(encoding="unicode")
    # Drop the XML declaration so the SVG can sit inline in HTML.
    return svg.split("?>", 1)[1].strip() if svg.startswith("<?xml") else svg
