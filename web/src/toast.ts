/** Short messages in the corner that go away by themselves (errors are announced at once). */
import { byId, h } from './dom.js';

const toasts = byId('toasts');

export function toast(text: string, kind: 'info' | 'error' = 'info'): void {
  const t = h('div', { class: `toast ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text);
  toasts.append(t);
  setTimeout(() => t.classList.add('out'), 5_000);
  setTimeout(() => t.remove(), 5_400);
}
