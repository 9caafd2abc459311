// A handwriting canvas for signatures: pointer events (mouse, touch, pen), crisp on high-DPI screens.
//   const pad = new SignaturePad(canvasElement);
//   pad.isEmpty(); pad.clear(); pad.toDataURL();  // PNG data URL, transparent background
export class SignaturePad {
  constructor(canvas, { lineWidth = 3, onChange = () => {} } = {}) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.lineWidth = lineWidth;
    this.onChange = () => {};  // not during construction: the caller may not hold the pad yet
    this.strokes = 0;
    this.inkLength = 0;
    this.drawing = false;
    this.resize();
    this.onChange = onChange;
    canvas.style.touchAction = "none";  // the page must not scroll while someone signs
    canvas.addEventListener("pointerdown", (e) => this.down(e));
    canvas.addEventListener("pointermove", (e) => this.move(e));
    for (const t of ["pointerup", "pointerleave", "pointercancel"]) canvas.addEventListener(t, () => this.up());
  }

  resize() {
    // Backing store in device pixels, capped so the PNG stays well under the server's size limit.
    const rect = this.canvas.getBoundingClientRect();
    const ratio = Math.min(window.devicePixelRatio || 1, 2);
    const w = Math.max(200, Math.min(1600, Math.round(rect.width * ratio)));
    const h = Math.max(80, Math.min(800, Math.round(rect.height * ratio)));
    this.canvas.width = w;
    this.canvas.height = h;
    this.scale = w / rect.width;
    this.clear();
  }

  point(e) {
    const rect = this.canvas.getBoundingClientRect();
    return [(e.clientX - rect.left) * this.scale, (e.clientY - rect.top) * this.scale];
  }

  down(e) {
    e.preventDefault();
    this.canvas.setPointerCapture?.(e.pointerId);
    this.drawing = true;
    this.last = this.point(e);
    this.strokes += 1;
    const c = this.ctx;
    c.beginPath();
    c.arc(this.last[0], this.last[1], this.lineWidth * this.scale / 2, 0, Math.PI * 2);
    c.fill();
  }

  move(e) {
    if (!this.drawing) return;
    e.preventDefault();
    const p = this.point(e);
    const c = this.ctx;
    c.beginPath();
    c.moveTo(this.last[0], this.last[1]);
    c.lineTo(p[0], p[1]);
    c.stroke();
    this.inkLength += Math.hypot(p[0] - this.last[0], p[1] - this.last[1]);
    this.last = p;
    this.onChange(this);
  }

  up() {
    if (this.drawing) this.onChange(this);
    this.drawing = false;
  }

  clear() {
    const c = this.ctx;
    c.clearRect(0, 0, this.canvas.width, this.canvas.height);
    c.lineWidth = this.lineWidth * (this.scale || 1);
    c.lineCap = "round";
    c.lineJoin = "round";
    c.strokeStyle = "#111";
    c.fillStyle = "#111";
    this.strokes = 0;
    this.inkLength = 0;
    this.onChange(this);
  }

  // A tap or a dot is not a signature: ask for some real ink (the server checks again).
  isEmpty() {
    return this.inkLength < 40 * (this.scale || 1);
  }

  toDataURL() {
    return this.canvas.toDataURL("image/png");
  }
}
