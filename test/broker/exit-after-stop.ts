/**
 * Run by the contract suite as a child process: `node exit-after-stop.js URL [DEAD_URL]` uses a broker (subscribes,
 * hears itself, stops), lets a second one fail to start against DEAD_URL, prints "stopped" and returns. Whatever a
 * broker left open (a socket, a timer, a retry loop) keeps the process alive, which the suite sees as a timeout.
 */
import { openBroker } from '../../src/broker/open-broker.js';

const [url, deadUrl] = process.argv.slice(2);
if (!url) throw new Error('usage: exit-after-stop.js URL [DEAD_URL]');

const broker = openBroker(url, 'exit');
let heard!: () => void;
const back = new Promise<void>((resolve) => (heard = resolve));
await broker.start({ message: () => heard(), state: () => {} });
broker.subscribe('c');
// Until the subscription is in place (nothing says when): a message every 20 ms.
const timer = setInterval(() => broker.publish('c', Buffer.from('ping')), 20);
await back;
clearInterval(timer);
await broker.stop();

if (deadUrl) {
  const dead = openBroker(deadUrl, 'exit');
  const failed = await dead.start({ message: () => {}, state: () => {} }).then(
    () => false,
    () => true,
  );
  if (!failed) throw new Error(`start() against ${deadUrl} succeeded`);
  await dead.stop();
}
console.log('stopped');
