/**
 * The pages a recipient sees — a sign-up form, its confirmation, the preference centre, their
 * data — in their language (English or Dutch), with the sender's name and logo. Every value
 * that comes from a profile, a form or a URL is escaped; the pages run no script but the
 * form's own (its time token), allowed by hash in the security headers.
 */

import { escapeHtml } from '../../shared/template';
import { fieldLabel, type PageLocale, type SignupForm, type SubscriberSettings, type Topic } from '../../shared/subscribers';
import type { AttributeDefinition } from '../../shared/types';

type Words = typeof EN;

const EN = {
  signUp: 'Sign up',
  email: 'Email address',
  topics: 'What would you like to hear about?',
  subscribe: 'Subscribe',
  checkInbox: 'Check your inbox',
  checkInboxBody: (email: string) =>
    `We sent a message to <strong>${email}</strong>. Click the link in it to confirm your subscription; until then we send you nothing.`,
  subscribed: 'You are subscribed',
  subscribedBody: 'Thank you: you will hear from us.',
  refused: 'Your sign-up could not be taken',
  tooFast: 'The form was sent too quickly, or its page is too old: reload the page and try again.',
  tooMany: 'Too many sign-ups from your network just now: try again in a few minutes.',
  noForm: 'This sign-up form does not exist (any more).',
  confirmTitle: 'Confirm your subscription',
  confirmBody: (email: string) => `Confirm that <strong>${email}</strong> may receive our emails.`,
  confirmButton: 'Yes, confirm',
  confirmed: 'Subscription confirmed',
  confirmedBody: 'Thank you for confirming: you will hear from us.',
  badLink: 'This link is not valid',
  badLinkBody: 'It may have expired or been used already. Use the link from the latest message, or sign up again.',
  preferences: 'Your email preferences',
  preferencesFor: (email: string) => `For <strong>${email}</strong>.`,
  save: 'Save my choices',
  saved: 'Your choices are saved.',
  leave: 'Unsubscribe from everything',
  leaveHint: 'You will receive none of our emails any more.',
  unsubscribed: 'Unsubscribed',
  unsubscribedBody: (email: string) => `<strong>${email}</strong> will receive no more of our emails.`,
  yourData: 'Your data',
  yourDataHint: 'We can email you a link to download everything we keep about you, or to erase it.',
  sendLink: 'Email me a link',
  linkSent: 'We sent you a message with a link; it works for 24 hours.',
  dataTitle: 'Your data',
  dataBody: (email: string) => `Everything we keep about <strong>${email}</strong>.`,
  download: 'Download my data (JSON)',
  erase: 'Erase my data',
  eraseHint:
    'Your profile, what you were sent and what you did with it are erased for good. We keep only a scrambled form of your address, so that it is never added again by mistake.',
  erased: 'Your data is erased',
  erasedBody: 'Nothing about you is kept but a scrambled form of your address. You will receive no more emails from us.',
  accessSubject: 'Your data: the link you asked for',
  accessEmail: (url: string, sender: string) =>
    `<p>You asked ${sender} for your data. This link lets you download or erase it; it works for 24 hours:</p><p><a href="${url}">${url}</a></p><p>If you did not ask for this, ignore this message.</p>`,
  seedCopy: 'This is a seed copy of the message, sent to check it: its links change nothing, and nobody is unsubscribed.',
  seedTitle: 'Seed copy',
  language: 'Language',
};

const NL: Words = {
  signUp: 'Inschrijven',
  email: 'E-mailadres',
  topics: 'Waarover wil je berichten ontvangen?',
  subscribe: 'Inschrijven',
  checkInbox: 'Kijk in je inbox',
  checkInboxBody: (email) =>
    `We hebben een bericht gestuurd naar <strong>${email}</strong>. Klik op de link erin om je inschrijving te bevestigen; tot dan sturen we je niets.`,
  subscribed: 'Je bent ingeschreven',
  subscribedBody: 'Bedankt: je hoort van ons.',
  refused: 'Je inschrijving kon niet worden verwerkt',
  tooFast: 'Het formulier is te snel verstuurd, of de pagina is te oud: laad de pagina opnieuw en probeer het nog eens.',
  tooMany: 'Te veel inschrijvingen vanaf je netwerk op dit moment: probeer het over een paar minuten opnieuw.',
  noForm: 'Dit inschrijfformulier bestaat niet (meer).',
  confirmTitle: 'Bevestig je inschrijving',
  confirmBody: (email) => `Bevestig dat <strong>${email}</strong> onze e-mails mag ontvangen.`,
  confirmButton: 'Ja, bevestigen',
  confirmed: 'Inschrijving bevestigd',
  confirmedBody: 'Bedankt voor je bevestiging: je hoort van ons.',
  badLink: 'Deze link is niet geldig',
  badLinkBody: 'Hij is misschien verlopen of al gebruikt. Gebruik de link uit het laatste bericht, of schrijf je opnieuw in.',
  preferences: 'Je e-mailvoorkeuren',
  preferencesFor: (email) => `Voor <strong>${email}</strong>.`,
  save: 'Mijn keuzes opslaan',
  saved: 'Je keuzes zijn opgeslagen.',
  leave: 'Afmelden voor alles',
  leaveHint: 'Je ontvangt dan geen enkele e-mail meer van ons.',
  unsubscribed: 'Afgemeld',
  unsubscribedBody: (email) => `<strong>${email}</strong> ontvangt geen e-mails meer van ons.`,
  yourData: 'Je gegevens',
  yourDataHint: 'We kunnen je een link mailen om alles wat we over je bewaren te downloaden, of te wissen.',
  sendLink: 'Mail me een link',
  linkSent: 'We hebben je een bericht met een link gestuurd; die werkt 24 uur.',
  dataTitle: 'Je gegevens',
  dataBody: (email) => `Alles wat we bewaren over <strong>${email}</strong>.`,
  download: 'Mijn gegevens downloaden (JSON)',
  erase: 'Mijn gegevens wissen',
  eraseHint:
    'Je profiel, wat je is gestuurd en wat je ermee deed worden voorgoed gewist. We bewaren alleen een onherkenbare vorm van je adres, zodat het nooit per ongeluk opnieuw wordt toegevoegd.',
  erased: 'Je gegevens zijn gewist',
  erasedBody: 'Er wordt niets meer over je bewaard behalve een onherkenbare vorm van je adres. Je ontvangt geen e-mails meer van ons.',
  accessSubject: 'Je gegevens: de link waar je om vroeg',
  accessEmail: (url, sender) =>
    `<p>Je hebt ${sender} om je gegevens gevraagd. Met deze link kun je ze downloaden of wissen; hij werkt 24 uur:</p><p><a href="${url}">${url}</a></p><p>Heb je hier niet om gevraagd? Negeer dan dit bericht.</p>`,
  seedCopy: 'Dit is een testkopie (seed) van het bericht: de links veranderen niets, en niemand wordt afgemeld.',
  seedTitle: 'Testkopie',
  language: 'Taal',
};

export const WORDS: Record<PageLocale, Words> = { en: EN, nl: NL };

const STYLE = `body{font:16px/1.5 system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;color:#1d2433}
header{display:flex;align-items:center;gap:.75rem;margin-bottom:1.5rem;color:#4a5468}header img{max-height:48px;max-width:160px}
strong{overflow-wrap:anywhere}label{display:block;margin:.75rem 0 .25rem}
input[type=email],input[type=text]{font:inherit;width:100%;box-sizing:border-box;padding:.55rem .7rem;border:1px solid #8a93a6;border-radius:7px}
fieldset{border:1px solid #d5d9e2;border-radius:7px;margin:1rem 0;padding:.5rem 1rem}fieldset label{display:flex;gap:.5rem;align-items:center;margin:.4rem 0}
.consent{font-size:.9rem;color:#4a5468}.problem{color:#a4161a;font-weight:600}.hp{position:absolute;left:-10000px;width:1px;height:1px;overflow:hidden}
button{font:inherit;min-height:2.75rem;padding:.5rem 1.2rem;border-radius:7px;border:1px solid #1d3557;background:#1d3557;color:#fff;cursor:pointer;margin:.5rem 0}
button.quiet{background:#fff;color:#1d3557}section{border-top:1px solid #d5d9e2;margin-top:1.5rem;padding-top:.5rem}
@media (max-width:40rem){body{margin:1.5rem auto}button{width:100%}}`;

/** Returns a whole page: the sender's name and logo above the title, in the page's language. */
export function page(locale: PageLocale, settings: SubscriberSettings, title: string, body: string): string {
  const sender = escapeHtml(settings.senderName);
  const logo = settings.logoUrl ? `<img src="${escapeHtml(settings.logoUrl)}" alt="${sender}">` : `<span>${sender}</span>`;
  return `<!doctype html><html lang="${locale}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(title)} · ${sender}</title><style>${STYLE}</style></head>
<body><header>${logo}</header><main><h1>${escapeHtml(title)}</h1>${body}</main></body></html>`;
}

/** The page of a link that is not valid (any more): expired, used, or naming nobody now. */
export const badLinkPage = (locale: PageLocale, settings: SubscriberSettings) =>
  page(locale, settings, WORDS[locale].badLink, `<p>${WORDS[locale].badLinkBody}</p>`);

/** A form's fields, topics, consent text and the two guards against bots (a field people never see, and a time token). */
export function formFields(
  form: SignupForm,
  schema: readonly AttributeDefinition[],
  topics: readonly Topic[],
  locale: PageLocale,
  values: Record<string, string> = {},
): string {
  const w = WORDS[locale];
  const input = (name: string, label: string, type: string, required: boolean) =>
    `<label for="mr-${name}">${escapeHtml(label)}${required ? ' *' : ''}</label>` +
    `<input id="mr-${name}" name="${name}" type="${type}"${required ? ' required' : ''} value="${escapeHtml(values[name] ?? '')}"` +
    `${type === 'email' ? ' autocomplete="email"' : ''}>`;
  const offered = form.topics.flatMap((id) => topics.filter((t) => t.id === id));
  return [
    input('email', w.email, 'email', true),
    ...form.fields.map((f) => input(f.name, fieldLabel(f.name, schema, locale), 'text', f.required)),
    offered.length
      ? `<fieldset><legend>${w.topics}</legend>${offered
          .map((t) => `<label><input type="checkbox" name="topics" value="${escapeHtml(t.id)}"> ${escapeHtml(t.label[locale])}</label>`)
          .join('')}</fieldset>`
      : '',
    // People never see this field; a bot that fills in every field gives itself away.
    // Hidden by its own style: a site that carries the snippet has none of ours.
    `<div class="hp" aria-hidden="true" style="position:absolute;left:-10000px;width:1px;height:1px;overflow:hidden"><label for="mr-website">Website</label><input id="mr-website" name="website" tabindex="-1" autocomplete="off"></div>`,
    `<input type="hidden" name="lang" value="${locale}">`,
    `<p class="consent">${escapeHtml(form.consentText[locale])}</p>`,
    `<button type="submit">${w.subscribe}</button>`,
  ].join('\n');
}

/**
 * The script of a form (served fresh at each load, /f/:id/form.js): it adds a signed token of
 * the time the page loaded. A bot posting straight to the form has none; one posting within
 * seconds of loading has one too new.
 */
export function tokenScript(token: string, formId: string): string {
  return `(function(){var f=document.getElementById(${JSON.stringify(`mailroom-form-${formId}`)});if(!f)return;var i=document.createElement('input');i.type='hidden';i.name='t';i.value=${JSON.stringify(token)};f.appendChild(i)})();\n`;
}

/** The HTML an operator pastes into their own site: the form, posting to Mailroom, with its time token. */
export function embedSnippet(
  form: SignupForm,
  schema: readonly AttributeDefinition[],
  topics: readonly Topic[],
  publicUrl: string,
  locale: PageLocale,
): string {
  const action = `${publicUrl}/f/${encodeURIComponent(form.id)}`;
  return `<form id="mailroom-form-${escapeHtml(form.id)}" method="post" action="${escapeHtml(action)}" accept-charset="utf-8">
${formFields(form, schema, topics, locale)}
</form>
<script src="${escapeHtml(action)}/form.js" async></script>`;
}
