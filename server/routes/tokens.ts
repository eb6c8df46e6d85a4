/** (being written) */

import { Hono } from 'hono';
import type { AppEnv } from '../services';

export const tokens = new Hono<AppEnv>();
