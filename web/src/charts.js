// Two small live charts drawn on canvas: throughput and latency over the last minutes.
const POINTS = 300;

export class Chart {
  constructor(canvas, series) {
    this.canvas = canvas;
    this.series = series; // [{key, colour}]
    this.values = series.map(() => []);
  }

  push(sample) {
    this.series.forEach((s, i) => {
      this.values[i].push(sample[s.key] ?? 0);
      if (this.values[i].length > POINTS) this.values[i].shift();
    });
  }

  draw() {
    const ctx = this.canvas.getContext("2d");
    const { width, height } = this.canvas;
    ctx.clearRect(0, 0, width, height);
    const max = Math.max(1e-9, ...this.values.flat());
    this.series.forEach((s, i) => {
      ctx.strokeStyle = s.colour;
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      this.values[i].forEach((v, x) => {
        const px = (x / (POINTS - 1)) * width;
        const py = height - 4 - (v / max) * (height - 14);
        if (x === 0) ctx.moveTo(px, py); else ctx.lineTo(px, py);
      });
      ctx.stroke();
    });
    ctx.fillStyle = "#8fa1b3";
    ctx.font = "10px system-ui";
    ctx.fillText(`max ${max.toFixed(max < 10 ? 2 : 0)}`, 4, 10);
  }
}
