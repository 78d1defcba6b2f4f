// An HTTP interactions endpoint, as an application without a gateway
// connection runs one: every request's Ed25519 signature is checked with
// Node's own crypto (the standard library, not our code) against the
// application's verify_key before anything is read.
//
//   FC_VERIFY_KEY  the application's public key (hex)
//
// Prints `LISTENING <port>`, then for each request `VERIFIED <type>` or
// `REJECTED`. A PING gets a PONG; a command gets a message naming its
// options; anything else an empty 400.

import { createPublicKey, verify } from 'node:crypto';
import http from 'node:http';

const raw = Buffer.from(process.env.FC_VERIFY_KEY, 'hex');
// An Ed25519 public key as SPKI DER: the fixed prefix, then the 32 bytes.
const key = createPublicKey({
  key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), raw]),
  format: 'der',
  type: 'spki',
});

function say(line) {
  process.stdout.write(`${line}\n`);
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    const signature = req.headers['x-signature-ed25519'] ?? '';
    const timestamp = req.headers['x-signature-timestamp'] ?? '';
    let ok = false;
    try {
      ok = verify(null, Buffer.concat([Buffer.from(timestamp), body]), key, Buffer.from(signature, 'hex'));
    } catch {
      ok = false;
    }
    if (!ok) {
      say('REJECTED');
      res.writeHead(401).end('invalid request signature');
      return;
    }
    const interaction = JSON.parse(body);
    say(`VERIFIED ${interaction.type}`);
    res.setHeader('content-type', 'application/json');
    if (interaction.type === 1) {
      res.end(JSON.stringify({ type: 1 }));
    } else if (interaction.type === 2) {
      const who = interaction.member?.user?.username ?? interaction.user?.username;
      const options = (interaction.data.options ?? []).map((o) => `${o.name}=${o.value}`).join(' ');
      res.end(JSON.stringify({ type: 4, data: { content: `Over HTTP for ${who}: ${options}` } }));
    } else {
      res.writeHead(400).end('{}');
    }
  });
});

server.listen(0, '127.0.0.1', () => say(`LISTENING ${server.address().port}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
