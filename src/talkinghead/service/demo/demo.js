/* The talkinghead live demo: a client of the /v1/stream WebSocket (docs/streaming.md).
 *
 * Speech goes up as PCM16 LE mono in 20 ms messages: a file paced in real time, or the microphone
 * as it is captured. Frames and their audio come back; the audio is scheduled on one AudioContext
 * and each frame is drawn when that clock reaches the frame's timestamp, so lips and sound stay
 * together.
 *
 * Test hook (tests/service/demo_browser.mjs): window.talkingheadDemo.stats() returns the numbers
 * on the page and a few more: the session's `ready` message, every speaking/idle change, the speech
 * sent, frames and their rate while speaking, and the close code.
 */

const SAMPLE_RATE = 16000;
const CHUNK_S = 0.02; // length of one audio message
const LEAD_S = 0.25; // a file is sent this far ahead of real time, so a stall does not run the server's queue dry
const BUFFER_S = 0.12; // playback runs this far behind the audio received, to absorb network jitter
const HEADER_BYTES = 16;
const FRAME = 1;
const AUDIO = 2;
const SPEAKING = 1;
const API_KEY = 'talkinghead.apiKey';

// Hands each captured block of the microphone to the page.
const WORKLET = URL.createObjectURL(new Blob([`
registerProcessor('capture', class extends AudioWorkletProcessor {
  process(inputs) {
    if (inputs[0][0]) this.port.postMessage(inputs[0][0].slice());
    return true;
  }
});`], {type: 'text/javascript'}));

const $ = (id) => document.getElementById(id);
const canvas = $('avatar');
const painter = canvas.getContext('2d');
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
let session = null;
let stats = newStats();

function newStats() {
  return {
    ready: null, // the server's `ready` message
    state: null, // speaking or idle, as the server last said
    states: [], // every change: {state, t}
    sentSeconds: 0, // speech sent
    frames: 0, // frame messages received
    audio: 0, // audio messages received
    lastIndex: -1,
    drawn: 0, // frames drawn
    skipped: 0, // frames passed over because a later one was already due
    dropped: 0, // frames the server dropped for a slow reader (its `stats` message)
    rebuffered: 0, // audio that came after its time: playback moved later
    fps: 0, // frames received in the last second
    speakingFrames: 0, // frames received with the speaking flag
    speakingFps: null, // their arrival rate
    latencyMs: null, // how long after its time on the session clock a frame arrives, over the last second
    syncMs: null, // how far the audio clock is past a frame when it is drawn, on average
    closeCode: null,
    error: null, // the server's `error` message
  };
}

function setStatus(text, error = false) {
  $('status').textContent = text;
  $('status').classList.toggle('error', error);
}

async function api(path, init = {}) {
  const key = $('api-key').value.trim();
  const response = await fetch(path, {...init, headers: key ? {'X-API-Key': key} : {}});
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new Error(body?.error?.message ?? `${response.status} ${response.statusText}`);
  return body;
}

async function loadPortraits(selected) {
  const select = $('portrait');
  try {
    const {portraits} = await api('v1/portraits');
    select.replaceChildren(...portraits.map((p) => new Option(`${p.id} · ${p.width}×${p.height}`, p.id)));
    if (!portraits.length) select.append(new Option('none yet: upload a photo', ''));
    if (selected) select.value = selected;
  } catch (error) {
    setStatus(`Portraits: ${error.message}`, true);
  }
}

/** The file's speech as mono float samples at `rate`, decoded and resampled by the browser. */
async function decodeFile(file, rate) {
  const decoded = await new OfflineAudioContext(1, 1, rate).decodeAudioData(await file.arrayBuffer());
  const mixer = new OfflineAudioContext(1, decoded.length, rate); // mixes the channels down to one
  const source = new AudioBufferSourceNode(mixer, {buffer: decoded});
  source.connect(mixer.destination);
  source.start();
  return (await mixer.startRendering()).getChannelData(0);
}

/** A streaming linear resampler: feed blocks at `from` Hz, get blocks at `to` Hz. */
function resampler(from, to) {
  const step = from / to;
  let position = 0; // of the next output, in input samples, where 0 is the last sample of the previous block
  let previous = 0;
  return (input) => {
    const output = [];
    const at = (i) => (i === 0 ? previous : input[i - 1]);
    for (; position < input.length; position += step) {
      const i = Math.floor(position);
      const f = position - i;
      output.push(at(i) * (1 - f) + at(i + 1) * f);
    }
    position -= input.length;
    previous = input[input.length - 1];
    return Float32Array.from(output);
  };
}

class Session {
  constructor(options, key) {
    // Made in the click that connects, so the browser lets it play.
    this.clock = new AudioContext({sampleRate: SAMPLE_RATE, latencyHint: 'interactive'});
    this.rate = options.sample_rate;
    this.state = 'connecting'; // then live, stopping, closed
    this.base = null; // clock time of session time 0
    this.queue = []; // decoded frames waiting for their time: {t, bitmap}
    this.recent = []; // frame arrivals in the last second: {at, delay}
    this.previous = null; // the last frame's arrival: {at, speaking}
    this.speakingPairs = 0; // consecutive speaking frames, and the seconds between them
    this.speakingSeconds = 0;
    this.syncSum = 0;
    this.sender = null; // what sends speech now: {kind: 'file' or 'mic', stop()}

    const url = new URL('v1/stream', location.href);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    if (key) url.searchParams.set('api_key', key);
    this.ws = new WebSocket(url);
    this.ws.binaryType = 'arraybuffer';
    this.ws.onopen = () => this.send({type: 'start', ...options});
    this.ws.onmessage = ({data}) => (typeof data === 'string' ? this.onText(JSON.parse(data)) : this.onBinary(data));
    this.ws.onclose = (event) => this.onClose(event);
  }

  send(message) {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }

  sendAudio(samples) {
    if (this.state !== 'live') return;
    const view = new DataView(new ArrayBuffer(samples.length * 2));
    samples.forEach((s, i) => view.setInt16(2 * i, Math.max(-1, Math.min(1, s)) * 32767, true));
    this.ws.send(view.buffer);
    stats.sentSeconds += samples.length / this.rate;
  }

  onText(message) {
    switch (message.type) {
      case 'ready':
        stats.ready = message;
        this.readyAt = performance.now() / 1000;
        this.state = 'live';
        [canvas.width, canvas.height] = [message.width, message.height];
        setStatus(`Live · ${message.width}×${message.height} at ${message.fps} fps · started in ${Math.round(message.start_ms)} ms`);
        break;
      case 'speaking':
      case 'idle':
        stats.state = message.type;
        stats.states.push({state: message.type, t: message.t});
        break;
      case 'interrupted':
        setStatus(`Interrupted at ${message.t.toFixed(2)} s: ${Math.round(message.dropped_ms)} ms of speech dropped`);
        break;
      case 'stats':
        stats.dropped = message.dropped;
        break;
      case 'error':
        stats.error = message.error;
        break;
    }
    updateControls();
  }

  onBinary(data) {
    const view = new DataView(data);
    const kind = view.getUint8(0);
    const t = view.getFloat64(8, true);
    if (kind === AUDIO) this.play(t, view);
    else if (kind === FRAME) this.receive(view.getUint32(4, true), (view.getUint8(1) & SPEAKING) !== 0, t, data);
  }

  /** Schedules a frame's audio at its place on the session timeline. */
  play(t, view) {
    stats.audio++;
    const n = (view.byteLength - HEADER_BYTES) / 2;
    if (n < 1) return;
    const buffer = this.clock.createBuffer(1, n, this.rate);
    const samples = buffer.getChannelData(0);
    for (let i = 0; i < n; i++) samples[i] = view.getInt16(HEADER_BYTES + 2 * i, true) / 32768;
    const now = this.clock.currentTime;
    if (this.base === null || this.base + t < now) {
      if (this.base !== null) stats.rebuffered++;
      this.base = now + BUFFER_S - t;
    }
    const source = new AudioBufferSourceNode(this.clock, {buffer});
    source.connect(this.clock.destination);
    source.start(this.base + t);
  }

  receive(index, speaking, t, data) {
    const at = performance.now() / 1000;
    stats.frames++;
    stats.lastIndex = index;
    if (speaking) stats.speakingFrames++;
    if (speaking && this.previous?.speaking) {
      this.speakingPairs++;
      this.speakingSeconds += at - this.previous.at;
    }
    this.previous = {at, speaking};
    this.recent.push({at, delay: at - this.readyAt - t});
    const image = new Blob([new Uint8Array(data, HEADER_BYTES)], {type: `image/${stats.ready.format}`});
    createImageBitmap(image).then((bitmap) => {
      if (this.state === 'closed') return bitmap.close();
      this.queue.push({t, bitmap});
      this.queue.sort((a, b) => a.t - b.t); // decodes may finish out of order
    }, () => stats.skipped++);
  }

  /** Draws the latest frame whose time the audio clock has reached (called every animation frame). */
  draw() {
    if (this.base === null) return;
    const heard = this.clock.currentTime - (this.clock.outputLatency || 0) - this.base;
    let due = null;
    while (this.queue.length && this.queue[0].t <= heard) {
      if (due) {
        due.bitmap.close();
        stats.skipped++;
      }
      due = this.queue.shift();
    }
    if (!due) return;
    painter.drawImage(due.bitmap, 0, 0, canvas.width, canvas.height);
    due.bitmap.close();
    stats.drawn++;
    this.syncSum += heard - due.t;
    $('placeholder').hidden = true;
  }

  /** Updates the rates and means in `stats` from the arrivals seen so far. */
  measure() {
    const now = performance.now() / 1000;
    this.recent = this.recent.filter((r) => r.at > now - 1);
    stats.fps = this.recent.length;
    if (this.recent.length) stats.latencyMs = (1000 * this.recent.reduce((sum, r) => sum + r.delay, 0)) / this.recent.length;
    if (this.speakingSeconds > 0) stats.speakingFps = this.speakingPairs / this.speakingSeconds;
    if (stats.drawn) stats.syncMs = (1000 * this.syncSum) / stats.drawn;
  }

  /** Sends `samples` in 20 ms messages at the pace they play, then `end`. */
  async streamFile(samples) {
    this.sender?.stop();
    const sender = {kind: 'file', stop: () => (sender.stopped = true)};
    this.sender = sender;
    const chunk = Math.round(CHUNK_S * this.rate);
    const started = performance.now() / 1000;
    for (let at = 0; at < samples.length; at += chunk) {
      const wait = started + at / this.rate - LEAD_S - performance.now() / 1000;
      if (wait > 0) await sleep(1000 * wait);
      if (sender.stopped || this.state !== 'live') return;
      this.sendAudio(samples.subarray(at, at + chunk));
    }
    this.send({type: 'end'});
    if (this.sender === sender) this.sender = null;
    updateControls();
  }

  /** Sends the microphone as it is captured, resampled to the session's rate, in 20 ms messages. */
  async streamMicrophone() {
    this.sender?.stop();
    const stream = await navigator.mediaDevices.getUserMedia({audio: {channelCount: 1, echoCancellation: true, noiseSuppression: true}});
    const capture = new AudioContext();
    const stop = () => {
      stream.getTracks().forEach((track) => track.stop());
      capture.close();
    };
    if (this.state !== 'live') return stop();
    await capture.audioWorklet.addModule(WORKLET);
    const node = new AudioWorkletNode(capture, 'capture');
    // Connected through to the output (silence) so the graph pulls it.
    capture.createMediaStreamSource(stream).connect(node).connect(capture.destination);
    const resample = resampler(capture.sampleRate, this.rate);
    const chunk = Math.round(CHUNK_S * this.rate);
    let pending = new Float32Array(0);
    node.port.onmessage = ({data}) => {
      const more = resample(data);
      const joined = new Float32Array(pending.length + more.length);
      joined.set(pending);
      joined.set(more, pending.length);
      for (pending = joined; pending.length >= chunk; pending = pending.subarray(chunk)) this.sendAudio(pending.subarray(0, chunk));
    };
    this.sender = {kind: 'mic', stop};
  }

  stopSending() {
    this.sender?.stop();
    this.sender = null;
  }

  interrupt() {
    if (this.sender?.kind === 'file') this.stopSending();
    this.send({type: 'interrupt'});
  }

  /** In a live session the server plays out what is queued, then closes with 1000. */
  stop() {
    this.stopSending();
    if (this.state === 'live') {
      this.send({type: 'stop'});
      this.state = 'stopping';
      setStatus('Stopping after the queued speech…');
    } else {
      this.ws.close();
    }
  }

  onClose(event) {
    this.stopSending();
    this.state = 'closed';
    stats.closeCode = event.code;
    if (event.code === 1000) setStatus('Session ended');
    else setStatus(`Closed with ${event.code}: ${stats.error?.message ?? (event.reason || 'connection lost')}`, true);
    updateControls();
  }

  /** Frees the audio clock and the frames still queued (when the next session starts). */
  dispose() {
    if (this.state !== 'closed') this.ws.close();
    this.queue.forEach((frame) => frame.bitmap.close());
    this.queue = [];
    this.clock.close();
  }
}

function updateControls() {
  const live = session?.state === 'live';
  const open = session && session.state !== 'closed';
  $('connect').disabled = Boolean(open);
  $('stop').disabled = !open || session.state === 'stopping';
  $('play-file').disabled = !live || !$('audio-file').files.length;
  $('mic').disabled = !live;
  $('mic').classList.toggle('active', live && session.sender?.kind === 'mic');
  $('mic').textContent = live && session.sender?.kind === 'mic' ? 'Stop microphone' : 'Microphone';
  $('interrupt').disabled = !live;
}

function render() {
  session?.measure();
  const state = $('stat-state');
  state.textContent = stats.state ?? '—';
  state.classList.toggle('speaking', stats.state === 'speaking');
  $('stat-frames').textContent = stats.frames;
  $('stat-fps').textContent = stats.fps;
  $('stat-dropped').textContent = stats.dropped;
  $('stat-latency').textContent = stats.latencyMs === null ? '—' : `${Math.round(stats.latencyMs)} ms`;
  $('stat-sync').textContent = stats.syncMs === null ? '—' : `${Math.round(stats.syncMs)} ms`;
}

function animate() {
  session?.draw();
  requestAnimationFrame(animate);
}

$('api-key').value = localStorage.getItem(API_KEY) ?? '';
$('api-key').addEventListener('change', () => {
  localStorage.setItem(API_KEY, $('api-key').value.trim());
  loadPortraits();
});

$('portrait-file').addEventListener('change', async (event) => {
  const file = event.target.files[0];
  if (!file) return;
  const form = new FormData();
  form.append('image', file);
  setStatus(`Rigging ${file.name}…`);
  try {
    const portrait = await api('v1/portraits', {method: 'POST', body: form});
    await loadPortraits(portrait.id);
    setStatus(`Registered ${portrait.id}`);
  } catch (error) {
    setStatus(`Upload failed: ${error.message}`, true);
  }
  event.target.value = '';
});

$('connect').addEventListener('click', () => {
  const portrait = $('portrait').value;
  if (!portrait) return setStatus('Pick or upload a portrait first', true);
  session?.dispose();
  stats = newStats();
  $('placeholder').hidden = false;
  setStatus('Connecting…');
  const options = {portrait_id: portrait, fps: Number($('fps').value), size: $('size').value, sample_rate: SAMPLE_RATE};
  session = new Session(options, $('api-key').value.trim());
  updateControls();
});

$('stop').addEventListener('click', () => session?.stop());
$('interrupt').addEventListener('click', () => session?.interrupt());
$('audio-file').addEventListener('change', updateControls);

$('play-file').addEventListener('click', async () => {
  const file = $('audio-file').files[0];
  const current = session;
  try {
    const samples = await decodeFile(file, current.rate);
    setStatus(`Playing ${file.name} (${(samples.length / current.rate).toFixed(1)} s)`);
    current.streamFile(samples);
  } catch (error) {
    setStatus(`Cannot decode ${file.name}: ${error.message}`, true);
  }
  updateControls();
});

$('mic').addEventListener('click', async () => {
  const current = session;
  try {
    if (current.sender?.kind === 'mic') current.stopSending();
    else await current.streamMicrophone();
  } catch (error) {
    setStatus(`Microphone: ${error.message}`, true);
  }
  updateControls();
});

window.talkingheadDemo = {
  stats() {
    render();
    return structuredClone(stats);
  },
};

loadPortraits();
setInterval(render, 250);
requestAnimationFrame(animate);
