"""web/static/js/room-state.js, the room page's state store, run in node (it has no DOM and no media).

The reducers are what every server message does to the state; the views only render it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

JS = Path(__file__).resolve().parents[2] / "web" / "static" / "js"

SCRIPT = r"""
const { RoomStore, maySpeak } = await import(STORE);
const out = {};
const s = new RoomStore({ name: "调解员", role: "mediator" });
let changes = 0;
s.addEventListener("change", () => { changes += 1; });
s.welcome({ peer_id: "m", role: "mediator", ice_servers: [],
  peers: [{ id: "m", name: "调解员", role: "mediator" }, { id: "a", name: "张三", role: "party" },
          { id: "w", name: "等候", role: "party", admitted: false },
          { id: "r", name: "录像", role: "recorder", system: true }],
  self: { subroom: "", hand: true, consent: true },
  room: { recording: true, recording_subrooms: ["A"], speaking: "all", lobby: [{ id: "k", name: "敲门" }] } });
out.welcome = { me: s.me.id, sub: s.me.subroom, hand: s.handRaised, consent: s.consent, peers: [...s.peers.keys()],
  lobby: [...s.lobby.keys()].sort(), mod: s.isModerator(), wanted: s.wanted().map((p) => p.id),
  mates: s.roommates().map((p) => p.id) };
out.joined = [s.peerJoined({ id: "b", name: "李四", role: "party" }),
  s.peerJoined({ id: "c", name: "王五", role: "party", subroom: "A" }),
  s.peerJoined({ id: "d", name: "赵六", role: "party", admitted: false }),
  s.peerJoined({ id: "m", name: "me" }), s.peerJoined(null)];
out.lobbyAfter = [...s.lobby.keys()].sort();
// A peer admitted from the lobby; one that reconnects (new epoch).
const admitted = s.peerUpdated({ id: "d", admitted: true, name: "赵六", role: "party" });
out.admitted = { lobby: s.lobby.has("d"), peer: s.peers.has("d"), old: admitted.old === undefined };
// We are moved into private room A: no longer recorded there unless named (it is) and with consent.
const moved = s.peerUpdated({ id: "m", subroom: "A", hand: false, consent: false });
out.moved = { self: moved.self, before: moved.before, sub: s.me.subroom, hand: s.handRaised, consent: s.consent,
  recorded: s.recorded(), wanted: s.wanted().map((p) => p.id), declined: s.declinedNames() };
out.moveTwice = [s.moveTo("A"), s.moveTo("A"), s.moveTo(null), s.moveTo(null, ["a"])];
out.left = [s.peerLeft("b")?.name ?? null, s.peerLeft("nobody") ?? null, s.peers.has("b")];
// Chat: unread counts only others' messages while the chat panel is closed.
out.chat = [s.addChat({ from: "a", text: "你好" }).counted, s.addChat({ from: "m", text: "我" }).counted];
s.openPanel("chat");
out.chat.push(s.unread, s.addChat({ from: "a", text: 3 }).counted, s.chatLog.at(-1).text, s.chatLog[0].name);
for (let i = 0; i < 2100; i++) s.addChat({ from: "a", text: "x" });
out.chatCap = s.chatLog.length;
// The room: a floor for parties; the recording turned off.
const was = s.roomChanged({ recording: false, speaking: "floor_for_parties", lobby: [] });
out.room = { was, lobby: s.lobby.size, recorded: s.recorded(), rule: s.speakingRuleChanged() };
s.me.role = "party";
out.room.ruleParty = [s.speakingRuleChanged(), s.mayTalk];
s.roomChanged({ floor: "m" });
out.room.floor = [s.speakingRuleChanged(), s.mayTalk, s.hasFloor("m"), s.hasFloor("a")];
out.rules = [maySpeak({}, "recorder", "x"), maySpeak({ speaking: "moderators" }, "expert", "x"),
  maySpeak({ speaking: "moderators" }, "host", "x"), maySpeak({ speaking: "floor_for_parties" }, "agent", "x")];
s.openPanel(null);
out.more = [s.morePanel(), s.lastPanel];
s.setMedia({ audio: 1, video: 0, sharing: null, lowData: true });
s.setHand("yes");
s.setConsent(0);
out.own = [s.media, s.handRaised, s.consent];
s.changed();
out.changes = changes;
out.names = [s.peerName("m"), s.peerName("a"), s.peerName(42)];
console.log(JSON.stringify(out));
"""


def run_store(tmp_path: Path, lang: str = "zh-CN") -> dict[str, Any]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    shutil.copytree(JS, tmp_path, dirs_exist_ok=True)
    script = (f"globalThis.document = {{documentElement: {{lang: {json.dumps(lang)}}}}};\n"
              + SCRIPT.replace("STORE", json.dumps((tmp_path / "room-state.js").as_uri())))
    out = subprocess.run([node, "--input-type=module", "-e", script], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def test_the_store_follows_the_server_messages(tmp_path: Path) -> None:
    got = run_store(tmp_path)
    assert got["welcome"] == {"me": "m", "sub": None, "hand": True, "consent": True, "peers": ["a", "r"],
                              "lobby": ["k", "w"], "mod": True, "wanted": ["a", "r"], "mates": ["a"]}
    assert got["joined"] == ["roommate", "elsewhere", "lobby", None, None]
    assert got["lobbyAfter"] == ["d", "k", "w"]
    assert got["admitted"] == {"lobby": False, "peer": True, "old": True}
    assert got["moved"] == {"self": True, "before": None, "sub": "A", "hand": False, "consent": False,
                            "recorded": False, "wanted": ["c"], "declined": ["我"]}
    assert got["moveTwice"] == [True, False, True, True]  # a move with a peer list is always handled
    assert got["left"] == ["李四", None, False]


def test_chat_unread_and_the_log_cap(tmp_path: Path) -> None:
    got = run_store(tmp_path)
    assert got["chat"] == [True, False, 0, False, "3", "张三"]
    assert got["chatCap"] == 2000


def test_speaking_rule_floor_and_panels(tmp_path: Path) -> None:
    got = run_store(tmp_path, "en")
    assert got["room"] == {"was": True, "lobby": 0, "recorded": False, "rule": False,
                           "ruleParty": [True, False], "floor": [True, True, True, False]}
    assert got["rules"] == [False, False, True, False]
    assert got["more"] == ["people", "chat"]  # the last panel was chat: "more" opens people instead
    assert got["changes"] == 1
    assert got["own"] == [{"audio": True, "video": False, "sharing": False, "lowData": True}, True, False]
    assert got["names"] == ["You", "张三", "42"]
