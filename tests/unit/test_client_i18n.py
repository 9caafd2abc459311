"""The browser client's one translation system (web/static/js/i18n.js and its catalogues).

Both catalogues hold the same keys with the same placeholders; every key a script asks for by a literal
exists; no script keeps its own language switch or a second lookup function.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

JS = Path(__file__).resolve().parents[2] / "web" / "static" / "js"
ENTRY = re.compile(r'^\s*"([^"]+)":\s*("(?:[^"\\]|\\.)*"),\s*$', re.M)
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def catalogue(lang: str) -> dict[str, str]:
    text = (JS / "i18n" / f"{lang}.js").read_text(encoding="utf-8")
    return {k: json.loads(v) for k, v in ENTRY.findall(text)}


def scripts() -> list[Path]:
    return sorted(p for p in JS.glob("*.js"))


def test_both_catalogues_hold_the_same_keys_and_placeholders() -> None:
    zh, en = catalogue("zh-CN"), catalogue("en")
    assert len(zh) > 150
    assert set(zh) == set(en)
    for key in zh:
        assert set(PLACEHOLDER.findall(zh[key])) == set(PLACEHOLDER.findall(en[key])), key
        assert zh[key].strip() and en[key].strip(), key


def test_a_chinese_message_is_chinese_and_an_english_one_is_not() -> None:
    cjk = re.compile(r"[\u3400-\u9fff]")
    zh, en = catalogue("zh-CN"), catalogue("en")
    assert not [k for k, v in en.items() if cjk.search(v)]
    # A few Chinese texts are names or codes only; everything else must carry Chinese.
    assert [k for k, v in zh.items() if not cjk.search(v)] == []


def test_every_literal_key_a_script_asks_for_exists() -> None:
    keys = set(catalogue("zh-CN"))
    asked = re.compile(r'\bt\("([a-z_.\-]+)"')
    missing = [(p.name, k) for p in scripts() for k in asked.findall(p.read_text(encoding="utf-8")) if k not in keys]
    assert missing == []
    titles = re.compile(r'title: "([a-z_.]+)"')
    assert [k for p in scripts() for k in titles.findall(p.read_text(encoding="utf-8")) if k not in keys] == []


def test_no_script_keeps_its_own_language_switch_or_lookup() -> None:
    for p in scripts():
        text = p.read_text(encoding="utf-8")
        assert not re.search(r"\btr\(", text), p.name
        if p.name != "i18n.js":
            assert "documentElement.lang" not in text, p.name
            assert not re.search(r'lang === "en"', text), p.name


def test_lookup_fills_placeholders_and_follows_the_page_language(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    shutil.copytree(JS, tmp_path, dirs_exist_ok=True)
    for lang, joined, role, unknown in (("zh-CN", "张三 加入了会议", "当事人", "nope.key"),
                                        ("en", "张三 joined", "Party", "nope.key")):
        script = (f"globalThis.document = {{documentElement: {{lang: {json.dumps(lang)}}}}};\n"
                  f"const m = await import({json.dumps((tmp_path / 'i18n.js').as_uri())});\n"
                  "console.log(JSON.stringify([m.t('room.joined', {name: '张三'}), m.roleName('party'),"
                  " m.t('nope.key'), m.roleName('someone'), m.label('playback.', 'odd', ''),"
                  " m.errorText({code: 'locked'}), m.errorText({message: 'Plain English'})]));")
        out = subprocess.run([node, "--input-type=module", "-e", script], capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        got = json.loads(out.stdout)
        assert got[:5] == [joined, role, unknown, "someone", ""]
        assert got[5] == ("会议室已锁定，暂时无法进入。" if lang == "zh-CN" else "The room is locked.")
        # On a Chinese page an untranslated English message becomes the generic sentence.
        assert got[6] == ("操作未能完成，请稍后重试。" if lang == "zh-CN" else "Plain English")
