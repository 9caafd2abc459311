"""SDP for WHIP and WHEP (docs/sfu.md, "WHIP and WHEP"): checking an offer, and answering a WHEP
client's offer on top of Janus's subscriber offer. Plain Python, no I/O.

Janus 1.1.2's VideoRoom takes offers from publishers only ("Only publishers send offers"): a subscriber
gets Janus's offer and answers it. A WHEP client (the current WHEP draft) sends the offer. Concord
therefore negotiates both halves itself, with no media passing through it:

- Janus's offer is answered (``start``) with the client's transport: its ICE credentials and
  candidates, its DTLS fingerprint, ``a=setup:active``, ``recvonly``, the codecs both accept;
- the client's offer is answered with Janus's transport: Janus's ICE credentials and candidates, its
  DTLS fingerprint, ``a=setup:passive``, ``sendonly``, Janus's payload types and SSRCs.

The client is then the DTLS client and Janus the DTLS server, and the media flows directly between them.
Both ICE agents believe they are controlling; ICE's role-conflict rule (RFC 8445 7.3.1.1) settles it.
Header extensions are left out of both answers, so Janus sends none and the client routes packets by
the SSRCs of the answer. The answer keeps Janus's payload type numbers, which may differ from the
client's (RFC 3264 says SHOULD keep the offer's): Janus sends with its own and does not rewrite them.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field

MAX_SDP_BYTES = 64 * 1024
MAX_SECTIONS = 32
_LINE = re.compile(r"^[a-z]=")
_MEDIA = re.compile(r"^m=(audio|video|application|text|message) (\d+)(?:/\d+)? (\S+)( [^\r\n]+)?$")
_TRANSPORT = ("a=ice-ufrag:", "a=ice-pwd:", "a=fingerprint:", "a=setup:", "a=ice-options:", "a=ice-lite")


class SdpError(ValueError):
    """A body that is not an SDP offer Concord can take (HTTP 400)."""


@dataclass
class Section:
    """One ``m=`` section: its kind, its first line's fields and its attribute lines."""

    kind: str
    port: int
    proto: str
    fmts: list[str]
    lines: list[str] = field(default_factory=list)

    def attr(self, name: str) -> str | None:
        prefix = f"a={name}:"
        for line in self.lines:
            if line.startswith(prefix):
                return line[len(prefix):].strip()
            if line == f"a={name}":
                return ""
        return None

    def attrs(self, name: str) -> list[str]:
        prefix = f"a={name}:"
        return [line[len(prefix):].strip() for line in self.lines if line.startswith(prefix)]

    @property
    def mid(self) -> str | None:
        return self.attr("mid")

    @property
    def direction(self) -> str:
        for d in ("sendrecv", "sendonly", "recvonly", "inactive"):
            if f"a={d}" in self.lines:
                return d
        return "sendrecv"

    def codecs(self) -> list[Codec]:
        """The section's payload formats with their rtpmap, fmtp and rtcp-fb lines, in offer order."""
        maps = {}
        for v in self.attrs("rtpmap"):
            pt, _, enc = v.partition(" ")
            maps[pt] = enc
        out = []
        for pt in self.fmts:
            enc = maps.get(pt, "")
            name, _, rest = enc.partition("/")
            clock, _, channels = rest.partition("/")
            out.append(Codec(pt, name.lower(), clock, channels or "",
                             [f for f in self.attrs("fmtp") if f.split(" ", 1)[0] == pt],
                             [f for f in self.attrs("rtcp-fb") if f.split(" ", 1)[0] == pt]))
        return out


@dataclass(frozen=True)
class Codec:
    pt: str
    name: str
    clock: str
    channels: str
    fmtp: list[str]
    fb: list[str]

    def apt(self) -> str | None:
        for f in self.fmtp:
            m = re.search(r"apt=(\d+)", f)
            if m:
                return m.group(1)
        return None

    def same(self, other: Codec) -> bool:
        if self.name != other.name or self.clock != other.clock:
            return False
        if self.name == "h264":
            return _h264_mode(self) == _h264_mode(other)
        return True


def _h264_mode(c: Codec) -> str:
    for f in c.fmtp:
        m = re.search(r"packetization-mode=(\d)", f)
        if m:
            return m.group(1)
    return "0"


@dataclass
class Sdp:
    session: list[str]
    sections: list[Section]

    def session_attr(self, name: str) -> str | None:
        prefix = f"a={name}:"
        for line in self.session:
            if line.startswith(prefix):
                return line[len(prefix):].strip()
        return None

    def transport(self, s: Section, name: str) -> str | None:
        """A transport attribute (ice-ufrag, fingerprint, ...) of a section, or of the session."""
        v = s.attr(name)
        return v if v is not None else self.session_attr(name)

    def candidates(self) -> list[str]:
        """The ``a=candidate`` lines of the first section that has any (one transport under BUNDLE)."""
        for s in self.sections:
            c = [line for line in s.lines if line.startswith("a=candidate:")]
            if c:
                return c
        return [line for line in self.session if line.startswith("a=candidate:")]


def parse(text: str) -> Sdp:
    """Split an SDP into its session part and media sections; SdpError if it is not plausibly one."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_SDP_BYTES:
        raise SdpError(f"the SDP is larger than {MAX_SDP_BYTES} bytes")
    lines = [line.rstrip("\r") for line in text.split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    if not lines or lines[0] != "v=0":
        raise SdpError("an SDP starts with v=0")
    session: list[str] = []
    sections: list[Section] = []
    for i, line in enumerate(lines, 1):
        if not _LINE.match(line):
            raise SdpError(f"line {i} is not an SDP line (x=value)")
        if line.startswith("m="):
            m = _MEDIA.match(line)
            if m is None:
                raise SdpError(f"line {i}: malformed m= line")
            if len(sections) >= MAX_SECTIONS:
                raise SdpError(f"more than {MAX_SECTIONS} media sections")
            sections.append(Section(m.group(1), int(m.group(2)), m.group(3), (m.group(4) or "").split()))
        elif sections:
            sections[-1].lines.append(line)
        else:
            session.append(line)
    if not any(line.startswith("o=") for line in session):
        raise SdpError("the SDP has no o= line")
    if not sections:
        raise SdpError("the SDP has no media section")
    return Sdp(session, sections)


def check_offer(text: str, *, sending: bool) -> Sdp:
    """A WHIP (``sending``: the client publishes) or WHEP offer Concord can relay: audio/video sections
    over UDP/TLS/RTP/SAVPF(F), ICE credentials, a DTLS fingerprint, and a direction that fits."""
    sdp = parse(text)
    media = [s for s in sdp.sections if s.kind in ("audio", "video") and s.port != 0]
    if not media:
        raise SdpError("the offer has no audio or video section")
    want = ("sendonly", "sendrecv") if sending else ("recvonly", "sendrecv")
    for s in media:
        if "RTP/SAVPF" not in s.proto and "RTP/SAVP" not in s.proto:
            raise SdpError(f"{s.kind} section: WebRTC media is UDP/TLS/RTP/SAVPF, not {s.proto}")
        if not sdp.transport(s, "ice-ufrag") or not sdp.transport(s, "ice-pwd"):
            raise SdpError(f"{s.kind} section: no ICE credentials (a=ice-ufrag, a=ice-pwd)")
        if not sdp.transport(s, "fingerprint"):
            raise SdpError(f"{s.kind} section: no DTLS fingerprint (a=fingerprint)")
        if s.mid is None:
            raise SdpError(f"{s.kind} section: no a=mid")
    if not any(s.direction in want for s in media):
        what = "sends" if sending else "receives"
        raise SdpError(f"no section of this offer {what} media (a={' or a='.join(want)})")
    return sdp


# ---- WHEP: answering the client on top of Janus's offer ----------------------------------------------


@dataclass(frozen=True)
class Splice:
    """The two answers of a WHEP negotiation, and which client mid is served by which Janus mid."""

    client_answer: str
    janus_answer: str
    mids: dict[str, str]  # client mid -> Janus mid


def wanted_kinds(client: Sdp) -> list[str | None]:
    """Per client section: the kind of media it can receive (None: nothing to give it)."""
    return [s.kind if s.kind in ("audio", "video") and s.port != 0 and s.direction in ("recvonly", "sendrecv")
            else None for s in client.sections]


def _common(offered: list[Codec], janus: list[Codec]) -> list[Codec]:
    """Janus's codecs (its payload types) that the client also offered; RTX only for a kept codec."""
    kept = [j for j in janus if j.name not in ("rtx", "red", "ulpfec") and any(j.same(c) for c in offered)]
    pts = {c.pt for c in kept}
    if any(c.name == "rtx" for c in offered):
        kept += [j for j in janus if j.name == "rtx" and j.apt() in pts]
    return kept


def _codec_lines(codecs: list[Codec]) -> list[str]:
    out = []
    for c in codecs:
        enc = f"{c.name.upper() if c.name in ('vp8', 'vp9', 'h264', 'av1') else c.name}/{c.clock}"
        if c.name == "rtx":
            enc = f"rtx/{c.clock}"
        out.append(f"a=rtpmap:{c.pt} {enc}" + (f"/{c.channels}" if c.channels else ""))
        out += [f"a=rtcp-fb:{f}" for f in c.fb]
        out += [f"a=fmtp:{f}" for f in c.fmtp]
    return out


def splice_whep(client_text: str, janus_text: str, janus_mids: list[str | None]) -> Splice:
    """Answer the WHEP client's offer and Janus's subscriber offer, each with the other's transport.

    ``janus_mids[i]`` is the Janus mid that serves client section ``i`` (None: that section is refused).
    """
    client, janus = parse(client_text), parse(janus_text)
    by_mid = {s.mid: s for s in janus.sections}
    if len(janus_mids) != len(client.sections):
        raise SdpError("one Janus mid (or None) per client section")
    j_first = janus.sections[0]
    c_first = next((s for s in client.sections if s.port != 0), client.sections[0])
    j_ice = (janus.transport(j_first, "ice-ufrag"), janus.transport(j_first, "ice-pwd"),
             janus.transport(j_first, "fingerprint"))
    c_ice = (client.transport(c_first, "ice-ufrag"), client.transport(c_first, "ice-pwd"),
             client.transport(c_first, "fingerprint"))
    if not all(j_ice) or not all(c_ice):
        raise SdpError("both offers need ICE credentials and a DTLS fingerprint")
    j_cands, c_cands = janus.candidates(), client.candidates()
    j_addr = next((line for line in j_first.lines if line.startswith("c=")), "c=IN IP4 0.0.0.0")

    to_client: list[list[str]] = []
    to_janus: dict[str, list[str]] = {}
    bundle_c: list[str] = []
    mids: dict[str, str] = {}
    for cs, jmid in zip(client.sections, janus_mids, strict=True):
        js = by_mid.get(jmid) if jmid is not None else None
        codecs = _common(cs.codecs(), js.codecs()) if js is not None and js.kind == cs.kind else []
        if js is None or not codecs or cs.mid is None:
            to_client.append([f"m={cs.kind} 0 {cs.proto} {' '.join(cs.fmts) or '0'}", "c=IN IP4 0.0.0.0",
                              *([f"a=mid:{cs.mid}"] if cs.mid is not None else []), "a=inactive"])
            continue
        mids[cs.mid] = str(jmid)
        bundle_c.append(cs.mid)
        ssrc = [line for line in js.lines if line.startswith(("a=ssrc:", "a=ssrc-group:", "a=msid:"))]
        to_client.append([
            f"m={cs.kind} 9 {cs.proto} {' '.join(c.pt for c in codecs)}", j_addr,
            f"a=mid:{cs.mid}", "a=sendonly", "a=rtcp-mux",
            *(["a=rtcp-rsize"] if "a=rtcp-rsize" in cs.lines and "a=rtcp-rsize" in js.lines else []),
            f"a=ice-ufrag:{j_ice[0]}", f"a=ice-pwd:{j_ice[1]}", f"a=fingerprint:{j_ice[2]}", "a=setup:passive",
            *_codec_lines(codecs), *ssrc, *j_cands, "a=end-of-candidates",
        ])
        to_janus[str(jmid)] = [
            f"m={js.kind} 9 {js.proto} {' '.join(c.pt for c in codecs)}", "c=IN IP4 0.0.0.0",
            f"a=mid:{jmid}", "a=recvonly", "a=rtcp-mux",
            *(["a=rtcp-rsize"] if "a=rtcp-rsize" in cs.lines and "a=rtcp-rsize" in js.lines else []),
            f"a=ice-ufrag:{c_ice[0]}", f"a=ice-pwd:{c_ice[1]}", f"a=fingerprint:{c_ice[2]}", "a=setup:active",
            *_codec_lines(codecs), *c_cands, "a=end-of-candidates",
        ]
    if not mids:
        raise SdpError("nothing in the room can be sent to this offer (no common audio or video codec)")
    sid = str(secrets.randbelow(2**62))
    client_answer = ["v=0", f"o=- {sid} 2 IN IP4 0.0.0.0", "s=-", "t=0 0",
                     f"a=group:BUNDLE {' '.join(bundle_c)}", "a=msid-semantic: WMS *"]
    for sec in to_client:
        client_answer += sec
    janus_answer = ["v=0", f"o=- {sid} 2 IN IP4 0.0.0.0", "s=-", "t=0 0"]
    bundle_j = [s.mid for s in janus.sections if s.mid in to_janus]
    janus_answer.append(f"a=group:BUNDLE {' '.join(str(m) for m in bundle_j)}")
    for js in janus.sections:
        if js.mid in to_janus:
            janus_answer += to_janus[str(js.mid)]
        else:  # a stream no client section takes: refused, so Janus does not send it
            janus_answer += [f"m={js.kind} 0 {js.proto} {' '.join(js.fmts) or '0'}", "c=IN IP4 0.0.0.0",
                             *([f"a=mid:{js.mid}"] if js.mid is not None else []), "a=inactive"]
    return Splice("\r\n".join(client_answer) + "\r\n", "\r\n".join(janus_answer) + "\r\n", mids)


__all__ = ["MAX_SDP_BYTES", "Codec", "Sdp", "SdpError", "Section", "Splice", "check_offer", "parse",
           "splice_whep", "wanted_kinds"]
