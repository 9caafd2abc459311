"""The CJK font for PDFs: Noto Sans CJK SC from the system, with a cached common-character subset.

Embedding from the full 65,000-glyph face costs about 0.3 s per document in font parsing and subsetting.
Almost every agreement uses only characters of GB 2312 (6,763 hanzi) plus ASCII and punctuation, so the
SC face is cut once to those ~7,700 glyphs and kept in a cache file; a document that needs any other
character (a rare name, say) is drawn from the full face instead. Both are the same design (OFL).
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import threading
from functools import lru_cache
from pathlib import Path

# (path, face index in the collection). Noto Sans CJK's collection order is JP, KR, SC, TC, HK.
FONT_CANDIDATES = [
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),
    ("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc", 2),
    ("/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc", 2),
    ("/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc", 2),
]

class FontMissing(RuntimeError):
    pass


def find_font(candidates: list[tuple[str, int]] = FONT_CANDIDATES, env: str = "CONCORD_CJK_FONT") -> tuple[str, int]:
    """The CJK font to embed: ``$CONCORD_CJK_FONT`` (``path`` or ``path#index``) or Noto Sans CJK SC."""
    configured = os.environ.get(env)
    if configured:
        path, _, index = configured.partition("#")
        if not Path(path).is_file():
            raise FontMissing(f"{env}={configured!r}: no such font file")
        return path, int(index or 0)
    for path, idx in candidates:
        if Path(path).is_file():
            return path, idx
    raise FontMissing("no CJK font found for the PDF: install Debian's fonts-noto-cjk package "
                      "(apt-get install fonts-noto-cjk) or set CONCORD_CJK_FONT=/path/to/font.ttc#index")


log = logging.getLogger("concord.agreements")
# fontTools reports every table it prunes at INFO, for each PDF: noise in the server log.
logging.getLogger("fontTools").setLevel(logging.WARNING)
_lock = threading.Lock()
SUBSET_VERSION = 1


def common_codepoints() -> set[int]:
    chars = set(range(0x20, 0x7F)) | set(range(0x3000, 0x3040)) | set(range(0xFF00, 0xFFF0))
    chars |= {0xA0, 0xB7, 0xD7, 0xF7, 0x2014, 0x2015, 0x2018, 0x2019, 0x201C, 0x201D, 0x2026, 0x2030, 0x203B,
              0x2103, 0x2116, 0x2160, 0x2161, 0x2162, 0x2460, 0x2461, 0x2462, 0x2463, 0x2464, 0x25CB, 0x25CF,
              0x2605, 0x2606, 0x2713, 0x2714, 0x2715, 0x2716, 0x2718, 0x3001, 0x3002, 0x2192, 0x2190}
    for hi in range(0xA1, 0xF8):
        for lo in range(0xA1, 0xFF):
            try:
                chars.add(ord(bytes([hi, lo]).decode("gb2312")))
            except UnicodeDecodeError:
                pass
    return chars


def cache_dir() -> Path:
    env = os.environ.get("CONCORD_FONT_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "concord" / "fonts"


def _subset_path(source: str, index: int) -> Path:
    st = os.stat(source)
    key = hashlib.sha256(f"{source}#{index}:{st.st_size}:{int(st.st_mtime)}:{SUBSET_VERSION}".encode()).hexdigest()
    return cache_dir() / f"cjk-common-{key[:16]}.otf"


def _build(source: str, index: int, target: Path) -> None:
    from fontTools import subset  # heavy: loaded on first use
    from fontTools.ttLib import TTFont  # heavy: loaded on first use

    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.with_suffix(".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be building it right now
        if target.exists():
            return
        font = TTFont(source, fontNumber=index, lazy=True)
        opts = subset.Options()
        opts.layout_features = []
        opts.name_IDs = ["*"]
        opts.notdef_outline = True
        opts.hinting = False
        sub = subset.Subsetter(opts)
        sub.populate(unicodes=common_codepoints())
        sub.subset(font)
        tmp = target.with_suffix(f".{os.getpid()}.tmp")
        font.save(str(tmp))
        os.replace(tmp, target)


@lru_cache(maxsize=4)
def _covered(path: str) -> frozenset[int]:
    from fontTools.ttLib import TTFont  # heavy: loaded on first use

    return frozenset(TTFont(path, lazy=True).getBestCmap())


def common_font(build: bool = True) -> str | None:
    """The cached subset's path (built on first use when ``build``), or None when it cannot be had."""
    try:
        source, index = find_font()
    except FontMissing:
        return None
    if os.environ.get("CONCORD_CJK_FONT"):
        return None  # an explicitly configured font is used as given
    target = _subset_path(source, index)
    if target.exists():
        return str(target)
    if not build:
        return None
    with _lock:
        try:
            _build(source, index, target)
        except (OSError, ValueError) as e:  # unwritable cache, odd font: the full face still works
            log.warning("CJK font subset not cached (%s); using the full font", e)
            return None
    return str(target)


def font_for(text: str) -> tuple[str, int]:
    """The font file (and collection index) to embed for a document drawing ``text``."""
    sub = common_font()
    if sub is not None and all(ord(ch) in _covered(sub) for ch in set(text) if ord(ch) >= 0x20):
        return sub, 0
    return find_font()


def warm_up() -> None:
    """Build the subset ahead of the first export (run in a thread at server start)."""
    try:
        common_font()
    except Exception:  # never let a cache problem stop the server
        log.exception("CJK font warm-up failed")
