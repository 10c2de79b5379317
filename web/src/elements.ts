/**
 * The chat's elements in the page (index.html), found once: each part is
 * handed the ones it shows.
 */
import { byId } from './dom.js';

export const el = {
  me: byId('me'),
  meBox: byId('me-box'),
  banner: byId('banner'),
  bannerText: byId('banner-text'),
  bannerAction: byId<HTMLButtonElement>('banner-action'),
  sidebar: byId('sidebar'),
  menu: byId<HTMLButtonElement>('menu'),
  scrim: byId('scrim'),
  rooms: byId('rooms'),
  joinForm: byId<HTMLFormElement>('join-form'),
  joinRoom: byId<HTMLInputElement>('join-room'),
  dms: byId('dms'),
  dmForm: byId<HTMLFormElement>('dm-form'),
  dmUser: byId<HTMLInputElement>('dm-user'),
  peopleH: byId('people-h'),
  people: byId('people'),
  conversation: byId('conversation'),
  convAvatar: byId('conv-avatar'),
  convTitle: byId('conv-title'),
  convSub: byId('conv-sub'),
  callActions: byId('call-actions'),
  callAudio: byId<HTMLButtonElement>('call-audio'),
  callVideo: byId<HTMLButtonElement>('call-video'),
  scroller: byId('scroller'),
  historyState: byId('history-state'),
  messages: byId('messages'),
  jump: byId<HTMLButtonElement>('jump'),
  typing: byId('typing'),
  composer: byId<HTMLFormElement>('composer'),
  file: byId<HTMLInputElement>('file'),
  text: byId<HTMLTextAreaElement>('text'),
  send: byId<HTMLButtonElement>('send'),
  dropHint: byId('drop-hint'),
  attach: byId('attach'),
};
