/**
 * The data of `bench:send`, written by a process of its own so that the sending process's
 * peak memory is what sending takes, not what building a million profiles and handing over
 * their batch took: the audience (with a `city` field) and the delivery `bench`, prepared and
 * handed over, in the SQLite file or PostgreSQL database given. Prints the content hash.
 *
 * Arguments: --recipients N, --html FILE, and --file PATH or --database-url URL.
 */

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createKit, handOver, SAMPLE_DELIVERY } from '../server/test-kit';

const { values: args } = parseArgs({
  options: {
    recipients: { type: 'string' },
    html: { type: 'string' },
    file: { type: 'string' },
    'database-url': { type: 'string' },
  },
});
const recipients = Number(args.recipients);
const html = readFileSync(args.html!, 'utf8');

const kit = await createKit({ file: args.file, databaseUrl: args['database-url'] });
try {
  await kit.services.audience.declareAttribute({ name: 'city', label: 'City', type: 'text' });
  for (let i = 0; i < recipients; i += 10_000) {
    await kit.services.audience.upsertMany(
      Array.from({ length: Math.min(10_000, recipients - i) }, (_, k) => ({
        email: `reader.${i + k}@example.com`,
        firstName: `Reader${(i + k) % 1000}`,
        lastName: `Family${(i + k) % 977}`,
        attributes: { city: ['Gent', 'Utrecht', 'Leiden'][(i + k) % 3] },
      })),
      'bench',
      new Date(),
    );
  }
  const { contentHash } = await handOver(kit, 'bench', { ...SAMPLE_DELIVERY, html }, { chunkSize: 1000 });
  console.log(contentHash);
} finally {
  await kit.close();
}
