/**
 * The load generator of `bench:tracking`, in its own process: autocannon over the URLs it
 * is given (one per line on stdin), printing its result as JSON.
 */

import autocannon from 'autocannon';

const [url, seconds] = process.argv.slice(2);
let input = '';
process.stdin.on('data', (chunk) => (input += chunk));
process.stdin.on('end', () => void load().catch((error) => (console.error(error), process.exit(1))));

async function load() {
  const paths = input.split('\n').filter(Boolean);
  const result = await autocannon({
    url,
    connections: 50,
    duration: Number(seconds),
    requests: paths.map((path) => ({
      method: 'GET',
      path,
      headers: { 'user-agent': 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/124.0 Safari/537.36' },
    })),
  });
  console.log(JSON.stringify(result));
}
