/**
 * One-to-one voice and video calls: WebRTC between two browsers, with the
 * server's call signaling (`signal`: offer, answer, candidate, ringing,
 * reject, hangup). Media flows peer to peer; on a LAN or localhost no
 * STUN/TURN server is needed (iceServers: []).
 *
 * Signals reach every session of the other user. The caller keeps talking to
 * the session that answered first (its id comes with each signal) and tells
 * the callee's other sessions to stop ringing (`hangup` with `answeredBy`).
 */
import { randomKey, type SignalPush, type SwitchboardClient } from '../../client/src/index.js';
import { avatar, byId, formatDuration, icon, setIcon } from './dom.js';
import { errorText } from './connection.js';

type CallState = 'calling' | 'ringing' | 'incoming' | 'connecting' | 'connected' | 'reconnecting' | 'ended';

interface Call {
  id: string;
  peer: string;
  /** The peer's session we talk to (known once it answered, or from the offer). */
  peerSession: string | null;
  role: 'caller' | 'callee';
  video: boolean;
  state: CallState;
  pc: RTCPeerConnection | null;
  local: MediaStream | null;
  remote: MediaStream;
  remoteDescribed: boolean;
  queuedCandidates: RTCIceCandidateInit[];
  offerSdp?: string;
  connectedAt?: number;
  timers: ReturnType<typeof setTimeout>[];
  tick?: ReturnType<typeof setInterval>;
}

export interface CallHooks {
  /** Shows the direct conversation with `user`. */
  openDm(user: string): void;
  /** Adds a line about the call to the direct conversation with `user`. */
  note(user: string, text: string): void;
  toast(text: string): void;
  /** The page title shows the ringing call; this puts the usual one back. */
  restoreTitle(): void;
  /** Ends the DOM listeners (sign-out). */
  signal: AbortSignal;
}

/** How long after an incoming call shows that it can be answered (accepted or declined). */
const ANSWER_DELAY_MS = 1_000;
/** How long after declining a caller their new calls are turned down without ringing. */
const DECLINED_QUIET_MS = 30_000;
const RING_TIMEOUT_MS = 45_000;

export class Calls {
  private call: Call | null = null;
  private readonly panel = byId('call');
  private readonly title = byId('call-title');
  private readonly status = byId('call-status');
  private readonly who = byId('call-avatar');
  private readonly remoteVideo = byId<HTMLVideoElement>('remote-video');
  private readonly localVideo = byId<HTMLVideoElement>('local-video');
  private readonly muteBtn = byId<HTMLButtonElement>('call-mute');
  private readonly camBtn = byId<HTMLButtonElement>('call-camera');
  private readonly dialog = byId<HTMLDialogElement>('incoming');
  private readonly acceptBtn = byId<HTMLButtonElement>('incoming-accept');
  private readonly declineBtn = byId<HTMLButtonElement>('incoming-decline');
  /** Callers whose call was declined, until when their new calls are turned down without ringing. */
  private readonly declined = new Map<string, number>();
  /** Callers already told they missed us while we were in a call (one note each, however often they try). */
  private readonly busyNoted = new Set<string>();

  constructor(
    private readonly client: SwitchboardClient,
    private readonly hooks: CallHooks,
  ) {
    client.on('signal', (s) => void this.onSignal(s));
    const opts = { signal: hooks.signal };
    byId('call-hangup').addEventListener('click', () => this.hangup(), opts);
    this.muteBtn.addEventListener('click', () => this.toggle('audio'), opts);
    this.camBtn.addEventListener('click', () => this.toggle('video'), opts);
    this.acceptBtn.addEventListener('click', () => void this.accept(), opts);
    this.declineBtn.addEventListener('click', () => this.decline(), opts);
    this.dialog.addEventListener(
      'cancel',
      (e) => {
        e.preventDefault();
        this.decline();
      },
      opts,
    );
    addEventListener(
      'pagehide',
      () => {
        if (this.call) this.hangup();
      },
      opts,
    );
  }

  /** The call is still the one going on (async steps check after each await). */
  private isCurrent(call: Call): boolean {
    return this.call === call;
  }

  get active(): boolean {
    return this.call !== null;
  }

  /** An incoming call is waiting for an answer. */
  get ringing(): boolean {
    return this.call?.state === 'incoming';
  }

  /** Calls `peer` (voice, or video with `video`). */
  async start(peer: string, video: boolean): Promise<void> {
    if (this.call) return this.hooks.toast('You are already in a call.');
    if (this.client.state !== 'connected') return this.hooks.toast('Calls need a connection to the server.');
    const call = this.newCall({ id: randomKey(), peer, role: 'caller', video, state: 'calling' });
    this.show();
    try {
      call.local = await navigator.mediaDevices.getUserMedia({ audio: true, video: video ? { width: { ideal: 1280 }, height: { ideal: 720 } } : false });
      if (!this.isCurrent(call)) return stopStream(call.local);
      this.showLocal();
      const pc = this.peerConnection(call);
      for (const t of call.local.getTracks()) pc.addTrack(t, call.local);
      const offer = await pc.createOffer();
      await pc.setLocalDescription(offer);
      if (!this.isCurrent(call)) return;
      await this.client.signal(peer, call.id, 'offer', { sdp: offer.sdp, video });
      call.timers.push(setTimeout(() => this.call === call && (call.state === 'calling' || call.state === 'ringing') && this.end('no answer', true), RING_TIMEOUT_MS));
    } catch (err) {
      if (!this.isCurrent(call)) return;
      const e = err as { code?: string; name?: string };
      if (e.code === 'user_offline') this.end(`${peer} is not online`, true);
      else if (e.name === 'NotAllowedError' || e.name === 'NotFoundError') this.end(`no ${video ? 'camera or ' : ''}microphone available (${errorText(err)})`, true);
      else this.end(`failed (${errorText(err)})`, true);
    }
  }

  /** Accepts the incoming call. */
  async accept(): Promise<void> {
    const call = this.call;
    if (!call || call.state !== 'incoming') return;
    this.dialog.close();
    this.setState('connecting');
    this.hooks.restoreTitle();
    this.hooks.openDm(call.peer);
    this.show();
    try {
      call.local = await navigator.mediaDevices.getUserMedia({ audio: true, video: call.video ? { width: { ideal: 1280 }, height: { ideal: 720 } } : false });
      if (!this.isCurrent(call)) return stopStream(call.local);
      this.showLocal();
      const pc = this.peerConnection(call);
      await pc.setRemoteDescription({ type: 'offer', sdp: call.offerSdp ?? '' });
      call.remoteDescribed = true;
      for (const t of call.local.getTracks()) pc.addTrack(t, call.local);
      const answer = await pc.createAnswer();
      await pc.setLocalDescription(answer);
      if (!this.isCurrent(call)) return;
      await this.client.signal(call.peer, call.id, 'answer', { sdp: answer.sdp }, this.target(call, 'answer'));
      await this.flushCandidates(call);
    } catch (err) {
      if (!this.isCurrent(call)) return;
      this.end(`failed (${errorText(err)})`, true);
    }
  }

  decline(): void {
    const call = this.call;
    if (!call || call.state !== 'incoming') return;
    const now = Date.now();
    for (const [peer, until] of this.declined) if (until <= now) this.declined.delete(peer);
    this.declined.set(call.peer, now + DECLINED_QUIET_MS);
    this.send(call, 'reject', { reason: 'declined' });
    this.end(`You declined a ${call.video ? 'video' : 'voice'} call from ${call.peer}`, false, true);
  }

  hangup(): void {
    const call = this.call;
    if (!call) return;
    this.send(call, call.state === 'incoming' ? 'reject' : 'hangup', { reason: 'hangup' });
    this.end(call.connectedAt ? `ended · ${formatDuration(Date.now() - call.connectedAt)}` : 'cancelled');
  }

  // ── signaling ─────────────────────────────────────────────────────────

  private async onSignal(s: SignalPush): Promise<void> {
    const data = (s.data ?? {}) as { sdp?: string; candidate?: RTCIceCandidateInit; video?: boolean; reason?: string; answeredBy?: string };
    if (s.kind === 'offer') {
      if (this.call?.id === s.callId) return;
      // Someone who was just declined and calls again is turned down without ringing: calling back at once,
      // over and over, must not keep the dialog in front of the chat.
      if ((this.declined.get(s.from) ?? 0) > Date.now()) {
        void this.client.signal(s.from, s.callId, 'reject', { reason: 'declined' }, { session: s.session }).catch(() => {});
        return;
      }
      if (this.call) {
        void this.client.signal(s.from, s.callId, 'reject', { reason: 'busy' }, { session: s.session }).catch(() => {});
        if (!this.busyNoted.has(s.from)) this.hooks.note(s.from, `Missed call from ${s.from} (you were in another call)`);
        this.busyNoted.add(s.from);
        return;
      }
      const call = this.newCall({ id: s.callId, peer: s.from, role: 'callee', video: data.video === true, state: 'incoming' });
      call.peerSession = s.session;
      call.offerSdp = data.sdp ?? '';
      this.send(call, 'ringing');
      this.ring(call);
      call.timers.push(setTimeout(() => this.call === call && call.state === 'incoming' && this.end(`Missed call from ${call.peer}`, false, true), RING_TIMEOUT_MS));
      return;
    }
    const call = this.call;
    if (!call || call.id !== s.callId || call.peer !== s.from) return;
    if (call.peerSession !== null && s.session !== call.peerSession) return;
    switch (s.kind) {
      case 'ringing':
        if (call.state === 'calling') this.setState('ringing');
        return;
      case 'answer': {
        if (call.role !== 'caller' || call.peerSession !== null || !call.pc) return;
        call.peerSession = s.session;
        // Other sessions of the callee (tabs, devices) stop ringing.
        this.send(call, 'hangup', { reason: 'answered-elsewhere', answeredBy: s.session });
        this.setState('connecting');
        try {
          await call.pc.setRemoteDescription({ type: 'answer', sdp: data.sdp ?? '' });
          call.remoteDescribed = true;
          await this.flushCandidates(call);
        } catch (err) {
          if (this.call === call) this.end(`failed (${errorText(err)})`, true);
        }
        return;
      }
      case 'candidate':
        if (!data.candidate) return;
        if (call.pc && call.remoteDescribed) await call.pc.addIceCandidate(data.candidate).catch(() => {});
        else call.queuedCandidates.push(data.candidate);
        return;
      case 'reject':
        if (call.role === 'caller' && call.peerSession === null) this.end(data.reason === 'busy' ? `${call.peer} is in another call` : `${call.peer} declined`, true);
        return;
      case 'hangup':
        if (data.answeredBy !== undefined) {
          if (data.answeredBy !== this.client.connection?.session && call.state === 'incoming') this.end('answered on another device');
          return;
        }
        if (call.state === 'incoming') this.end(`Missed call from ${call.peer}`, false, true);
        else this.end(call.connectedAt ? `${call.peer} hung up · ${formatDuration(Date.now() - call.connectedAt)}` : `${call.peer} hung up`);
        return;
    }
  }

  private send(call: Call, kind: 'ringing' | 'reject' | 'hangup' | 'candidate', data?: unknown): void {
    if (this.client.state !== 'connected') return;
    void this.client.signal(call.peer, call.id, kind, data, this.target(call, kind)).catch(() => {});
  }

  /**
   * Which of the peer's sessions a signal is for: the callee answers only the session that called; the caller
   * sends its candidates to the session that answered, but its hangup to every session (the ones still ringing).
   */
  private target(call: Call, kind: string): { session?: string } {
    if (call.peerSession === null) return {};
    return call.role === 'callee' || kind === 'candidate' ? { session: call.peerSession } : {};
  }

  private async flushCandidates(call: Call): Promise<void> {
    const list = call.queuedCandidates.splice(0);
    for (const c of list) await call.pc?.addIceCandidate(c).catch(() => {});
  }

  private peerConnection(call: Call): RTCPeerConnection {
    const pc = new RTCPeerConnection({ iceServers: [] });
    call.pc = pc;
    pc.onicecandidate = (e) => {
      if (e.candidate && this.call === call) this.send(call, 'candidate', { candidate: e.candidate.toJSON() });
    };
    pc.ontrack = (e) => {
      if (!this.isCurrent(call)) return;
      if (!call.remote.getTracks().includes(e.track)) call.remote.addTrack(e.track);
      if (this.remoteVideo.srcObject !== call.remote) this.remoteVideo.srcObject = call.remote;
      this.panel.classList.toggle('has-remote-video', call.remote.getVideoTracks().length > 0);
      this.remoteVideo.play().catch(() => {});
    };
    pc.onconnectionstatechange = () => {
      if (!this.isCurrent(call)) return;
      switch (pc.connectionState) {
        case 'connected':
          if (!call.connectedAt) call.connectedAt = Date.now();
          this.setState('connected');
          return;
        case 'disconnected':
          this.setState('reconnecting');
          return;
        case 'failed':
          this.send(call, 'hangup', { reason: 'failed' });
          this.end('the connection was lost', true);
          return;
      }
    };
    return pc;
  }

  // ── UI ────────────────────────────────────────────────────────────────

  private newCall({ id, peer, role, video, state }: Pick<Call, 'id' | 'peer' | 'role' | 'video' | 'state'>): Call {
    const call: Call = { id, peer, peerSession: null, role, video, state, pc: null, local: null, remote: new MediaStream(), remoteDescribed: false, queuedCandidates: [], timers: [] };
    this.call = call;
    this.title.textContent = peer;
    this.who.replaceChildren(avatar(peer, 'avatar huge'));
    this.panel.classList.toggle('video', video);
    this.panel.classList.remove('has-remote-video');
    this.panel.setAttribute('aria-label', `${video ? 'Video' : 'Voice'} call with ${peer}`);
    this.camBtn.hidden = !video;
    this.setPressed(this.muteBtn, false, 'mic', 'Mute microphone');
    this.setPressed(this.camBtn, false, 'video', 'Turn camera off');
    this.setState(state);
    return call;
  }

  private ring(call: Call): void {
    byId('incoming-title').textContent = `${call.peer} is calling you`;
    byId('incoming-kind').textContent = call.video ? 'Video call' : 'Voice call';
    byId('incoming-avatar').replaceChildren(avatar(call.peer, 'avatar huge'));
    this.acceptBtn.replaceChildren(icon(call.video ? 'video' : 'phone'), 'Accept');
    // Neither button can be pressed for a moment, and the dialog itself takes the focus: a key meant for the
    // composer (a space, Enter) must neither answer a call that popped up under it, turning the camera on, nor
    // decline it.
    this.acceptBtn.disabled = this.declineBtn.disabled = true;
    call.timers.push(setTimeout(() => (this.acceptBtn.disabled = this.declineBtn.disabled = false), ANSWER_DELAY_MS));
    if (!this.dialog.open) this.dialog.showModal();
    document.title = `📞 ${call.peer} is calling · Switchboard`;
  }

  private show(): void {
    this.panel.hidden = false;
    document.body.classList.add('in-call');
  }

  private showLocal(): void {
    const call = this.call;
    if (!call?.local) return;
    this.localVideo.srcObject = call.local;
    this.localVideo.hidden = !call.video;
    this.localVideo.play().catch(() => {});
  }

  private setState(state: CallState): void {
    const call = this.call;
    if (!call) return;
    call.state = state;
    this.panel.dataset.state = state;
    clearInterval(call.tick);
    const text: Record<CallState, string> = {
      calling: 'Calling…',
      ringing: 'Ringing…',
      incoming: 'Incoming call',
      connecting: 'Connecting…',
      connected: 'Connected',
      reconnecting: 'Reconnecting…',
      ended: 'Call ended',
    };
    this.status.textContent = text[state];
    if (state === 'connected') {
      const update = (): void => {
        this.status.textContent = `Connected · ${formatDuration(Date.now() - (call.connectedAt ?? Date.now()))}`;
      };
      update();
      call.tick = setInterval(update, 1000);
    }
  }

  private setPressed(btn: HTMLButtonElement, pressed: boolean, iconName: Parameters<typeof setIcon>[1], label: string): void {
    btn.setAttribute('aria-pressed', String(pressed));
    btn.setAttribute('aria-label', label);
    btn.title = label;
    setIcon(btn, iconName);
  }

  private toggle(kind: 'audio' | 'video'): void {
    const tracks = kind === 'audio' ? this.call?.local?.getAudioTracks() : this.call?.local?.getVideoTracks();
    if (!tracks?.length) return;
    const off = tracks[0]!.enabled;
    for (const t of tracks) t.enabled = !off;
    if (kind === 'audio') this.setPressed(this.muteBtn, off, off ? 'micOff' : 'mic', off ? 'Unmute microphone' : 'Mute microphone');
    else this.setPressed(this.camBtn, off, off ? 'videoOff' : 'video', off ? 'Turn camera on' : 'Turn camera off');
  }

  /** Ends the call locally: stops media, closes the connection, leaves a line in the conversation. */
  private end(text: string, asToast = false, missed = false): void {
    const call = this.call;
    if (!call) return;
    this.call = null;
    this.busyNoted.clear();
    for (const t of call.timers) clearTimeout(t);
    clearInterval(call.tick);
    call.pc?.close();
    stopStream(call.local);
    call.state = 'ended';
    this.panel.dataset.state = 'ended';
    if (this.dialog.open) this.dialog.close();
    this.remoteVideo.srcObject = null;
    this.localVideo.srcObject = null;
    this.panel.hidden = true;
    document.body.classList.remove('in-call');
    this.hooks.restoreTitle();
    this.hooks.note(call.peer, missed ? text : `${call.video ? 'Video' : 'Voice'} call: ${text}`);
    if (asToast) this.hooks.toast(missed ? text : `${call.video ? 'Video' : 'Voice'} call with ${call.peer}: ${text}`);
  }
}

function stopStream(s: MediaStream | null): void {
  for (const t of s?.getTracks() ?? []) t.stop();
}
