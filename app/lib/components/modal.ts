/**
 * Keeps a <dialog> shown as a modal while `open` holds, and closed otherwise: used as
 * `{@attach modalWhile(open)}`, so the dialogs of the app open and close the same way (the
 * dialog's own close, by Escape, is reported through its `close` event).
 */
export function modalWhile(open: boolean) {
  return (dialog: HTMLDialogElement) => {
    if (open && !dialog.open) dialog.showModal();
    if (!open && dialog.open) dialog.close();
  };
}
