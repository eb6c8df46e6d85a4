/** The audience as CSV, streamed page by page; cells that a spreadsheet would run as a formula are neutralized. */

import type { AttributeDefinition, Profile } from '../../shared/types';
import { fieldText } from '../../shared/profile-fields';
import type { AudienceStore } from '../store/audience';
import { csvCell } from './importer';

const PAGE = 5_000;

/**
 * Returns the cell safe to open in a spreadsheet: a value starting with =, +, -, @, | (a DDE
 * call in some spreadsheets), their full-width forms ＝ ＋ － ＠ (which spreadsheets in East
 * Asian locales read as the same), a tab or a carriage return is prefixed with a quote, so it
 * is shown, never evaluated (CSV injection).
 */
export function neutralize(value: string): string {
  return /^[=+\-@|\t\r\uff1d\uff0b\uff0d\uff20]/.test(value) ? `'${value}` : value;
}

function row(profile: Profile, schema: readonly AttributeDefinition[]): string {
  const cells = [
    profile.email,
    profile.firstName,
    profile.lastName,
    profile.locale,
    profile.timeZone,
    profile.status,
    profile.statusChangedAt ?? '',
    profile.denylisted ? 'yes' : 'no',
    profile.quarantined ? 'yes' : 'no',
    ...schema.map((a) => fieldText(profile, a.name).replace(/, /g, a.type === 'tags' ? '|' : ', ')),
    profile.createdAt,
  ];
  return cells.map((c) => csvCell(neutralize(c))).join(',');
}

/** Returns a stream of the whole audience as CSV (UTF-8, header line first). */
export function exportCsv(audience: AudienceStore): ReadableStream<Uint8Array> {
  let schema: AttributeDefinition[] = [];
  const encoder = new TextEncoder();
  let afterId = 0;
  let headerSent = false;
  return new ReadableStream({
    async pull(controller) {
      if (!headerSent) {
        headerSent = true;
        schema = await audience.schema();
        const header = [
          'email',
          'first_name',
          'last_name',
          'locale',
          'time_zone',
          'status',
          'status_changed_at',
          'denylisted',
          'quarantined',
          ...schema.map((a) => a.name),
          'created_at',
        ];
        controller.enqueue(encoder.encode(header.map(csvCell).join(',') + '\n'));
        return;
      }
      const page = await audience.pageById(afterId, PAGE);
      if (page.length === 0) return controller.close();
      afterId = page[page.length - 1].id;
      controller.enqueue(encoder.encode(page.map((p) => row(p, schema)).join('\n') + '\n'));
    },
  });
}
