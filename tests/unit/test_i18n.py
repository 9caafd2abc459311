"""server.i18n: one language per page for messages that come from the domain or the API."""

from __future__ import annotations

import pytest

from server.i18n import has_cjk, language_of, localise, localise_context, pick


@pytest.mark.parametrize(("text", "zh", "en"), [
    ("请填写姓名（50字以内） / Enter your name (up to 50 characters)", "请填写姓名（50字以内）",
     "Enter your name (up to 50 characters)"),
    ("已办理 / done", "已办理", "done"),
    ("录像 / Recorder", "录像", "Recorder"),
    ("同意 / yes", "同意", "yes"),
])
def test_pick_takes_one_side_of_a_bilingual_message(text: str, zh: str, en: str) -> None:
    assert pick(text, "zh-CN") == zh
    assert pick(text, "en") == en


@pytest.mark.parametrize("text", ["and/or", "a / b", "日期 2026/01/02", "纯中文", "", "PDF / CSV"])
def test_pick_leaves_other_text_alone(text: str) -> None:
    assert pick(text, "zh-CN") == text and pick(text, "en") == text


@pytest.mark.parametrize(("message", "code", "zh"), [
    ("missing field: title", "missing_field", "请填写标题。"),
    ("title is longer than 200 characters", "invalid_field", "标题不能超过200个字。"),
    ("ID number must be 6-18 digits (last may be X)", "invalid_party", "公民身份号码格式不正确（6至18位数字，末位可为 X）。"),
    ("scheduled_at must be an ISO 8601 time", "invalid_field", "开始时间不是有效的时间，请重新选择。"),
    ("unknown unit '340399'", "unknown_unit", "没有这个单位。"),
    ("no such case", "not_found", "没有这个案件。"),
    ("the case was changed by someone else; reload and try again", "stale_version",
     "案件已被他人修改，请刷新页面后重试。"),
    ("invalid CSRF token; reload the page and try again", "csrf", "页面已过期，请刷新页面后重试。"),
])
def test_english_messages_have_chinese_text(message: str, code: str, zh: str) -> None:
    assert localise(message, "zh-CN", code) == zh
    assert localise(message, "en", code) == message  # English pages keep the precise text


def test_an_untranslated_english_message_never_reaches_a_chinese_page() -> None:
    by_code = localise("frobnication exceeded the quux", "zh-CN", "stale_version")
    assert by_code == "内容已被他人修改，请刷新页面后重试。"
    generic = localise("frobnication exceeded the quux", "zh-CN")
    assert has_cjk(generic) and "quux" not in generic


def test_chinese_messages_stay_and_english_pages_get_no_chinese_only_error_for_known_codes() -> None:
    assert localise("请选择区县。", "zh-CN", "invalid") == "请选择区县。"
    assert localise("身份核验未通过", "en", "forbidden") == "You are not allowed to do that."
    assert localise(None, "en") == "" and localise("", "zh-CN") == ""


def test_page_context_messages_are_localised_in_place() -> None:
    ctx = {"ok": "已保存 / saved", "error": "missing field: name", "form_error": None, "title": "a / b",
           "errors": {"name": "请填写姓名（50字以内） / Enter your name (up to 50 characters)"}}
    localise_context(ctx, "zh-CN")
    assert ctx == {"ok": "已保存", "error": "请填写姓名。", "form_error": None, "title": "a / b",
                   "errors": {"name": "请填写姓名（50字以内）"}}


def test_language_of_prefers_query_then_header_then_cookie() -> None:
    assert language_of({}, {}) == "zh-CN"
    assert language_of({}, {"concord_lang": "en"}) == "en"
    assert language_of({}, {"concord_lang": "en"}, "zh-CN") == "zh-CN"
    assert language_of({"lang": "en"}, {"concord_lang": "zh-CN"}, "zh-CN") == "en"


def test_session_timeline_lines_are_in_one_language() -> None:
    from datetime import UTC, datetime

    from server.ledger import Event
    from server.recording.http.pages import summary

    def ev(type_: str, data: dict) -> Event:
        return Event("session:1", 1, type_, datetime(2026, 3, 1, tzinfo=UTC), data, "0" * 64, "1" * 64)

    assert summary(ev("consent", {"name": "钱八", "recording": True})) == "钱八 同意"
    assert summary(ev("consent", {"name": "钱八", "recording": False}), "en") == "钱八 no"
    assert summary(ev("recording_on", {"subrooms": ["A"]}), "en") == "includes: A"
    assert summary(ev("moved", {"name": "钱八", "to": "A"}), "en") == "钱八 main room → A"


def test_the_recorder_is_named_in_the_pages_language_on_the_timeline() -> None:
    from datetime import UTC, datetime

    from server.ledger import Event
    from server.recording.http.pages import summary
    from server.rooms.hub import RoomHub

    name = RoomHub.attach_system_peer.__kwdefaults__["name"]  # what the recorder peer is called in a room
    joined = Event("session:1", 1, "peer_joined", datetime(2026, 3, 1, tzinfo=UTC),
                   {"peer": "r1", "name": name, "role": "recorder", "system": True}, "0" * 64, "1" * 64)
    assert summary(joined) == "录像" and summary(joined, "en") == "Recorder"


def test_room_clients_show_one_side_of_server_sent_names(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """web/static/js/signaling.js localNames, run in node with the page language set."""
    import json
    import shutil
    import subprocess
    from pathlib import Path

    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    js = Path(__file__).resolve().parents[2] / "web" / "static" / "js"
    shutil.copytree(js, tmp_path, dirs_exist_ok=True)  # signaling.js imports i18n.js and its catalogues
    msg = {"type": "welcome", "name": "张三", "peers": [{"id": "r", "name": "录像 / Recorder", "role": "recorder"}],
           "lobby": [{"id": "x", "name": "录像 / Recorder"}], "room": {"lobby": [{"id": "y", "name": "李四"}]}}
    for lang, want in (("zh-CN", "录像"), ("en", "Recorder")):
        script = (f"globalThis.document = {{documentElement: {{lang: {json.dumps(lang)}}}}};\n"
                  f"const {{ localNames }} = await import({json.dumps((tmp_path / 'signaling.js').as_uri())});\n"
                  f"console.log(JSON.stringify(localNames({json.dumps(msg)})));")
        out = subprocess.run([node, "--input-type=module", "-e", script], capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        got = json.loads(out.stdout)
        assert got["peers"][0]["name"] == want and got["lobby"][0]["name"] == want
        assert got["name"] == "张三" and got["room"]["lobby"][0]["name"] == "李四"
