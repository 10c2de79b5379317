/**
 * On a narrow screen the sidebar is a drawer over the conversation: the menu
 * button opens it, the scrim or Escape closes it, and so does choosing a
 * conversation.
 */
export interface DrawerElements {
  menu: HTMLButtonElement;
  sidebar: HTMLElement;
  scrim: HTMLElement;
}

export class Drawer {
  constructor(
    private readonly el: DrawerElements,
    signal: AbortSignal,
  ) {
    el.menu.addEventListener(
      'click',
      () => {
        const open = document.body.classList.toggle('drawer-open');
        el.menu.setAttribute('aria-expanded', String(open));
        if (open) el.sidebar.querySelector<HTMLElement>('button, input')?.focus();
      },
      { signal },
    );
    el.scrim.addEventListener('click', () => this.close(), { signal });
    document.addEventListener(
      'keydown',
      (e) => {
        if (e.key === 'Escape' && document.body.classList.contains('drawer-open')) {
          this.close();
          el.menu.focus();
        }
      },
      { signal },
    );
  }

  close(): void {
    document.body.classList.remove('drawer-open');
    this.el.menu.setAttribute('aria-expanded', 'false');
  }
}
