/**
 * The starter templates a new delivery can begin from: HTML written the way that holds up
 * in Outlook, Gmail and on a phone — one centred table at most 600 px wide and fluid below
 * it, inline styles, system fonts, a background colour set with the text colours (dark
 * mode), a hidden preheader, alt text on every image, text on every link, and the
 * unsubscribe link in the footer. Each passes the default typology's control rules
 * (starter-templates.test.ts). Images point at placehold.co so that they show anywhere;
 * replace them with the campaign's own.
 */

import { starterDesign } from './builder';
import type { ContentSource } from './content-source';

export interface StarterTemplate {
  id: string;
  name: string;
  /** One line on what it is for. */
  description: string;
  subject: string;
  /** The preheader, a field of its own: the renderer puts it hidden first in the body. */
  preheader: string;
  html: string;
}

/** The page around a template's rows: the background, the centred 600 px table and the footer. */
function page(options: { accent: string; rows: string; footer?: string }): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta name="color-scheme" content="light">
</head>
<body style="margin: 0; padding: 0; background-color: #f3f4f6; color: #1f2937; font-family: -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif;">
  <table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="background-color: #f3f4f6;">
    <tr>
      <td align="center" style="padding: 24px 12px;">
        <table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="max-width: 600px; background-color: #ffffff; border-radius: 8px; border-top: 4px solid ${options.accent};">
${options.rows}
          <tr>
            <td style="padding: 20px 32px 28px; font-size: 12px; line-height: 18px; color: #6b7280; background-color: #ffffff; border-top: 1px solid #e5e7eb;">
              ${options.footer ?? 'You receive this email because you subscribed to our news.'}
              <a href="{{ unsubscribe_url }}" style="color: #6b7280;">Unsubscribe</a>
            </td>
          </tr>
        </table>
      </td>
    </tr>
  </table>
</body>
</html>
`;
}

const button = (href: string, label: string, colour: string) => `<table role="presentation" cellpadding="0" cellspacing="0">
                <tr>
                  <td style="border-radius: 6px; background-color: ${colour};">
                    <a href="${href}" style="display: inline-block; padding: 12px 24px; font-size: 16px; font-weight: bold; color: #ffffff; text-decoration: none;">${label}</a>
                  </td>
                </tr>
              </table>`;

const text = (html: string, padding = '0 32px 16px') =>
  `          <tr>
            <td style="padding: ${padding}; font-size: 16px; line-height: 24px;">
              ${html}
            </td>
          </tr>`;

const heading = (html: string) =>
  `          <tr>
            <td style="padding: 28px 32px 8px;">
              <h1 style="margin: 0; font-size: 26px; line-height: 32px; color: #111827;">${html}</h1>
            </td>
          </tr>`;

const image = (src: string, alt: string) =>
  `          <tr>
            <td style="padding: 0;">
              <img src="${src}" width="600" alt="${alt}" style="display: block; width: 100%; max-width: 600px; height: auto; border: 0;">
            </td>
          </tr>`;

export const STARTER_TEMPLATES: readonly StarterTemplate[] = [
  {
    id: 'newsletter',
    name: 'Newsletter',
    description: 'A header image, an introduction and three stories, each with a link.',
    subject: 'Our news this month, {{ first_name | default: "reader" }}',
    preheader: 'Three stories from this month: the new collection, a workshop and a visit behind the scenes.',
    html: page({
      accent: '#2563eb',
      rows: [
        image('https://placehold.co/1200x400/2563eb/ffffff/png?text=This+month', 'This month at the shop'),
        heading('Hello {{ first_name | default: "there" }},'),
        text('Here is what happened this month{% if city %}, in {{ city }} and elsewhere{% endif %}.'),
        ...[
          ['The new collection is in', 'Coats, knits and boots for the colder days, picked by our buyers.', 'https://shop.example.com/new'],
          [
            'A workshop on caring for wool',
            'Learn to wash, dry and mend your knits so they last for years.',
            'https://shop.example.com/workshop',
          ],
          ['Behind the scenes', 'How our team chooses the makers we work with, and why.', 'https://shop.example.com/story'],
        ].map(([title, body, href]) =>
          text(
            `<h2 style="margin: 0 0 4px; font-size: 19px; line-height: 26px; color: #111827;">${title}</h2>
              <p style="margin: 0 0 6px;">${body}</p>
              <a href="${href}" style="color: #2563eb; font-weight: bold;">Read more</a>`,
            '12px 32px 12px',
          ),
        ),
        text('<p style="margin: 8px 0 0;">Until next month,<br>The team</p>', '8px 32px 24px'),
      ].join('\n'),
    }),
  },
  {
    id: 'promotion',
    name: 'Promotion',
    description: 'One offer, a code and a large button: for a sale or a launch.',
    subject: '{{ first_name | default: "Hello" }}, 20% off everything until Sunday',
    preheader: 'Use the code AUTUMN20 at checkout: 20% off the whole shop until Sunday midnight.',
    html: page({
      accent: '#dc2626',
      rows: [
        image('https://placehold.co/1200x600/dc2626/ffffff/png?text=20%25+off', '20% off everything until Sunday'),
        heading('20% off, {{ first_name | default: "just for you" }}'),
        text('<p style="margin: 0;">Everything in the shop, until Sunday midnight. Use this code at checkout:</p>'),
        text(
          '<p style="margin: 0; padding: 12px; font-size: 22px; font-weight: bold; letter-spacing: 2px; text-align: center; color: #111827; background-color: #fef2f2; border: 2px dashed #dc2626; border-radius: 6px;">AUTUMN20</p>',
        ),
        text(button('https://shop.example.com/sale?code=AUTUMN20', 'Shop the sale', '#dc2626'), '8px 32px 28px'),
      ].join('\n'),
      footer: 'Not valid with other offers. You receive this email because you subscribed to our offers.',
    }),
  },
  {
    id: 'event',
    name: 'Event invitation',
    description: 'When, where and a button to reply: for an opening, a webinar or a workshop.',
    subject: 'You are invited, {{ first_name | default: "dear guest" }}: our autumn evening',
    preheader: 'Thursday 12 November, 19:00, at the shop: drinks, a preview of the collection and a talk.',
    html: page({
      accent: '#7c3aed',
      rows: [
        heading('You are invited to our autumn evening'),
        text(
          '<p style="margin: 0;">Dear {{ first_name | default: "guest" }}, join us for drinks, a first look at the new collection and a short talk by one of our makers.</p>',
        ),
        text(
          `<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="background-color: #f5f3ff; border-radius: 6px;">
                <tr><td style="padding: 14px 16px; font-size: 16px; line-height: 24px; color: #1f2937;">
                  <strong>When</strong>: Thursday 12 November, 19:00–21:30<br>
                  <strong>Where</strong>: {% if city %}our shop in {{ city }}{% else %}our shop{% endif %}<br>
                  <strong>Dress</strong>: as you like
                </td></tr>
              </table>`,
        ),
        text(button('https://shop.example.com/evening/reply', 'Reply: I will come', '#7c3aed'), '8px 32px 12px'),
        text('<p style="margin: 0; font-size: 14px; color: #4b5563;">Places are limited; please reply by 5 November.</p>', '0 32px 28px'),
      ].join('\n'),
    }),
  },
  {
    id: 'notice',
    name: 'Notice',
    description: 'A plain, factual message that looks like an account email: a change of terms or opening hours.',
    subject: 'A change to our opening hours',
    preheader: 'From 1 December the shop opens at 10:00 on weekdays. Nothing else changes.',
    html: page({
      accent: '#374151',
      rows: [
        heading('A change to our opening hours'),
        text('<p style="margin: 0;">Hello {{ first_name | default: "there" }},</p>'),
        text(
          '<p style="margin: 0;">From 1 December our shop opens at 10:00 instead of 9:00 on weekdays. Weekend hours and online orders stay the same.</p>',
        ),
        text(
          '<p style="margin: 0;">Questions? Reply to this email or read the <a href="https://shop.example.com/hours" style="color: #1d4ed8;">opening hours page</a>.</p>',
          '0 32px 28px',
        ),
      ].join('\n'),
      footer: 'You receive this notice because you are a customer of our shop.',
    }),
  },
  {
    id: 'letter',
    name: 'Plain letter',
    description: 'Text only, like a personal email: no images, one link.',
    subject: 'A note from our founder',
    preheader: 'Ten years ago we opened a small shop. A few words of thanks.',
    html: page({
      accent: '#e5e7eb',
      rows: [
        text('<p style="margin: 0;">Dear {{ first_name | default: "friend" }},</p>', '28px 32px 16px'),
        text(
          '<p style="margin: 0;">Ten years ago we opened a small shop with a few shelves of knitwear. Today we are a team of twelve, and it is thanks to customers like you.</p>',
        ),
        text(
          '<p style="margin: 0;">To celebrate, we wrote down how it all began. <a href="https://shop.example.com/ten-years" style="color: #1d4ed8;">Read our story</a>, if you have a moment.</p>',
        ),
        text('<p style="margin: 0;">With thanks,<br>Anna, founder</p>', '0 32px 28px'),
      ].join('\n'),
    }),
  },
];

/** A starter made from a source (content-source.ts): MJML, or the visual builder's blocks; compiled when used. */
export interface SourceStarter extends Omit<StarterTemplate, 'html'> {
  source: ContentSource;
}

const MJML_NEWSLETTER = `<mjml>
  <mj-head>
    <mj-attributes>
      <mj-all font-family="-apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif" />
      <mj-text font-size="16px" line-height="24px" color="#1f2937" />
    </mj-attributes>
  </mj-head>
  <mj-body background-color="#f3f4f6" width="600px">
    <mj-section background-color="#0f766e" padding="28px 24px">
      <mj-column>
        <mj-text font-size="26px" line-height="32px" font-weight="bold" color="#ffffff">This month at the shop</mj-text>
      </mj-column>
    </mj-section>
    <mj-section background-color="#ffffff" padding="16px 24px">
      <mj-column>
        <mj-text>Hello {{ first_name | default: "there" }},</mj-text>
        <mj-text>Two things we think you will like{% if city %}, in {{ city }} and elsewhere{% endif %}.</mj-text>
      </mj-column>
    </mj-section>
    <mj-section background-color="#ffffff" padding="0 24px 16px">
      <mj-column>
        <mj-image src="https://placehold.co/600x400/0f766e/ffffff/png?text=Coats" alt="The new coats" padding="8px" />
        <mj-text font-weight="bold">The new coats</mj-text>
        <mj-text>Warm, light, and made to last.</mj-text>
      </mj-column>
      <mj-column>
        <mj-image src="https://placehold.co/600x400/115e59/ffffff/png?text=Workshop" alt="A knitting workshop" padding="8px" />
        <mj-text font-weight="bold">A knitting workshop</mj-text>
        <mj-text>Saturday morning, in the shop.</mj-text>
      </mj-column>
    </mj-section>
    <mj-section background-color="#ffffff" padding="0 24px 24px">
      <mj-column>
        <mj-button href="https://shop.example.com/news" background-color="#0f766e" color="#ffffff" font-weight="bold" border-radius="6px" align="left">Read the news</mj-button>
      </mj-column>
    </mj-section>
    <mj-section background-color="#ffffff" border-top="1px solid #e5e7eb" padding="12px 24px 20px">
      <mj-column>
        <mj-text font-size="12px" line-height="18px" color="#6b7280">You receive this email because you subscribed to our news. <a href="{{ unsubscribe_url }}" style="color: #6b7280;">Unsubscribe</a></mj-text>
      </mj-column>
    </mj-section>
  </mj-body>
</mjml>
`;

/** The starters made from a source: an MJML newsletter, and a message built with blocks. */
export const SOURCE_STARTERS: readonly SourceStarter[] = [
  {
    id: 'mjml-newsletter',
    name: 'MJML newsletter',
    description: 'Written in MJML: two stories side by side on a computer, one under the other on a phone.',
    subject: 'This month at the shop, {{ first_name | default: "reader" }}',
    preheader: 'New coats and a knitting workshop: two things we think you will like.',
    source: { format: 'mjml', mjml: MJML_NEWSLETTER },
  },
  {
    id: 'blocks',
    name: 'Built with blocks',
    description: 'Made in the visual builder: a section, a text, a button and the footer, to arrange as you like.',
    subject: 'Our autumn collection is here, {{ first_name | default: "there" }}',
    preheader: 'Coats, knits and boots for the colder days, with free returns.',
    source: { format: 'builder', design: starterDesign((n) => `starter-${n}`) },
  },
];
