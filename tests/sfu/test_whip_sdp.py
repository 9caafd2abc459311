"""server.sfu.sdp: checking WHIP/WHEP offers and answering a WHEP client on top of Janus's offer.

The SDP texts are captured from the real programs (FFmpeg 8.1's whip muxer, Janus 1.1.2's VideoRoom
subscriber offer); the end-to-end behaviour is in test_terminals_media.py.
"""

from __future__ import annotations

import pytest

from server.sfu import sdp

FFMPEG_OFFER = """v=0
o=FFmpeg 4489045141692799359 2 IN IP4 127.0.0.1
s=FFmpegPublishSession
t=0 0
a=group:BUNDLE 0 1
a=extmap-allow-mixed
a=msid-semantic: WMS
m=audio 9 UDP/TLS/RTP/SAVPF 111
c=IN IP4 0.0.0.0
a=ice-ufrag:29e4af12
a=ice-pwd:018d9d2c49f7bf9149ea2ff8115d41e6
a=fingerprint:sha-256 23:7C:CB:6D:6D:54:F1:1A:0F:E5:D8:69:6F:0F:56:7E:C4:B6:6E:DC:0E:E4:6B:F7:EF:CD:85:E8:96:9B:58:AA
a=setup:passive
a=mid:0
a=sendonly
a=msid:FFmpeg audio
a=rtcp-mux
a=rtpmap:111 opus/48000/2
a=ssrc:2753407966 cname:FFmpeg
a=ssrc:2753407966 msid:FFmpeg audio
m=video 9 UDP/TLS/RTP/SAVPF 106 105
c=IN IP4 0.0.0.0
a=ice-ufrag:29e4af12
a=ice-pwd:018d9d2c49f7bf9149ea2ff8115d41e6
a=fingerprint:sha-256 23:7C:CB:6D:6D:54:F1:1A:0F:E5:D8:69:6F:0F:56:7E:C4:B6:6E:DC:0E:E4:6B:F7:EF:CD:85:E8:96:9B:58:AA
a=setup:passive
a=mid:1
a=sendonly
a=msid:FFmpeg video
a=rtcp-mux
a=rtcp-rsize
a=rtpmap:106 H264/90000
a=fmtp:106 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42000c
a=rtcp-fb:106 nack
a=rtpmap:105 rtx/90000
a=fmtp:105 apt=106
a=ssrc-group:FID 2753407967 2753407968
a=ssrc:2753407967 cname:FFmpeg
a=ssrc:2753407967 msid:FFmpeg video
"""

JANUS_OFFER = """v=0
o=- 1796539090559050 1 IN IP4 192.0.2.2
s=VideoRoom concord-y
t=0 0
a=group:BUNDLE 0 1
a=ice-options:trickle
a=fingerprint:sha-256 A7:10:12:02:A7:89:A5:90:9E:AD:8C:E5:E7:B7:82:FF:6B:26:2F:40:CC:01:FE:F7:99:63:0A:F4:53:98:35:B3
a=extmap-allow-mixed
a=msid-semantic: WMS *
m=audio 9 UDP/TLS/RTP/SAVPF 111
c=IN IP4 192.0.2.2
a=sendonly
a=mid:0
a=rtcp-mux
a=ice-ufrag:X/0x
a=ice-pwd:aecoI8Tuyi8gVjLSbpFnsl
a=ice-options:trickle
a=setup:actpass
a=rtpmap:111 opus/48000/2
a=rtcp-fb:111 transport-cc
a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level
a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid
a=msid:janus janus0
a=ssrc:332853845 cname:janus
a=candidate:1 1 udp 2015363327 192.0.2.2 29171 typ host
a=end-of-candidates
m=video 9 UDP/TLS/RTP/SAVPF 96 97
c=IN IP4 192.0.2.2
a=sendonly
a=mid:1
a=rtcp-mux
a=ice-ufrag:X/0x
a=ice-pwd:aecoI8Tuyi8gVjLSbpFnsl
a=ice-options:trickle
a=setup:actpass
a=rtpmap:96 VP8/90000
a=rtcp-fb:96 ccm fir
a=rtcp-fb:96 nack
a=rtcp-fb:96 nack pli
a=rtcp-fb:96 goog-remb
a=rtcp-fb:96 transport-cc
a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time
a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01
a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid
a=rtpmap:97 rtx/90000
a=fmtp:97 apt=96
a=ssrc-group:FID 3285606736 3028619318
a=msid:janus janus1
a=ssrc:3285606736 cname:janus
a=ssrc:3028619318 cname:janus
a=candidate:1 1 udp 2015363327 192.0.2.2 29171 typ host
a=end-of-candidates
"""

CLIENT_OFFER = """v=0
o=- 3970000000 3970000000 IN IP4 0.0.0.0
s=-
t=0 0
a=group:BUNDLE 0 1
a=msid-semantic:WMS *
m=audio 36693 UDP/TLS/RTP/SAVPF 96 0 8
c=IN IP4 192.0.2.2
a=recvonly
a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid
a=mid:0
a=rtcp:9 IN IP4 0.0.0.0
a=rtcp-mux
a=rtpmap:96 opus/48000/2
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=candidate:f957a2 1 udp 2130706431 192.0.2.2 36693 typ host
a=end-of-candidates
a=ice-ufrag:8OlU
a=ice-pwd:Dl5D9K2XkZIBaOVMXMJCke
a=fingerprint:sha-256 DE:4F:B2:9D:9C:AF:99:56:70:79:FC:FA:A5:B8:B6:CF:C7:97:62:9C:4A:A2:46:C7:99:4E:3D:0C:AC:37:BA:84
a=fingerprint:sha-384 11:22
a=setup:actpass
m=video 36693 UDP/TLS/RTP/SAVPF 97 98 99 100
c=IN IP4 192.0.2.2
a=recvonly
a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid
a=mid:1
a=rtcp-mux
a=rtcp-fb:97 nack
a=rtcp-fb:97 nack pli
a=rtpmap:97 VP8/90000
a=rtpmap:98 rtx/90000
a=fmtp:98 apt=97
a=rtpmap:99 H264/90000
a=fmtp:99 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f
a=rtpmap:100 rtx/90000
a=fmtp:100 apt=99
a=candidate:f957a2 1 udp 2130706431 192.0.2.2 36693 typ host
a=end-of-candidates
a=ice-ufrag:8OlU
a=ice-pwd:Dl5D9K2XkZIBaOVMXMJCke
a=fingerprint:sha-256 DE:4F:B2:9D:9C:AF:99:56:70:79:FC:FA:A5:B8:B6:CF:C7:97:62:9C:4A:A2:46:C7:99:4E:3D:0C:AC:37:BA:84
a=setup:actpass
"""


def _section(text: str, mid: str) -> list[str]:
    parsed = sdp.parse(text)
    return next([s.kind + " " + str(s.port), *s.lines] for s in parsed.sections if s.mid == mid)


def test_ffmpeg_offer_is_a_whip_offer_and_not_a_whep_one() -> None:
    parsed = sdp.check_offer(FFMPEG_OFFER, sending=True)
    assert [s.kind for s in parsed.sections] == ["audio", "video"]
    assert [c.name for c in parsed.sections[1].codecs()] == ["h264", "rtx"]
    with pytest.raises(sdp.SdpError, match="receives"):
        sdp.check_offer(FFMPEG_OFFER, sending=False)
    with pytest.raises(sdp.SdpError, match="sends"):
        sdp.check_offer(CLIENT_OFFER, sending=True)


@pytest.mark.parametrize(("text", "why"), [
    ("", "v=0"),
    ("hello world", "v=0"),
    ("v=0\nthis is not sdp\n", "line 2"),
    ("v=0\ns=-\nm=audio 9 UDP/TLS/RTP/SAVPF 111\n", "o= line"),
    ("v=0\no=- 1 1 IN IP4 0.0.0.0\ns=-\n", "no media"),
    ("v=0\no=- 1 1 IN IP4 0.0.0.0\nm=audio nine RTP 1\n", "malformed m="),
    ("v=0\no=- 1 1 IN IP4 0.0.0.0\n" + "m=audio 9 UDP/TLS/RTP/SAVPF 111\n" * 33, "more than 32"),
    ("v=0\no=- 1 1 IN IP4 0.0.0.0\na=" + "x" * 70000 + "\n", "larger than"),
])
def test_malformed_sdp_is_refused_with_a_reason(text: str, why: str) -> None:
    with pytest.raises(sdp.SdpError, match=why):
        sdp.check_offer(text, sending=True)


def test_offers_without_webrtc_transport_are_refused() -> None:
    with pytest.raises(sdp.SdpError, match="ICE credentials"):
        sdp.check_offer(FFMPEG_OFFER.replace("a=ice-ufrag:", "a=x-ufrag:"), sending=True)
    with pytest.raises(sdp.SdpError, match="fingerprint"):
        sdp.check_offer(FFMPEG_OFFER.replace("a=fingerprint:", "a=x-fp:"), sending=True)
    with pytest.raises(sdp.SdpError, match="RTP/AVP"):
        sdp.check_offer(FFMPEG_OFFER.replace("UDP/TLS/RTP/SAVPF", "RTP/AVP"), sending=True)
    with pytest.raises(sdp.SdpError, match="no audio or video"):
        sdp.check_offer("v=0\no=- 1 1 IN IP4 0.0.0.0\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\n",
                        sending=True)


def test_whep_answers_carry_the_other_sides_transport() -> None:
    client = sdp.check_offer(CLIENT_OFFER, sending=False)
    mids = ["0", "1"]
    splice = sdp.splice_whep(CLIENT_OFFER, JANUS_OFFER, mids)
    assert sdp.wanted_kinds(client) == ["audio", "video"]
    assert splice.mids == {"0": "0", "1": "1"}
    to_client = sdp.parse(splice.client_answer)
    to_janus = sdp.parse(splice.janus_answer)
    assert "a=group:BUNDLE 0 1" in to_client.session
    for s in to_client.sections:
        # Janus's ICE, DTLS and candidates; the client's mids; Janus sends, as the DTLS server.
        assert s.attr("ice-ufrag") == "X/0x" and s.attr("setup") == "passive" and s.direction == "sendonly"
        assert s.attr("fingerprint").startswith("sha-256 A7:10")
        assert "a=candidate:1 1 udp 2015363327 192.0.2.2 29171 typ host" in s.lines
        assert not s.attrs("extmap")
    for s in to_janus.sections:
        assert s.attr("ice-ufrag") == "8OlU" and s.attr("setup") == "active" and s.direction == "recvonly"
        assert s.attr("fingerprint").startswith("sha-256 DE:4F")  # the first one: Janus wants sha-256
        assert any("192.0.2.2 36693 typ host" in line for line in s.lines)
    # Janus's payload types and SSRCs, limited to what the client takes (no H.264 in Janus's offer).
    video = to_client.sections[1]
    assert video.fmts == ["96", "97"] and video.attr("rtpmap") == "96 VP8/90000"
    assert "a=ssrc-group:FID 3285606736 3028619318" in video.lines
    assert to_client.sections[0].fmts == ["111"]


def test_whep_sections_nothing_serves_are_refused_on_both_sides() -> None:
    splice = sdp.splice_whep(CLIENT_OFFER, JANUS_OFFER, [None, "1"])
    to_client, to_janus = sdp.parse(splice.client_answer), sdp.parse(splice.janus_answer)
    assert to_client.sections[0].port == 0 and to_client.sections[0].direction == "inactive"
    assert "a=group:BUNDLE 1" in to_client.session
    assert to_janus.sections[0].port == 0  # Janus's audio is refused: it will not send it
    assert to_janus.sections[1].port == 9


def test_whep_without_a_common_codec_is_refused() -> None:
    only_h264 = CLIENT_OFFER.replace("m=video 36693 UDP/TLS/RTP/SAVPF 97 98 99 100",
                                     "m=video 36693 UDP/TLS/RTP/SAVPF 99 100")
    only_h264 = only_h264.replace("m=audio 36693 UDP/TLS/RTP/SAVPF 96 0 8", "m=audio 36693 UDP/TLS/RTP/SAVPF 0 8")
    with pytest.raises(sdp.SdpError, match="no common"):
        sdp.splice_whep(only_h264, JANUS_OFFER, ["0", "1"])
    with pytest.raises(sdp.SdpError, match="one Janus mid"):
        sdp.splice_whep(CLIENT_OFFER, JANUS_OFFER, ["0"])
