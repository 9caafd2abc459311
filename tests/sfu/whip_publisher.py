"""A WHIP publisher made of FFmpeg's own ``whip`` muxer (PyAV 18, FFmpeg 8): H.264 (constrained
baseline, no B-frames) and Opus (stereo, 48 kHz), the only codecs the muxer sends.

Run in its own process (``python -m tests.sfu.whip_publisher URL TOKEN SECONDS CERT KEY``): PyAV holds the
GIL while the muxer's HTTP request and ICE/DTLS handshake block, so it cannot share an event loop with
the server it talks to. FFmpeg generates a DTLS key that Janus 1.1.2 refuses ("wrong curve"), so the
caller passes a P-256 certificate (``cert_file``/``key_file``). Exit status 0 after a clean close (the
muxer sends DELETE on the resource), 2 if the muxer failed; the error is printed.
"""

from __future__ import annotations

import sys
import time

import av
import numpy as np


def publish(url: str, token: str, seconds: float, cert: str, key: str) -> None:
    out = av.open(url, "w", format="whip", options={"authorization": token, "handshake_timeout": "15000",
                                                     "cert_file": cert, "key_file": key})
    v = out.add_stream("libx264", rate=15)
    v.width, v.height, v.pix_fmt = 320, 180, "yuv420p"
    v.options = {"profile": "baseline", "tune": "zerolatency", "preset": "ultrafast", "bf": "0", "g": "15"}
    a = out.add_stream("libopus", rate=48000)
    a.layout = "stereo"
    tone = (np.sin(2 * np.pi * 440 * np.arange(48000) / 48000) * 6000).astype(np.int16)
    n = apts = 0
    t0 = time.time()
    while time.time() - t0 < seconds:
        img = np.full((180, 320, 3), 40, np.uint8)
        x = (n * 8) % 310
        img[:, x:x + 10] = (230, 200, 30)
        frame = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv420p")
        frame.pts = n
        for p in v.encode(frame):
            out.mux(p)
        while apts < (n + 1) * 48000 // 15:  # audio up to the end of this video frame
            chunk = tone[apts % 48000:apts % 48000 + 960]
            if len(chunk) < 960:
                chunk = np.concatenate([chunk, tone[:960 - len(chunk)]])
            af = av.AudioFrame.from_ndarray(np.repeat(chunk, 2).reshape(1, -1), format="s16", layout="stereo")
            af.sample_rate, af.pts = 48000, apts
            apts += 960
            for p in a.encode(af):
                out.mux(p)
        n += 1
        time.sleep(max(0.0, t0 + n / 15 - time.time()))
        if n == 1:
            print("publishing", flush=True)
    out.close()


if __name__ == "__main__":
    try:
        publish(sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4], sys.argv[5])
    except Exception as e:  # noqa: BLE001 - the test reads the reason
        print(f"whip muxer failed: {e}", flush=True)
        sys.exit(2)
    print("closed", flush=True)
