/** (being written) */

import { Hono } from 'hono';
import type { AppEnv } from '../services';

export const operators = new Hono<AppEnv>();
