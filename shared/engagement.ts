/**
 * Engagement as the replica knows it: for each recent delivery, who received it, who opened
 * it and who clicked; for each profile, its last open and last click. Opens and clicks are a
 * person's (a privacy proxy's open or a link scanner's click says nothing of the person).
 *
 * Audience conditions, typology rules and capacity orders read engagement as fields of the
 * profile: `last_open` and `last_click` (dates), and `delivery` ("received / opened /
 * clicked delivery X"). A block of the replica is seen through `EngagementIndex.view`,
 * which adds those columns, computed from the block's ids; everything that reads columns
 * (the filter, the rules, the ranking) then works on them unchanged, offline.
 */

import type { FieldDefinition, ProfileBlockView } from './profile-fields';
import type { AttributeValue } from './types';

export interface EngagementDelivery {
  deliveryId: string;
  name: string;
  /** When it started sending. */
  sentAt: string;
  /** Profiles it was delivered to. */
  received: ArrayLike<number>;
  /** Profiles of `received` who opened it (a person's open; a click counts as one). */
  opened: ArrayLike<number>;
  /** Profiles of `received` who clicked a link in it. */
  clicked: ArrayLike<number>;
}

/** Per profile, the time of a last event (epoch ms), as two parallel arrays. */
export interface LastEvents {
  ids: ArrayLike<number>;
  at: ArrayLike<number>;
}

export interface EngagementSnapshot {
  deliveries: EngagementDelivery[];
  lastOpen: LastEvents;
  lastClick: LastEvents;
}

export const NO_ENGAGEMENT: EngagementSnapshot = { deliveries: [], lastOpen: { ids: [], at: [] }, lastClick: { ids: [], at: [] } };

const DAY = 86_400_000;

export const LAST_OPEN = 'last_open';
export const LAST_CLICK = 'last_click';
/** The field of the conditions on one delivery; the condition's value is the delivery's id. */
export const DELIVERY_FIELD = 'delivery';

/** A profile's standing with one delivery, as the `delivery` column holds it. */
export const NOT_RECEIVED = 0;
export const RECEIVED = 1;
export const OPENED = 2;
/** Clicked (and so opened). */
export const CLICKED = 3;

export const STANDING_LABELS = ['did not receive it', 'received it, did not open it', 'opened it', 'clicked in it'] as const;

/** The column a condition on delivery `deliveryId` reads. */
export function deliveryColumn(deliveryId: string): string {
  return `${DELIVERY_FIELD}:${deliveryId}`;
}

/**
 * The engagement fields, as the audience builder offers them (after the profile's own
 * fields); one whose name an attribute of `schema` has already (imported before the field
 * existed) is left to the attribute.
 */
export function engagementFields(
  deliveries: readonly Pick<EngagementDelivery, 'deliveryId' | 'name' | 'sentAt'>[],
  schema: readonly { name: string }[] = [],
): FieldDefinition[] {
  const fields: FieldDefinition[] = [
    { name: LAST_OPEN, label: 'Last open', type: 'date' },
    { name: LAST_CLICK, label: 'Last click', type: 'date' },
    {
      name: DELIVERY_FIELD,
      label: 'A delivery sent',
      type: 'delivery',
      choices: [...deliveries]
        .sort((a, b) => (a.sentAt < b.sentAt ? 1 : -1))
        .map((d) => ({ value: d.deliveryId, label: `${d.name} (${d.sentAt.slice(0, 10)})` })),
    },
  ];
  return fields.filter((f) => !schema.some((a) => a.name === f.name));
}

/** Returns true when any condition or order in `part` (an audience filter, a typology's rules) reads an engagement field. */
export function usesEngagement(part: unknown): boolean {
  return /"field":"(last_open|last_click|delivery)"/.test(JSON.stringify(part) ?? '');
}

/**
 * Returns the replica version a preparation of these parts (an audience, a typology) is
 * stamped with: with engagement in it when they read engagement, so that a pull that changed
 * who opened makes such a preparation stale (its what-if and why would read the new one).
 */
export function engagedVersion(replicaVersion: string, engagementStamp: string, ...parts: unknown[]): string {
  return parts.some(usesEngagement) ? `${replicaVersion}/engagement ${engagementStamp}` : replicaVersion;
}

/** Returns true for a field engagement provides (the filter reads it through the index's view). */
export function isEngagementField(field: string): boolean {
  return field === LAST_OPEN || field === LAST_CLICK || field.startsWith(`${DELIVERY_FIELD}:`);
}

/** Engagement looked up by profile id; the per-delivery tables are built when first asked for. */
export class EngagementIndex {
  #lastOpen: Map<number, number> | undefined;
  #lastClick: Map<number, number> | undefined;
  readonly #deliveries: Map<string, EngagementDelivery>;
  readonly #standings = new Map<string, Map<number, number>>();

  constructor(readonly snapshot: EngagementSnapshot) {
    this.#deliveries = new Map(snapshot.deliveries.map((d) => [d.deliveryId, d]));
  }

  /** The profile's last open (epoch ms), or undefined when it never opened. */
  lastOpen(profileId: number): number | undefined {
    return this.#last(LAST_OPEN).get(profileId);
  }

  lastClick(profileId: number): number | undefined {
    return this.#last(LAST_CLICK).get(profileId);
  }

  /** The profile's standing with a delivery (NOT_RECEIVED … CLICKED). */
  standing(deliveryId: string, profileId: number): number {
    return this.#standingsOf(deliveryId).get(profileId) ?? NOT_RECEIVED;
  }

  delivery(deliveryId: string): EngagementDelivery | undefined {
    return this.#deliveries.get(deliveryId);
  }

  /** Returns the block with the engagement columns added (the block's own columns are read as before). */
  view(block: ProfileBlockView): ProfileBlockView {
    const columns = new Map<string, ArrayLike<AttributeValue | undefined>>();
    return {
      length: block.length,
      ids: block.ids,
      flags: () => block.flags(),
      profileAt: (i) => block.profileAt(i),
      column: (field) => {
        if (!isEngagementField(field)) return block.column(field);
        let values = columns.get(field);
        if (!values) {
          values = this.#column(block.ids, field);
          columns.set(field, values);
        }
        return values;
      },
    };
  }

  /** The value of an engagement field for one profile, as a trace shows it. */
  describe(field: string, profileId: number): string {
    if (field === LAST_OPEN || field === LAST_CLICK) {
      const at = field === LAST_OPEN ? this.lastOpen(profileId) : this.lastClick(profileId);
      return at === undefined ? 'never' : new Date(at).toISOString().slice(0, 10);
    }
    return STANDING_LABELS[this.standing(field.slice(DELIVERY_FIELD.length + 1), profileId)];
  }

  #column(ids: ArrayLike<number>, field: string): ArrayLike<AttributeValue | undefined> {
    if (field === LAST_OPEN || field === LAST_CLICK) {
      // By day (UTC midnight), as a date attribute holds it: "equals", "between" and "after" a day read as they say.
      const last = this.#last(field);
      const values = new Array<number | undefined>(ids.length);
      for (let i = 0; i < ids.length; i++) {
        const at = last.get(ids[i]);
        values[i] = at === undefined ? undefined : at - (at % DAY);
      }
      return values;
    }
    const standings = this.#standingsOf(field.slice(DELIVERY_FIELD.length + 1));
    const values = new Uint8Array(ids.length);
    if (standings.size) for (let i = 0; i < ids.length; i++) values[i] = standings.get(ids[i]) ?? NOT_RECEIVED;
    return values;
  }

  #last(field: typeof LAST_OPEN | typeof LAST_CLICK): Map<number, number> {
    if (field === LAST_OPEN) return (this.#lastOpen ??= lastMap(this.snapshot.lastOpen));
    return (this.#lastClick ??= lastMap(this.snapshot.lastClick));
  }

  #standingsOf(deliveryId: string): Map<number, number> {
    let standings = this.#standings.get(deliveryId);
    if (!standings) {
      standings = new Map();
      const delivery = this.#deliveries.get(deliveryId);
      if (delivery) {
        for (let i = 0; i < delivery.received.length; i++) standings.set(delivery.received[i], RECEIVED);
        for (let i = 0; i < delivery.opened.length; i++) standings.set(delivery.opened[i], OPENED);
        for (let i = 0; i < delivery.clicked.length; i++) standings.set(delivery.clicked[i], CLICKED);
      }
      this.#standings.set(deliveryId, standings);
    }
    return standings;
  }
}

function lastMap(events: LastEvents): Map<number, number> {
  const map = new Map<number, number>();
  for (let i = 0; i < events.ids.length; i++) map.set(events.ids[i], events.at[i]);
  return map;
}
