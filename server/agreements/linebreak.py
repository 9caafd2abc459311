"""Breaking text into lines for the PDF: Chinese line-breaking rules (避头尾) and word-aware wrapping.

fpdf2's character wrapping breaks anywhere: "。" at the start of a line, "（" at the end of one, "Chro/me"
and "aioht/tp" in the certificate's cells, a hash in the middle of a group. ``break_lines`` fills lines
greedily from *units* that are never split:

- a CJK character is a unit; closing punctuation (``NO_START``: 。，、；：？！）」』》〉… and the like) is
  glued to the unit before it, an opening bracket (``NO_END``: （「『《〈 …) to the unit after it, so neither
  can stand at the wrong end of a line;
- a run of Latin letters, digits and ASCII punctuation (a word, a version, an address) is one unit, and
  spaces are break opportunities;
- a run of 16 or more hex digits (a hash) is cut into groups of 8, each a unit.

A unit wider than the line (a long URL or user agent) is cut after "/", ":", "-", ".", "_" or ";" where
it can be, and character by character only as a last resort.
"""

from __future__ import annotations

import re
from collections.abc import Callable

# May not start a line: closing brackets and quotes, sentence and clause punctuation, iteration marks.
NO_START = frozenset("。，、；：？！）」』》〉】〕〗〙〛｝］’”…‥·・～％‰℃,.;:?!)]}%"
                     "々〻ゝゞヽヾぁぃぅぇぉっゃゅょゎァィゥェォッャュョヮヵヶ")
# May not end a line: opening brackets and quotes.
NO_END = frozenset("（「『《〈【〔〖〘〚｛［‘“([{")

_HEX = re.compile(r"[0-9a-fA-F]{16,}")
# Break opportunities inside an over-long word, strongest first: after a slash, then after : ; , & ? =,
# then after - and _, then after a dot.
_SOFT = [re.compile(r"(?<=/)"), re.compile(r"(?<=[:;,&?=])"), re.compile(r"(?<=[-_])"), re.compile(r"(?<=\.)")]
HASH_GROUP = 8


def _latin(c: str) -> bool:
    return ord(c) < 0x2000 and not c.isspace() and c not in NO_START - set(",.;:?!)]}%") \
        and c not in NO_END - set("([{")


def _atoms(paragraph: str) -> list[tuple[str, bool]]:
    """(text, space before) for each atom: a CJK character, a Latin run, or a hash group."""
    out: list[tuple[str, bool]] = []
    i, n, space = 0, len(paragraph), False
    while i < n:
        c = paragraph[i]
        if c == " " or c == "\t":
            space = True
            i += 1
            continue
        if _latin(c):
            j = i
            while j < n and _latin(paragraph[j]):
                j += 1
            run = paragraph[i:j]
            if _HEX.fullmatch(run):
                groups = [run[k:k + HASH_GROUP] for k in range(0, len(run), HASH_GROUP)]
                out.append((groups[0], space))
                out.extend((g, False) for g in groups[1:])
            else:
                out.append((run, space))
            i = j
        else:
            out.append((c, space))
            i += 1
        space = False
    return out


def _units(paragraph: str) -> list[tuple[str, bool]]:
    """Atoms glued by the rules: closing punctuation onto the unit before, opening onto the unit after."""
    units: list[tuple[str, bool]] = []
    pending = ""  # opening brackets waiting for the next atom
    pending_space = False
    for text, space in _atoms(paragraph):
        if pending:
            text, space = pending + text, pending_space
            pending = ""
        if text[0] in NO_START and units and not space:
            prev, prev_space = units.pop()
            text, space = prev + text, prev_space
        if text[-1] in NO_END:
            pending, pending_space = text, space
            continue
        units.append((text, space))
    if pending:
        units.append((pending, pending_space))
    return units


def _pieces(part: str, width: float, measure: Callable[[str], float], level: int = 0) -> list[str]:
    """``part`` cut at the strongest break points that make every piece fit; characters last."""
    if measure(part) <= width:
        return [part]
    if level < len(_SOFT):
        out: list[str] = []
        for p in (x for x in _SOFT[level].split(part) if x):
            out.extend(_pieces(p, width, measure, level + 1))
        return out
    chars: list[str] = []
    cur = ""
    for ch in part:
        if cur and measure(cur + ch) > width:
            chars.append(cur)
            cur = ""
        cur += ch
    return chars + ([cur] if cur else [])


def _split_long(unit: str, width: float, measure: Callable[[str], float]) -> list[str]:
    """An over-long unit as lines no wider than ``width``, packed from its pieces."""
    lines: list[str] = []
    cur = ""
    for p in _pieces(unit, width, measure):
        if cur and measure(cur + p) > width:
            lines.append(cur)
            cur = ""
        cur += p
    if cur:
        lines.append(cur)
    return lines


def break_lines(text: str, width: float, measure: Callable[[str], float]) -> list[str]:
    """``text`` (one paragraph per "\\n") as lines no wider than ``width`` by ``measure``, where the rules
    allow: a unit is only ever wider than the line when a single character is."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        units = _units(paragraph)
        if not units:
            lines.append("")
            continue
        space_w = measure(" ")
        cur, cw = "", 0.0
        for unit, space in units:
            uw = measure(unit)
            gap = space_w if space and cur else 0.0
            if cw + gap + uw <= width:
                cur += (" " if gap else "") + unit
                cw += gap + uw
                continue
            if cur:
                lines.append(cur)
            if uw <= width:
                cur, cw = unit, uw
                continue
            parts = _split_long(unit, width, measure)
            lines.extend(parts[:-1])
            cur = parts[-1]
            cw = measure(cur)
        lines.append(cur)
    return lines
