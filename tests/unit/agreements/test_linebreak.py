"""Line breaking in the agreement PDFs follows 避头尾 (server/agreements/linebreak.py), checked on the
rendered pages: no closing punctuation starts a line, no opening bracket ends one, and the certificate's
cells break between words and hash groups, never inside them."""

from __future__ import annotations

import re
from typing import Any

import pymupdf
import pytest

from server.agreements.content import DISPUTE_TYPES
from server.agreements.export import export_agreement_pdf, judicial_application_pdf
from server.agreements.linebreak import NO_END, NO_START, break_lines
from tests.support.agreement_sample import sample_content, signed_sample

UA_DESKTOP = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"


def page_lines(data: bytes) -> list[str]:
    """Every drawn line of text, in reading order, as the PDF holds it."""
    out = []
    for page in pymupdf.open(stream=data, filetype="pdf"):
        for block in page.get_text("dict")["blocks"]:
            for line in block.get("lines", []):
                text = "".join(span["text"] for span in line["spans"]).strip()
                if text:
                    out.append(text)
    return out


def violations(lines: list[str]) -> list[str]:
    return [f"starts {line!r}" for line in lines if line[0] in NO_START] + \
           [f"ends {line!r}" for line in lines if line[-1] in NO_END]


def samples(keyring: Any) -> list[tuple[str, bytes]]:
    out = []
    for i, dtype in enumerate(DISPUTE_TYPES):
        # Padding makes long paragraphs, so many lines break somewhere inside the text.
        content = sample_content(parties=2 + i % 2, obligations=3, padding=2, dispute_type=dtype)
        d, sealer = signed_sample(keyring, content)
        out.append((dtype, export_agreement_pdf(d, keyring.public_keys(), sealer)))
        out.append((f"{dtype} application", judicial_application_pdf(d, "怀远县人民法院")))
    return out


@pytest.fixture(scope="module")
def rendered(keyring: Any) -> list[tuple[str, bytes]]:
    return samples(keyring)


def test_no_closing_punctuation_starts_a_line_and_no_opening_bracket_ends_one(rendered) -> None:  # type: ignore[no-untyped-def]
    checked = 0
    for name, data in rendered:
        lines = page_lines(data)
        assert not violations(lines), (name, violations(lines))
        checked += len(lines)
    assert checked > 1000


def test_the_rules_bite_on_text_that_would_break_badly() -> None:
    """A line that would end in （ or start with 。 is rebroken; every character is kept, in order."""
    width = {c: 1.0 for c in "测试文字（）。，"}

    def w(s: str) -> float:
        return sum(width.get(c, 0.5) for c in s)

    text = "测试文字测试（文字）。测试，文字测试文字。"
    for cols in range(3, 12):
        lines = break_lines(text, cols, w)
        assert "".join(lines) == text
        assert not violations(lines), (cols, lines)
        assert all(w(line) <= cols for line in lines)


def test_certificate_cells_break_between_words_and_hash_groups(keyring) -> None:  # type: ignore[no-untyped-def]
    # The party's copy draws the user agent as signed: a desktop browser and a script, the words of issue 12.
    d, sealer = signed_sample(keyring, sample_content(), audience="party")
    for r in d.records:
        r.payload["user_agent"] = UA_DESKTOP if r.payload["seq"] % 2 else "Python/3.11 aiohttp/3.9.5"
    data = export_agreement_pdf(d, keyring.public_keys(), sealer)
    lines = page_lines(data)
    cert = lines[next(i for i, line in enumerate(lines) if line == "电子签署完成证书"):]
    flat = "".join(cert)
    assert "aiohttp/" in flat and "Chrome/" in flat
    # Every word drawn is a whole word of what was drawn from: a fragment such as "Chro" or "aioht" is not.
    import json
    from pathlib import Path

    import server.agreements.pdf as pdf_module

    sources = json.dumps([r.payload for r in d.records], ensure_ascii=False) + d.verify_url + d.content.unit_code \
        + Path(pdf_module.__file__).read_text()
    whole = set(re.findall(r"[A-Za-z]+", sources))
    for line in cert:
        for token in re.findall(r"[A-Za-z]{2,}", line):
            assert token in whole or re.fullmatch(r"[0-9a-fA-F]+", token), (token, line)
    digests = [r.payload["image_sha256"][:16] for r in d.records if r.payload.get("image_sha256")]
    assert digests
    for dg in digests:  # on one line, or as two groups of 8
        assert dg in cert or (dg[:8] in cert and dg[8:] in cert), (dg, cert)
    for line in cert:
        if any(line in dg for dg in digests) and len(line) >= 2:
            assert len(line) in (8, 16), line
    # The document hash in the table of facts: whole groups too.
    h = d.document_hash
    assert all(len(line) % 8 == 0 for line in cert if len(line) > 4 and line in h)


def test_long_words_and_hashes_have_their_own_break_points() -> None:
    def w(s: str) -> float:
        return float(len(s))

    assert break_lines("a3f2b7c9e1d04f5a6b7c8d9e0f1a2b3c", 17, w) == ["a3f2b7c9e1d04f5a", "6b7c8d9e0f1a2b3c"]
    assert break_lines("手机 Linux Chrome 126", 12, w) == ["手机 Linux", "Chrome 126"]
    assert break_lines("Python/3.11 aiohttp/3.9.5", 12, w) == ["Python/3.11", "aiohttp/", "3.9.5"]
    assert break_lines("2001:db8:85a3::8a2e:370:7334", 12, w) == ["2001:db8:", "85a3::8a2e:", "370:7334"]


def test_any_text_at_any_width_keeps_every_character() -> None:
    """Deterministic fuzz: whatever the text and width, nothing is lost, reordered or made too wide where
    a break was possible, and the call returns."""
    import random

    rnd = random.Random(12)
    alphabet = "张三李四。，、；：？！）」』》（「『《abcXYZ0189 /:-._()…—\u3000"

    def w(s: str) -> float:
        return sum(1.0 if ord(c) > 0x2000 else 0.55 for c in s)

    for _ in range(400):
        text = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 60)))
        width = rnd.choice([0.5, 1.0, 2.0, 3.3, 7.0, 20.0])
        lines = break_lines(text, width, w)
        assert "".join(lines).replace(" ", "") == text.replace(" ", ""), (text, width, lines)
        assert all(w(line) <= width or len(line.replace(" ", "")) <= 4 for line in lines), (text, width, lines)
