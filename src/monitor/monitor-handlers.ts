/** Raw observations from the operating system, before settling. */
export interface MonitorHandlers {
  /** Something happened to the file at this workspace-relative path. */
  file(path: string): void;
  /** A directory vanished: every file known under it is gone too. */
  dirGone(path: string): void;
  /**
   * A directory appeared, and every directory below it is watched now.
   * Files moved into it before its watch was in place are never reported,
   * so its content is scanned.
   */
  dirAdded(path: string): void;
  /** Events may have been lost (a kernel queue overflow): a reconcile scan should follow. */
  error(message: string): void;
}
