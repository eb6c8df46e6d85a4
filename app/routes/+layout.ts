// A static single-page app: everything renders in the browser, from local data when offline.
export const ssr = false;
export const prerender = false;
