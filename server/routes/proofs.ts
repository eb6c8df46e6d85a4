/**
 * Proofs: the message as rendered for chosen recipients, sent to test addresses with the
 * subject prefixed "[Proof]". Rendered by the shared renderer, like the real thing; links
 * are left as written and the unsubscribe link points nowhere, so a proof changes no figure.
 */

import { Hono } from 'hono';
import { z } from 'zod';
import { asciiDomain, emailDomain, isValidEmail } from '../../shared/email-address';
import { compileMessage, PART_NAMES, renderMessage } from '../../shared/message';
import { oneLine } from '../../shared/template';
import type { AppEnv } from '../services';
import { jsonBody } from './validate';

export const PROOF_UNSUBSCRIBE_URL = 'https://unsubscribe.invalid/proof';

/**
 * A recipient's values as a prepared batch carries them, typed: text, a number, yes/no,
 * tags, or nil (null, or left out). The chunks of a hand-off take the same shape.
 */
export const templateValues = z.record(
  z.string().max(200),
  z.union([z.string().max(10_000), z.number(), z.boolean(), z.array(z.string().max(10_000)).max(1_000).readonly(), z.null()]),
);

const proof = z.object({
  fromName: z.string().max(200),
  fromAddress: z.string().refine(isValidEmail, 'a valid email address'),
  subject: z.string().min(1).max(998),
  preheader: z.string().max(500).default(''),
  html: z.string().min(1).max(2_000_000),
  text: z.string().max(2_000_000).default(''),
  to: z.array(z.string().trim().toLowerCase().refine(isValidEmail, 'a valid email address')).min(1).max(10),
  recipients: z
    .array(z.object({ email: z.string().max(254), values: templateValues }))
    .min(1)
    .max(5),
});

export const proofs = new Hono<AppEnv>().post('/', jsonBody(proof), async (c) => {
  const body = c.req.valid('json');
  const compiled = compileMessage(body);
  if (!compiled.ok) {
    const { line, column, message } = compiled.error;
    return c.json(
      { error: 'template-error', message: `The ${PART_NAMES[compiled.part]} has an error at line ${line}, column ${column}: ${message}.` },
      422,
    );
  }
  const { messenger } = c.var.services.engine;
  // A proof is sent now: its "now" is this moment.
  const sendAt = c.var.services.now();
  const outcomes = await Promise.all(
    body.recipients.flatMap((recipient) =>
      body.to.map(async (to) => {
        const rendered = renderMessage(compiled.message, recipient.values, { unsubscribeUrl: PROOF_UNSUBSCRIBE_URL, sendAt });
        const outcome = await messenger.send({
          from: { name: oneLine(body.fromName), address: body.fromAddress },
          to,
          subject: `[Proof] ${rendered.subject}`,
          html: rendered.html,
          text: rendered.text,
          messageId: `<proof.${Date.now()}.${Math.random().toString(36).slice(2)}@${asciiDomain(emailDomain(body.fromAddress))}>`,
          headers: { 'X-Mailroom-Proof': `as received by ${oneLine(recipient.email)}` },
        });
        return { to, as: recipient.email, ...outcome };
      }),
    ),
  );
  const failed = outcomes.filter((o) => o.kind !== 'sent');
  return c.json({ sent: outcomes.length - failed.length, failed: failed.map((f) => ({ to: f.to, as: f.as, reply: f.reply })) }, 200);
});
