/** The page's connection to the browser database. The worker opens its own. */

import { MailroomDb } from './db';

export const db = new MailroomDb();
