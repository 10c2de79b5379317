/**
 * Where the user writes: the text field (growing with its text, Enter sends,
 * Shift+Enter breaks the line), and files from the attach button, the
 * clipboard or dropped on the conversation.
 */
import { label, type Conv } from './conversation.js';

export interface ComposerElements {
  composer: HTMLFormElement;
  text: HTMLTextAreaElement;
  send: HTMLButtonElement;
  file: HTMLInputElement;
  attach: HTMLElement;
  /** Where files can be dropped. */
  conversation: HTMLElement;
  dropHint: HTMLElement;
}

export interface ComposerActions {
  /** Enter or the Send button. */
  send(): void;
  /** The text changed; `hasText`: more than white space is left. */
  typed(hasText: boolean): void;
  /** Pasted, picked or dropped. */
  files(files: File[]): void;
  /** Files are only offered a drop into an open conversation. */
  isOpen(): boolean;
}

/** The field grows with its text up to this height (CSS px), then scrolls. */
const MAX_TEXT_HEIGHT = 160;

export class Composer {
  constructor(
    private readonly el: ComposerElements,
    actions: ComposerActions,
    signal: AbortSignal,
  ) {
    const on = <K extends keyof HTMLElementEventMap>(target: HTMLElement, type: K, fn: (e: HTMLElementEventMap[K]) => void): void =>
      target.addEventListener(type, fn, { signal });

    on(el.composer, 'submit', (e) => {
      e.preventDefault();
      actions.send();
    });
    on(el.text, 'input', () => {
      el.text.style.height = 'auto';
      el.text.style.height = `${Math.min(el.text.scrollHeight, MAX_TEXT_HEIGHT)}px`;
      actions.typed(el.text.value.trim() !== '');
    });
    on(el.text, 'keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        actions.send();
      }
    });
    on(el.text, 'paste', (e) => {
      const files = [...(e.clipboardData?.files ?? [])];
      if (files.length) {
        e.preventDefault();
        actions.files(files);
      }
    });
    on(el.attach, 'click', () => el.file.click());
    on(el.file, 'change', () => {
      actions.files([...(el.file.files ?? [])]);
      el.file.value = '';
    });
    // Enter and leave fire for every child crossed: the hint hides when the count is back to zero.
    let dragDepth = 0;
    on(el.conversation, 'dragenter', (e) => {
      if (!e.dataTransfer?.types.includes('Files') || !actions.isOpen()) return;
      dragDepth++;
      el.dropHint.hidden = false;
    });
    on(el.conversation, 'dragleave', () => {
      if (--dragDepth <= 0) {
        dragDepth = 0;
        el.dropHint.hidden = true;
      }
    });
    on(el.conversation, 'dragover', (e) => {
      if (e.dataTransfer?.types.includes('Files')) e.preventDefault();
    });
    on(el.conversation, 'drop', (e) => {
      dragDepth = 0;
      el.dropHint.hidden = true;
      if (!e.dataTransfer?.files.length) return;
      e.preventDefault();
      actions.files([...e.dataTransfer.files]);
    });
  }

  /** What the user wrote, without the white space around it. */
  get text(): string {
    return this.el.text.value.trim();
  }

  clear(): void {
    this.el.text.value = '';
    this.el.text.style.height = 'auto';
  }

  focus(): void {
    this.el.text.focus();
  }

  render(c: Conv | null): void {
    const { el } = this;
    el.text.disabled = !c;
    el.send.disabled = !c;
    el.file.disabled = !c;
    el.text.placeholder = c ? `Message ${label(c)}` : 'Join a room or start a direct message';
  }
}
