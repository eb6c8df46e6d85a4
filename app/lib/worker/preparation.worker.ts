/** The preparation worker: the preparation API over the app's database, exposed to the page over comlink. */

import { expose } from 'comlink';
import { MailroomDb } from '../db/db';
import { createPreparationApi } from './preparation-api';

expose(createPreparationApi(new MailroomDb()));
